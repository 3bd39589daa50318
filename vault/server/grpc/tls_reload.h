/* Server certificates that a SIGHUP can replace without dropping a
 * connection: gRPC asks a fetcher callback for the certificate config on
 * every TLS handshake; the callback hands over a staged config once and
 * "unchanged" otherwise. Connections made before keep the certificate
 * they were made with. */
#ifndef TV_SERVER_GRPC_TLS_RELOAD_H
#define TV_SERVER_GRPC_TLS_RELOAD_H

#include <stddef.h>

#include <grpc/grpc_security.h>

#include "vault/server/grpc/tls_files.h"
#include "vault/util/status.h"

typedef struct tv_tls_reloader tv_tls_reloader;

/* tv_tls_reloader_new checks |files| (the key matches the certificate,
 * the CA parses) and stages them as the first config into |*out|.
 * Returns TV_OK, TV_E_SERVER_CONFIG with a sentence in |out_err|, or
 * TV_E_NO_MEMORY. gRPC copies the PEM text: |files| may be wiped after. */
tv_status tv_tls_reloader_new(tv_tls_reloader **out, const tv_tls_files *files, char *out_err, size_t out_err_len);

/* tv_tls_reloader_credentials returns new server credentials (mTLS,
 * client certificate required and verified) fed by |r|; the caller owns
 * them. NULL if gRPC refuses. |r| must outlive the server. */
grpc_server_credentials *tv_tls_reloader_credentials(tv_tls_reloader *r);

/* tv_tls_reloader_update checks |files| as _new does and stages them for
 * the next handshake. Not TV_OK: nothing changes, the sentence says why. */
tv_status tv_tls_reloader_update(tv_tls_reloader *r, const tv_tls_files *files, char *out_err, size_t out_err_len);

/* tv_tls_reloader_free frees |r| (and a config never handed over);
 * accepts NULL. Only after the server has stopped. */
void tv_tls_reloader_free(tv_tls_reloader *r);

#endif
