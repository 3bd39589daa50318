#include "vault/server/http/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "vault/server/common/admission.h"
#include "vault/server/common/request_decode.h"
#include "vault/server/http/http_call.h"
#include "vault/server/http/json_codec.h"
#include "vault/server/http/ndjson_stream.h"
#include "vault/server/http/problem.h"
#include "vault/server/http/routes.h"
#include "vault/server/http/tls_creds.h"
#include "vault/server/http/tls_peer.h"
#include "vault/service/whoami.h"

struct tv_http_server {
  struct MHD_Daemon *daemon;
  tv_service service;
  tv_admission *admission; /* shared with the gRPC port; NULL: none */
  atomic_int stopping;
  int port;
  int tls; /* 1: HTTPS with client certificates; every request needs one */
  tv_http_tls *tls_creds; /* what new connections get (SIGHUP replaces it) */
};

/* What a TLS connection's client certificate says, worked out at its
 * first request: the certificate cannot change within a session
 * (libmicrohttpd never renegotiates). */
typedef struct tls_peer {
  int checked;
  int verified; /* 0: no certificate or it does not verify (why says) */
  tv_http_creds *creds; /* the credentials its session was made with */
  tv_identity identity;
  char why[160];
} tls_peer;

/* ---- answers ---- */

/* Sends |text| (freed by the library) with an optional extra header. */
static enum MHD_Result queue_text_header(struct MHD_Connection *conn, unsigned int http, char *text, size_t len,
                                         int is_problem, const char *header, const char *value) {
  static char empty_object[] = "{}";
  struct MHD_Response *r =
      text != NULL ? MHD_create_response_from_buffer_with_free_callback(len, text, tv_json_text_free)
                   : MHD_create_response_from_buffer(2, empty_object, MHD_RESPMEM_PERSISTENT);
  if (r == NULL) {
    tv_json_text_free(text);
    return MHD_NO;
  }
  (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                is_problem ? TV_PROBLEM_CONTENT_TYPE : "application/json");
  (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store"); /* answers carry values */
  if (header != NULL) {
    (void)MHD_add_response_header(r, header, value);
  }
  enum MHD_Result ret = MHD_queue_response(conn, http, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned int http, char *text, size_t len,
                                  int is_problem, const char *allow) {
  return queue_text_header(conn, http, text, len, is_problem, allow != NULL ? MHD_HTTP_HEADER_ALLOW : NULL, allow);
}

static void report_refusal(tv_http_server *s, struct MHD_Connection *conn, const tv_http_route *route, tv_code code);

/* A refusal by the transport itself, with an HTTP status of its own when
 * the canonical code has none (404 path, 405, 415, 505). A refusal of a
 * known path is reported to the service (counted and audited). */
static enum MHD_Result queue_refusal(tv_http_server *s, struct MHD_Connection *conn, const tv_http_route *route,
                                     unsigned int http, tv_code code, const char *name, const char *sentence,
                                     const char *allow) {
  char details[256];
  snprintf(details, sizeof details, "%s: %s", name, sentence);
  char *text = NULL;
  size_t len = 0;
  if (tv_problem_encode_as(http, code, details, &text, &len) != TV_OK) {
    return MHD_NO;
  }
  if (route != NULL) {
    report_refusal(s, conn, route, code);
  }
  return queue_text(conn, http, text, len, 1, allow);
}

static void report_end(tv_http_server *s, const tv_http_call *call) {
  if (s->service.on_call_end == NULL) {
    return;
  }
  tv_call_end end = {.code = call->finished ? (int)call->code : TV_CODE_CANCELLED,
                     .handled = call->handled,
                     .admission_refused = call->admission_refused};
  tv_http_exchange_end(&call->ex, &end);
  s->service.on_call_end(s->service.on_call_end_ctx, &end);
}

/* Hands the call's answer to the library (which frees it when sent). */
static enum MHD_Result queue_call_answer(tv_http_server *s, struct MHD_Connection *conn, tv_http_call *call) {
  report_end(s, call);
  char *text = call->answer;
  call->answer = NULL;
  /* Server busy: when to come back (RFC 9110), as the problem says. */
  return queue_text_header(conn, call->http_status, text, call->answer_len, call->answer_is_problem,
                           call->admission_refused ? MHD_HTTP_HEADER_RETRY_AFTER : NULL,
                           TV_HTTP_BUSY_RETRY_AFTER_S);
}

/* Reserves the decoded call's items and body bytes in the admission
 * budget shared with the gRPC port; refused: 429 SERVER_BUSY, "server
 * busy: N items in flight, limit M; retry with backoff". JSON has no
 * cheap item count before parsing, so HTTP calls are admitted after their
 * body is decoded (bounded: one body per connection) and before any
 * handler work. */
static int admit(tv_http_server *s, tv_http_call *call) {
  if (s->admission == NULL || tv_admission_exempt(call->ex.method->id)) {
    return 1;
  }
  size_t items = tv_request_count_items(call->request.msg);
  items = items > 0 ? items : 1;
  char err[TV_ERROR_TEXT_BYTES_MAX];
  tv_status st = tv_admission_enter(s->admission, items, call->body_len, 0, err, sizeof err);
  if (st != TV_OK) {
    call->admission_refused = 1;
    tv_http_call_answer_problem(call, st, err);
    return 0;
  }
  call->admitted_items = items;
  call->admitted_bytes = call->body_len;
  return 1;
}

/* ---- health ---- */

static enum MHD_Result serve_health(tv_http_server *s, struct MHD_Connection *conn) {
  tv_status why = atomic_load(&s->stopping) ? TV_E_SERVER_SHUTTING_DOWN
                  : s->service.readiness != NULL ? s->service.readiness(s->service.readiness_ctx)
                                                 : TV_OK;
  if (why != TV_OK) {
    unsigned int http = 0;
    char *text = NULL;
    size_t len = 0;
    if (tv_problem_encode_status(why, NULL, &http, &text, &len) != TV_OK) {
      return MHD_NO;
    }
    return queue_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text, len, 1, NULL);
  }
  static char serving[] = "{\"status\":\"SERVING\"}";
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(serving), serving, MHD_RESPMEM_PERSISTENT);
  if (r == NULL) {
    return MHD_NO;
  }
  (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

/* ---- requests ---- */

static void peer_text(struct MHD_Connection *conn, char *out, size_t out_len) {
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  snprintf(out, out_len, "unknown");
  if (info == NULL || info->client_addr == NULL) {
    return;
  }
  char host[INET6_ADDRSTRLEN];
  const struct sockaddr *sa = info->client_addr;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    snprintf(out, out_len, "ipv4:%s:%u", host, ntohs(in->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    snprintf(out, out_len, "ipv6:[%s]:%u", host, ntohs(in6->sin6_port));
  }
}

static void report_refusal(tv_http_server *s, struct MHD_Connection *conn, const tv_http_route *route, tv_code code) {
  if (s->service.on_call_end == NULL || route->id == TV_METHOD_HEALTH_CHECK) {
    return;
  }
  char peer[64], tagged[80];
  peer_text(conn, peer, sizeof peer);
  snprintf(tagged, sizeof tagged, "http:%s", peer);
  tv_call_end end = {.method = route->id, .code = (int)code, .peer = tagged, .principal = ""};
  s->service.on_call_end(s->service.on_call_end_ctx, &end);
}

/* The connection's client certificate, verified and named once. */
static const tls_peer *connection_peer(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ctx = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  const union MHD_ConnectionInfo *tls = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  tls_peer *peer = ctx != NULL ? ctx->socket_context : NULL;
  if (peer == NULL || tls == NULL || tls->tls_session == NULL) {
    return NULL;
  }
  if (!peer->checked) {
    peer->verified = tv_http_tls_identity((gnutls_session_t)tls->tls_session, &peer->identity, peer->why,
                                          sizeof peer->why);
    peer->checked = 1;
  }
  return peer;
}

/* A TLS connection's tls_peer lives as long as the connection. Its
 * session exists but has not shaken hands yet: it gets the credentials
 * current now (tls_creds.h), so a SIGHUP's certificate and client CA
 * apply to every connection accepted after it. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode what) {
  tv_http_server *s = cls;
  if (!s->tls) {
    return;
  }
  if (what == MHD_CONNECTION_NOTIFY_STARTED) {
    tls_peer *peer = calloc(1, sizeof(tls_peer)); /* NULL: its requests are refused */
    const union MHD_ConnectionInfo *tls = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (peer != NULL && (tls == NULL || tls->tls_session == NULL)) {
      free(peer); /* no session to give the current credentials: its requests are refused */
      peer = NULL;
    }
    if (peer != NULL) {
      peer->creds = tv_http_tls_acquire(s->tls_creds);
      (void)gnutls_credentials_set((gnutls_session_t)tls->tls_session, GNUTLS_CRD_CERTIFICATE,
                                   tv_http_creds_gnutls(peer->creds));
    }
    *socket_context = peer;
  } else if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
    tls_peer *peer = *socket_context;
    if (peer != NULL) {
      tv_http_creds_release(peer->creds);
      free(peer);
    }
    *socket_context = NULL;
  }
}

