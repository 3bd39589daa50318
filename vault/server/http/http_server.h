/* tokenvaultd's HTTP/JSON transport: libmicrohttpd serving the paths of
 * routes.h over the same tv_service as the gRPC transport (the same
 * handlers, authorisation, limits and audit; vault/service/service.h).
 *
 * HTTPS with client certificates when the config gives the PEMs (as
 * tokenvaultd does whenever its gRPC port is mTLS): every request needs a
 * client certificate that verifies against the client CA — without one
 * the answer is 401 CLIENT_CERTIFICATE, whatever the path — and its
 * principal is named by the same rule as on gRPC
 * (vault/service/cert_principal.h). tv_http_server_reload_tls replaces
 * the certificate, key and client CA for connections accepted after it
 * (tls_creds.h; tokenvaultd calls it on SIGHUP). Plaintext otherwise, which
 * tokenvaultd allows only in --dev on loopback: callers are then the dev
 * principal, as on the plaintext gRPC port.
 *
 * Limits: request bodies up to TV_HTTP_BODY_BYTES_MAX (413 beyond),
 * Content-Type application/json (415 otherwise), HTTP/1.1 only (505),
 * TV_HTTP_CONNECTIONS_MAX connections at once and
 * TV_HTTP_CONNECTIONS_PER_IP_MAX from one address (more are closed), idle
 * connections closed after TV_HTTP_IDLE_TIMEOUT_S, request headers within
 * TV_HTTP_CONNECTION_MEMORY_BYTES (libmicrohttpd answers 431 beyond). */
#ifndef TV_SERVER_HTTP_HTTP_SERVER_H
#define TV_SERVER_HTTP_HTTP_SERVER_H

#include <stddef.h>

#include "vault/service/service.h"
#include "vault/util/status.h"

/* One thread per connection: a handler may wait for the HSM or the audit
 * fsync on it. 64 keeps threads and body buffers bounded (64 MiB of
 * bodies at most) and is plenty for CRM back ends that reuse connections. */
#define TV_HTTP_CONNECTIONS_MAX 64
/* One client address may hold at most half of them, so a client that
 * opens connections and idles (or a runaway pool) leaves the other half
 * to everyone else. */
#define TV_HTTP_CONNECTIONS_PER_IP_MAX 32
/* The Retry-After (seconds) of a 429 SERVER_BUSY: the budget frees as
 * calls in flight end, within about a second under load. */
#define TV_HTTP_BUSY_RETRY_AFTER_S "1"
/* A connection that sends nothing (slow or idle client) for this long is
 * closed, so it cannot hold a connection slot. */
#define TV_HTTP_IDLE_TIMEOUT_S 15
/* libmicrohttpd's per-connection buffer: bounds the request line and
 * headers (the body is copied out as it arrives). */
#define TV_HTTP_CONNECTION_MEMORY_BYTES (32 * 1024)

typedef struct tv_http_server tv_http_server;
struct tv_admission;

/* TLS 1.2 and 1.3 only, GnuTLS's default suites otherwise. */
#define TV_HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef struct tv_http_server_config {
  const char *listen; /* "127.0.0.1:8080", "[::1]:0"; port 0 picks one */
  /* NUL-terminated PEMs, all three or none (NULL: plaintext). Used only
   * during tv_http_server_start: the caller wipes the key afterwards. */
  const char *tls_cert_pem;
  const char *tls_key_pem;
  const char *tls_ca_pem; /* the client CA */
  /* The admission budget the data and key calls count against (shared
   * with the gRPC port: tv_server_admission); NULL: none. Must outlive
   * the server. Health and WhoAmI are exempt (tv_admission_exempt). */
  struct tv_admission *admission;
} tv_http_server_config;

/* tv_http_server_start binds |config->listen| (numeric host or localhost)
 * and serves |service| (copied; its handlers must outlive the server).
 * Returns TV_OK with |*out|; TV_E_SERVER_CONFIG with a sentence in
 * |out_err| (malformed address, cannot bind); TV_E_NO_MEMORY. */
tv_status tv_http_server_start(tv_http_server **out, const tv_http_server_config *config, const tv_service *service,
                               char *out_err, size_t out_err_len);

/* tv_http_server_port returns the bound TCP port. */
int tv_http_server_port(const tv_http_server *server);

/* tv_http_server_reload_tls makes the PEMs (as in the config) the
 * credentials of connections accepted from now on; open connections keep
 * theirs. Returns TV_OK; TV_E_SERVER_CONFIG with a sentence in |out_err|
 * if GnuTLS cannot use them (nothing changes); TV_E_INVALID_ARGUMENT on
 * a plaintext server. The caller may wipe the key once this returns. */
tv_status tv_http_server_reload_tls(tv_http_server *server, const char *cert_pem, const char *key_pem,
                                    const char *ca_pem, char *out_err, size_t out_err_len);

/* tv_http_server_stop stops accepting, lets requests in progress finish
 * (their handlers end with the audit writer), closes every connection and
 * frees |server|; accepts NULL. */
void tv_http_server_stop(tv_http_server *server);

#endif
