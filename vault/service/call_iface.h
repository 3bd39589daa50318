/* One call as the service sees it, whatever transport carries it: who is
 * calling and from where, which method, the deadline, how to answer and
 * how to stream. A transport (vault/server/grpc/ today) embeds a tv_call
 * as the FIRST member of its own call object, points |ops| at its
 * functions and hands &call->base to the handlers (service.h); the service
 * only ever uses the functions below. No transport header is needed here.
 *
 * A handler receives the call and its decoded request on a worker thread
 * and must end it exactly once with tv_call_finish or tv_call_finish_code —
 * right away or later, from any thread (e.g. the storage writer once data
 * is durable). Server-streaming handlers may first send messages with
 * tv_call_send, one at a time. */
#ifndef TV_SERVICE_CALL_IFACE_H
#define TV_SERVICE_CALL_IFACE_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "vault/service/identity.h"
#include "vault/service/methods.h"
#include "vault/service/status_map.h"
#include "vault/util/status.h"

typedef struct tv_call tv_call;

/* Called exactly once per tv_call_send that returned TV_OK: when the
 * message was written (|success| = 1) or the call failed (|success| = 0),
 * also if the call was finished meanwhile (free the sender's state here).
 * Runs on a transport thread: keep it short, never block. */
typedef void (*tv_sent_fn)(tv_call *call, int success, void *arg);

/* Called once when the call ends for any reason (on a transport thread). */
typedef void (*tv_close_fn)(tv_call *call, void *arg);

/* What a transport implements; each function gets the tv_call it embeds. */
typedef struct tv_call_ops {
  const tv_identity *(*identity)(const tv_call *call);
  const tv_method *(*method)(const tv_call *call);
  const char *(*peer)(const tv_call *call);
  int (*is_cancelled)(tv_call *call);
  int64_t (*deadline_ms)(const tv_call *call);
  /* Ends the call with |code| and |details| ("" or NULL: none) and, for
   * TV_CODE_OK, |response| (may be NULL). Only the first finish counts. */
  void (*finish)(tv_call *call, tv_code code, const char *details, const ProtobufCMessage *response);
  tv_status (*send)(tv_call *call, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg);
  int (*on_close)(tv_call *call, tv_close_fn fn, void *arg);
} tv_call_ops;

struct tv_call {
  const tv_call_ops *ops;
};

/* tv_call_identity returns the caller's identity, valid until the call is
 * finished. */
const tv_identity *tv_call_identity(const tv_call *call);

/* tv_call_method returns the method's table row (never NULL for calls given
 * to handlers). */
const tv_method *tv_call_method(const tv_call *call);

/* tv_call_peer returns the network peer ("ipv4:127.0.0.1:51234"), valid
 * until the call is finished. For audit and logs: never an identity. */
const char *tv_call_peer(const tv_call *call);

/* tv_call_is_cancelled returns 1 once the client cancelled, the deadline
 * passed or the connection dropped; a handler should stop work early. */
int tv_call_is_cancelled(tv_call *call);

/* tv_call_deadline_ms returns the milliseconds left before the client's
 * deadline (negative once passed; INT64_MAX without a deadline). */
int64_t tv_call_deadline_ms(const tv_call *call);

/* tv_call_finish ends the call: with TV_OK, sends |response| (may be NULL
 * for none) and code OK; otherwise the code from tv_status_to_code and
 * details "NAME: |detail|" (or the status message when |detail| is NULL).
 * |detail| must never contain a value. Only the first finish of a call
 * counts; later ones are ignored. The call must not be used after. */
void tv_call_finish(tv_call *call, tv_status status, const char *detail, const ProtobufCMessage *response);

/* tv_call_finish_code is tv_call_finish with an explicit code and details
 * used as they are. */
void tv_call_finish_code(tv_call *call, tv_code code, const char *detail, const ProtobufCMessage *response);

/* tv_call_send streams |msg| to the client. Only one send may be in flight:
 * wait for |on_sent| (may be NULL) before the next. Returns TV_OK,
 * TV_E_SERVER_REQUEST_TOO_LARGE if |msg| exceeds TV_RESPONSE_BYTES_MAX,
 * TV_E_NO_MEMORY, or TV_E_INTERNAL if the call already finished. */
tv_status tv_call_send(tv_call *call, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg);

/* tv_call_on_close registers |fn(call, arg)| for the end of the call.
 * Returns 0, or 1 if the call already ended (|fn| will not run: the caller
 * handles the end itself). */
int tv_call_on_close(tv_call *call, tv_close_fn fn, void *arg);

#endif