/* |media| (application/json), with or without parameters (charset=utf-8). */
static int content_type_is(struct MHD_Connection *conn, const char *media) {
  const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  size_t len = strlen(media);
  if (ct == NULL || strncasecmp(ct, media, len) != 0) {
    return 0;
  }
  char next = ct[len];
  return next == '\0' || next == ';' || next == ' ';
}

static uint64_t content_length(struct MHD_Connection *conn) {
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  return cl != NULL ? strtoull(cl, NULL, 10) : 0;
}

/* An NDJSON stream (ndjson_stream.h): its own media type and no length
 * limit up front (lines are limited as they arrive). */
static enum MHD_Result start_stream(tv_http_server *s, struct MHD_Connection *conn, const tv_http_route *route,
                                    const tv_identity *identity, void **con_cls) {
  if (!content_type_is(conn, TV_NDJSON_CONTENT_TYPE)) {
    return queue_refusal(s, conn, route, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, TV_CODE_INVALID_ARGUMENT,
                         "HTTP_CONTENT_TYPE", "the request body must be Content-Type: application/x-ndjson", NULL);
  }
  if (atomic_load(&s->stopping)) {
    return queue_refusal(s, conn, route, MHD_HTTP_SERVICE_UNAVAILABLE, TV_CODE_UNAVAILABLE,
                         "SERVER_SHUTTING_DOWN", "the server is shutting down", NULL);
  }
  char peer[64];
  peer_text(conn, peer, sizeof peer);
  tv_ndjson_stream *stream = NULL;
  tv_status st = tv_ndjson_stream_new(&stream, route, &s->service, &s->stopping, s->admission, peer, identity);
  if (st != TV_OK) {
    return queue_refusal(s, conn, route, MHD_HTTP_SERVICE_UNAVAILABLE, TV_CODE_UNAVAILABLE, tv_status_name(st),
                         "the server cannot keep a stream's body now (temporary directory)", NULL);
  }
  *con_cls = stream;
  return MHD_YES;
}

