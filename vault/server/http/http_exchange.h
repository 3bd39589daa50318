/* What every HTTP request the service sees carries, whatever the form of
 * its body (one JSON document: http_call.h; an NDJSON stream:
 * ndjson_stream.h): the tv_call head, the method, the caller and when it
 * came. Both embed it first, so one set of tv_call ops and one end
 * report serve both. */
#ifndef TV_SERVER_HTTP_HTTP_EXCHANGE_H
#define TV_SERVER_HTTP_HTTP_EXCHANGE_H

#include <stdatomic.h>
#include <stdint.h>

#include "vault/service/call_iface.h"
#include "vault/service/service.h"

typedef struct tv_http_exchange {
  tv_call base; /* first: the service's view */
  const tv_method *method;
  const atomic_int *stopping; /* the server's: 1 once it is stopping */
  tv_identity identity;
  char peer[80]; /* "http:ipv4:127.0.0.1:51234": audit names the transport */
  uint64_t start_us;
} tv_http_exchange;

/* tv_http_exchange_init fills |ex| for |method| from |peer_text|, now;
 * |identity| NULL is plaintext (--dev: the service names the caller
 * dev:local, as for a plaintext gRPC call). */
void tv_http_exchange_init(tv_http_exchange *ex, const tv_call_ops *ops, const tv_method *method,
                           const atomic_int *stopping, const char *peer_text, const tv_identity *identity);

/* tv_http_exchange_end fills the fields of |end| that come from |ex|
 * (method, latency, caller, peer); the caller sets code and the rest. */
void tv_http_exchange_end(const tv_http_exchange *ex, tv_call_end *end);

/* The tv_call ops every HTTP exchange answers the same way. */
const tv_identity *tv_http_exchange_identity(const tv_call *base);
const tv_method *tv_http_exchange_method(const tv_call *base);
const char *tv_http_exchange_peer(const tv_call *base);
int tv_http_exchange_is_cancelled(tv_call *base);
int64_t tv_http_exchange_deadline_ms(const tv_call *base);

#endif
