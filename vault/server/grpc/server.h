/* tokenvaultd's gRPC server core on the C core API: one completion queue
 * polled by a few threads, every method of vault/service/methods.h
 * registered, a generic request answering UNIMPLEMENTED for the rest, and a
 * worker pool that runs handlers. */
#ifndef TV_SERVER_GRPC_SERVER_H
#define TV_SERVER_GRPC_SERVER_H

#include <stddef.h>

#include "vault/service/service.h"
#include "vault/server/grpc/tls_reload.h"
#include "vault/util/status.h"

typedef struct tv_server tv_server;

typedef struct tv_server_config {
  const char *listen;       /* "127.0.0.1:7443", "[::1]:0", "0.0.0.0:7443" */
  const char *tls_cert_pem; /* server certificate chain; NULL: plaintext */
  const char *tls_key_pem;  /* its private key */
  const char *tls_ca_pem;   /* CA that client certificates must chain to */
  /* Not NULL: mTLS with certificates from this reloader (SIGHUP can swap
   * them); the three PEM fields are then ignored. */
  tv_tls_reloader *tls_reloader;
  /* Bound on each connection's TLS/HTTP2 handshake; 0: the default
   * TV_HANDSHAKE_TIMEOUT_MS_DEFAULT (limits.h). */
  uint32_t handshake_timeout_ms;
  /* Admission control (admission.h); 0: derived from the machine. */
  uint64_t items_in_flight_max;
  uint64_t request_bytes_in_flight_max;
} tv_server_config;

/* tv_server_start calls grpc_init, binds |config->listen| and starts
 * serving |service| (copied; built-in Health and WhoAmI fill its empty
 * slots). With TLS files, clients must present a certificate that verifies
 * against the CA (mTLS, TLS 1.2 or later); without, the port is plaintext —
 * the caller decides whether that is allowed. Returns TV_OK and sets
 * |*out_server|; TV_E_SERVER_CONFIG (cannot listen, bad credentials) with
 * a sentence in |out_err|; TV_E_NO_MEMORY; TV_E_INTERNAL (threads). */
tv_status tv_server_start(tv_server **out_server, const tv_server_config *config, const tv_service *service,
                          char *out_err, size_t out_err_len);

/* tv_server_port returns the bound TCP port (useful with port 0). */
int tv_server_port(const tv_server *server);

/* tv_server_admission returns the server's admission budget, for another
 * transport of the same process to count its calls against (it must stop
 * before tv_server_stop). */
struct tv_admission *tv_server_admission(tv_server *server);

/* tv_server_stop stops accepting, tells health watchers NOT_SERVING, lets
 * in-flight calls finish for TV_SHUTDOWN_GRACE_MS, cancels the rest, then
 * frees everything and calls grpc_shutdown. Returns TV_OK, or TV_E_INTERNAL
 * if calls were still alive after the cancel wait (the server is then left
 * allocated rather than freed under their feet). */
tv_status tv_server_stop(tv_server *server);

#endif