/* The first call for a request: only its headers are known. Refusals that
 * need no body are answered here, before any of it is read. */
static enum MHD_Result on_headers(tv_http_server *s, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, void **con_cls) {
  if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0) {
    return queue_refusal(s, conn, tv_http_route_find(url), MHD_HTTP_HTTP_VERSION_NOT_SUPPORTED,
                         TV_CODE_INVALID_ARGUMENT, "HTTP_VERSION",
                         "the HTTP API speaks HTTP/1.1 only", NULL);
  }
  const tv_identity *identity = NULL;
  if (s->tls) {
    const tls_peer *peer = connection_peer(conn);
    if (peer == NULL || !peer->verified) {
      return queue_refusal(s, conn, tv_http_route_find(url), MHD_HTTP_UNAUTHORIZED, TV_CODE_UNAUTHENTICATED,
                           "CLIENT_CERTIFICATE", peer != NULL ? peer->why : "the TLS session is not available",
                           NULL);
    }
    identity = &peer->identity;
  }
  const tv_http_route *route = tv_http_route_find(url);
  if (route == NULL) {
    return queue_refusal(s, conn, NULL, MHD_HTTP_NOT_FOUND, TV_CODE_NOT_FOUND, "HTTP_NOT_FOUND",
                         "no such path (the paths are in proto/openapi/tokenvault.v1.yaml)", NULL);
  }
  if (strcmp(method, route->method) != 0) {
    char sentence[96];
    snprintf(sentence, sizeof sentence, "%s takes %s only", route->path, route->method);
    return queue_refusal(s, conn, route, MHD_HTTP_METHOD_NOT_ALLOWED, TV_CODE_INVALID_ARGUMENT, "HTTP_METHOD",
                         sentence, route->method);
  }
  if (route->id == TV_METHOD_HEALTH_CHECK) {
    return serve_health(s, conn);
  }
  if (tv_ndjson_route(route)) {
    return start_stream(s, conn, route, identity, con_cls);
  }
  if (!content_type_is(conn, "application/json")) {
    return queue_refusal(s, conn, route, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, TV_CODE_INVALID_ARGUMENT,
                         "HTTP_CONTENT_TYPE",
                         "the request body must be Content-Type: application/json", NULL);
  }
  if (content_length(conn) > TV_HTTP_BODY_BYTES_MAX) {
    return queue_refusal(s, conn, route, MHD_HTTP_CONTENT_TOO_LARGE, TV_CODE_RESOURCE_EXHAUSTED,
                         "SERVER_REQUEST_TOO_LARGE",
                         "the request body is over the limit of 1048576 bytes", NULL);
  }
  char peer[64];
  peer_text(conn, peer, sizeof peer);
  tv_http_call *call = tv_http_call_new(route, &s->stopping, peer);
  if (call == NULL) {
    return MHD_NO;
  }
  if (identity != NULL) {
    call->ex.identity = *identity;
  }
  *con_cls = call;
  return MHD_YES;
}

