/* The HTTPS listener's certificate, key and client CA as GnuTLS
 * credentials that SIGHUP can replace without dropping a connection.
 * libmicrohttpd has no call to swap a running daemon's credentials, but it
 * sets up each connection's GnuTLS session before the handshake and tells
 * us (its connection-started notice, on which http_server.c puts the
 * current credentials on the session). So each new connection takes the
 * credentials current when it was accepted; open connections keep the
 * ones they were made with (a reference each) — the gRPC port's rule
 * (vault/server/grpc/tls_reload.h). */
#ifndef TV_SERVER_HTTP_TLS_CREDS_H
#define TV_SERVER_HTTP_TLS_CREDS_H

#include <stddef.h>

#include <gnutls/gnutls.h>

#include "vault/util/status.h"

typedef struct tv_http_creds tv_http_creds;
typedef struct tv_http_tls tv_http_tls;

/* tv_http_tls_new builds the first credentials from NUL-terminated PEMs
 * (the key must match the certificate; the client CA must hold at least
 * one certificate). Returns TV_OK, TV_E_SERVER_CONFIG with a sentence in
 * |out_err|, or TV_E_NO_MEMORY. GnuTLS copies the PEMs: the caller may
 * wipe its key at once. */
tv_status tv_http_tls_new(tv_http_tls **out, const char *cert_pem, const char *key_pem, const char *ca_pem,
                          char *out_err, size_t out_err_len);

/* tv_http_tls_update checks the PEMs as _new does and makes them the
 * credentials of new connections. Not TV_OK: nothing changes, the
 * sentence says why. */
tv_status tv_http_tls_update(tv_http_tls *t, const char *cert_pem, const char *key_pem, const char *ca_pem,
                             char *out_err, size_t out_err_len);

/* tv_http_tls_acquire returns the current credentials with a reference
 * for one connection (release it when the connection closes). */
tv_http_creds *tv_http_tls_acquire(tv_http_tls *t);

/* tv_http_creds_gnutls returns what gnutls_credentials_set takes. */
gnutls_certificate_credentials_t tv_http_creds_gnutls(const tv_http_creds *c);

/* tv_http_creds_release drops one reference; accepts NULL. */
void tv_http_creds_release(tv_http_creds *c);

/* tv_http_tls_free drops the current credentials' reference and frees
 * |t|; connections still holding theirs keep them alive. Accepts NULL. */
void tv_http_tls_free(tv_http_tls *t);

#endif
