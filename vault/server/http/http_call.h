/* One HTTP request as the service sees it: a tv_call (call_iface.h) whose
 * answer is turned into JSON (or a problem) when the service finishes it.
 *
 * The transport runs the handler on the connection's own thread
 * (libmicrohttpd's thread-per-connection mode: never a polling thread) and
 * waits there until the service finishes the call — usually from the
 * audit writer, once the call's audit line is durable — so no answer
 * leaves before its audit line, exactly as over gRPC. */
#ifndef TV_SERVER_HTTP_HTTP_CALL_H
#define TV_SERVER_HTTP_HTTP_CALL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/server/common/request_decode.h"
#include "vault/server/http/http_exchange.h"
#include "vault/server/http/routes.h"
#include "vault/service/call_iface.h"
#include "vault/service/service.h"

typedef struct tv_http_call {
  tv_http_exchange ex; /* first: the service's view, the method and the caller */
  const tv_http_route *route;
  /* The request body, bounded by TV_HTTP_BODY_BYTES_MAX. */
  char *body;
  size_t body_len;
  size_t body_cap;
  int body_too_large;
  tv_request request;
  /* The answer, set once by the finish. */
  pthread_mutex_t lock;
  pthread_cond_t finished_cond;
  int finished;
  tv_code code;
  unsigned int http_status;
  char *answer; /* JSON; wiped when freed */
  size_t answer_len;
  int answer_is_problem;
  int handled;
  /* Admission (vault/server/common/admission.h): what this call reserved,
   * returned when its request ends; refused: answered 429 SERVER_BUSY. */
  uint64_t admitted_items, admitted_bytes;
  int admission_refused;
  /* A server-streaming method (ReadAudit): each message sent is appended
   * to |stream| ("{\"entries\":[" ...), bounded by TV_RESPONSE_BYTES_MAX,
   * and its on_sent runs on the connection thread (never inside the send,
   * so a sender that sends again from on_sent does not recurse). */
  char *stream;
  size_t stream_len;
  size_t stream_cap;
  tv_sent_fn pending_sent;
  void *pending_arg;
  int send_pending;
} tv_http_call;

/* tv_http_call_new returns a call for |route| from |peer_text|, or NULL. */
tv_http_call *tv_http_call_new(const tv_http_route *route, const atomic_int *stopping, const char *peer_text);

/* tv_http_call_run runs |handler| with the decoded request and returns once
 * the service finished the call (answer set). For a server-streaming
 * method the messages sent become {"entries":[...]}, the answer. */
void tv_http_call_run(tv_http_call *call, const tv_handler *handler);

/* tv_http_call_answer_problem sets a problem answer for a call refused by
 * the transport (the handler never ran). */
void tv_http_call_answer_problem(tv_http_call *call, tv_status status, const char *detail);

/* tv_http_call_body_append keeps |len| more body bytes, or marks the body
 * too large (the rest is discarded, memory stays bounded). */
void tv_http_call_body_append(tv_http_call *call, const char *data, size_t len);

/* tv_http_call_free wipes the body and the request and frees |call|
 * (and its answer if it was not handed over); accepts NULL. */
void tv_http_call_free(tv_http_call *call);

/* Largest request body: as a gRPC request message (TV_MESSAGE_BYTES_MAX);
 * a full 1,000-item batch of JSON strings is far below it. */
#define TV_HTTP_BODY_BYTES_MAX (1024 * 1024)

#endif