/* The whole body is in: decode, run the handler, answer. */
static enum MHD_Result on_body(tv_http_server *s, struct MHD_Connection *conn, tv_http_call *call) {
  char err[TV_ERROR_TEXT_BYTES_MAX];
  if (call->body_too_large) {
    tv_http_call_answer_problem(call, TV_E_SERVER_REQUEST_TOO_LARGE, "the request body is over the limit of "
                                                                     "1048576 bytes");
    return queue_call_answer(s, conn, call);
  }
  if (atomic_load(&s->stopping)) {
    tv_http_call_answer_problem(call, TV_E_SERVER_SHUTTING_DOWN, NULL);
    return queue_call_answer(s, conn, call);
  }
  tv_status st = tv_json_request_decode(&call->request, call->ex.method, call->body, call->body_len, err, sizeof err);
  if (st != TV_OK) {
    tv_http_call_answer_problem(call, st, err);
    return queue_call_answer(s, conn, call);
  }
  if (!admit(s, call)) {
    return queue_call_answer(s, conn, call);
  }
  tv_handler handler = s->service.handlers[call->ex.method->id];
  if (handler.fn == NULL && call->ex.method->id == TV_METHOD_WHO_AM_I) {
    handler = (tv_handler){tv_whoami, NULL}; /* a server without a vault */
  }
  if (handler.fn == NULL) {
    tv_http_call_answer_problem(call, TV_E_SERVER_UNIMPLEMENTED, "not implemented yet: engine not wired");
    return queue_call_answer(s, conn, call);
  }
  tv_http_call_run(call, &handler);
  return queue_call_answer(s, conn, call);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  tv_http_server *s = cls;
  tv_http_call *call = *con_cls;
  if (call == NULL) {
    return on_headers(s, conn, url, method, version, con_cls);
  }
  if (tv_ndjson_stream_of(*con_cls) != NULL) {
    return tv_ndjson_stream_on_request(tv_ndjson_stream_of(*con_cls), conn, upload_data, upload_data_size);
  }
  if (*upload_data_size > 0) {
    tv_http_call_body_append(call, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (call->finished) {
    return MHD_YES; /* answered already */
  }
  return on_body(s, conn, call);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
  (void)conn, (void)why;
  tv_http_server *s = cls;
  if (tv_ndjson_stream_of(*con_cls) != NULL) {
    tv_ndjson_stream_free(tv_ndjson_stream_of(*con_cls));
    return;
  }
  tv_http_call *call = *con_cls;
  if (call != NULL && (call->admitted_items > 0 || call->admitted_bytes > 0)) {
    tv_admission_leave(s->admission, call->admitted_items, call->admitted_bytes); /* answer sent or dropped */
  }
  tv_http_call_free(call);
  *con_cls = NULL;
}

/* ---- lifecycle ---- */

/* "host:port" or "[v6]:port", numeric hosts or localhost only: start-up
 * never waits on DNS and a name cannot resolve to a public interface. */
static tv_status resolve_listen(const char *listen, struct sockaddr_storage *out, int *out_v6, char *err,
                                size_t err_len) {
  char host[64];
  const char *start = listen[0] == '[' ? listen + 1 : listen;
  const char *end = listen[0] == '[' ? strchr(start, ']') : strrchr(listen, ':');
  const char *port = end == NULL ? NULL : listen[0] == '[' ? (end[1] == ':' ? end + 2 : NULL) : end + 1;
  size_t len = end != NULL ? (size_t)(end - start) : 0;
  size_t digits = port != NULL ? strspn(port, "0123456789") : 0;
  if (port == NULL || len == 0 || len >= sizeof host || digits == 0 || digits > 5 || port[digits] != '\0' ||
      atoi(port) > 65535) {
    snprintf(err, err_len, "http.listen %s is not host:port or [v6]:port with a port from 0 to 65535", listen);
    return TV_E_SERVER_CONFIG;
  }
  memcpy(host, start, len);
  host[len] = '\0';
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV | (strcmp(host, "localhost") != 0 ? AI_NUMERICHOST : 0)};
  struct addrinfo *ai = NULL;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0) {
    snprintf(err, err_len, "http.listen %s: %s", listen, gai_strerror(gai));
    return TV_E_SERVER_CONFIG;
  }
  memcpy(out, ai->ai_addr, ai->ai_addrlen);
  *out_v6 = ai->ai_family == AF_INET6;
  freeaddrinfo(ai);
  return TV_OK;
}

tv_status tv_http_server_start(tv_http_server **out, const tv_http_server_config *config, const tv_service *service,
                               char *out_err, size_t out_err_len) {
  TV_ENSURE(out != NULL && config != NULL && config->listen != NULL && service != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(config->tls_cert_pem == NULL || (config->tls_key_pem != NULL && config->tls_ca_pem != NULL),
            TV_E_INVALID_ARGUMENT);
  *out = NULL;
  struct sockaddr_storage addr;
  int v6 = 0;
  TV_TRY(resolve_listen(config->listen, &addr, &v6, out_err, out_err_len));
  tv_http_server *s = calloc(1, sizeof *s);
  if (s == NULL) {
    return TV_E_NO_MEMORY;
  }
  s->service = *service;
  s->admission = config->admission;
  atomic_init(&s->stopping, 0);
  s->tls = config->tls_cert_pem != NULL;
  if (s->tls) {
    tv_status st = tv_http_tls_new(&s->tls_creds, config->tls_cert_pem, config->tls_key_pem, config->tls_ca_pem,
                                   out_err, out_err_len);
    if (st != TV_OK) {
      free(s);
      return st;
    }
  }
  tv_json_use_wiping_allocator();
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                       (v6 ? MHD_USE_IPv6 : 0) | (s->tls ? MHD_USE_TLS : 0);
  struct MHD_OptionItem tls_options[] = {
      /* GnuTLS copies the PEMs into its credentials here: the caller wipes
       * its key once this returns. The trust list makes libmicrohttpd ask
       * for a client certificate; tls_peer.c verifies it. */
      {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)config->tls_cert_pem},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)config->tls_key_pem},
      {MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)(uintptr_t)config->tls_ca_pem},
      {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TV_HTTP_TLS_PRIORITIES},
      {MHD_OPTION_END, 0, NULL}};
  static struct MHD_OptionItem no_options[] = {{MHD_OPTION_END, 0, NULL}};
  s->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)TV_HTTP_CONNECTIONS_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      (unsigned int)TV_HTTP_CONNECTIONS_PER_IP_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned int)TV_HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)TV_HTTP_CONNECTION_MEMORY_BYTES, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_ARRAY, s->tls ? tls_options : no_options,
      MHD_OPTION_END);
  if (s->daemon == NULL) {
    snprintf(out_err, out_err_len, "cannot serve HTTP%s on %s (address in use or not local%s?)", s->tls ? "S" : "",
             config->listen, s->tls ? ", or a certificate, key or client CA GnuTLS cannot read" : "");
    tv_http_tls_free(s->tls_creds);
    free(s);
    return TV_E_SERVER_CONFIG;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info != NULL ? info->port : -1;
  *out = s;
  return TV_OK;
}

int tv_http_server_port(const tv_http_server *s) { return s->port; }

tv_status tv_http_server_reload_tls(tv_http_server *s, const char *cert_pem, const char *key_pem,
                                    const char *ca_pem, char *out_err, size_t out_err_len) {
  TV_ENSURE(s != NULL && s->tls, TV_E_INVALID_ARGUMENT);
  return tv_http_tls_update(s->tls_creds, cert_pem, key_pem, ca_pem, out_err, out_err_len);
}

void tv_http_server_stop(tv_http_server *s) {
  if (s == NULL) {
    return;
  }
  atomic_store(&s->stopping, 1);
  MHD_stop_daemon(s->daemon); /* joins the connection threads: handlers in progress finish first */
  tv_http_tls_free(s->tls_creds);
  free(s);
}
