/* One RPC in progress, as handlers see it. A handler receives the call and
 * its decoded request on a worker thread and must end it exactly once with
 * tv_call_finish or tv_call_finish_grpc — right away or later, from any
 * thread (e.g. the storage writer once data is durable). Server-streaming
 * handlers may first send messages with tv_call_send, one at a time. */
#ifndef TV_SERVER_CALL_H
#define TV_SERVER_CALL_H

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

#include "vault/server/grpc/identity.h"
#include "vault/service/methods.h"
#include "vault/util/status.h"

typedef struct tv_call tv_call;

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
 * for none) and status OK; otherwise the gRPC code from tv_status_to_grpc
 * and details "NAME: |detail|" (or the status message when |detail| is
 * NULL). |detail| must never contain a value. Only the first finish of a
 * call counts; later ones are ignored. The call must not be used after. */
void tv_call_finish(tv_call *call, tv_status status, const char *detail, const ProtobufCMessage *response);

/* tv_call_finish_grpc is tv_call_finish with an explicit gRPC code. */
void tv_call_finish_grpc(tv_call *call, grpc_status_code code, const char *detail,
                         const ProtobufCMessage *response);

/* Called exactly once per tv_call_send that returned TV_OK: when the
 * message was written (|success| = 1) or the call failed (|success| = 0),
 * also if the call was finished meanwhile (free the sender's state here).
 * Runs on a polling thread: keep it short, never block. */
typedef void (*tv_sent_fn)(tv_call *call, int success, void *arg);

/* tv_call_send streams |msg| to the client. Only one send may be in flight:
 * wait for |on_sent| (may be NULL) before the next. Returns TV_OK,
 * TV_E_SERVER_REQUEST_TOO_LARGE if |msg| exceeds TV_RESPONSE_BYTES_MAX,
 * TV_E_NO_MEMORY, or TV_E_INTERNAL if the call already finished. */
tv_status tv_call_send(tv_call *call, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg);

/* Called once when the call ends for any reason (on a polling thread). */
typedef void (*tv_close_fn)(tv_call *call, void *arg);

/* tv_call_on_close registers |fn(call, arg)| for the end of the call.
 * Returns 0, or 1 if the call already ended (|fn| will not run: the caller
 * handles the end itself). */
int tv_call_on_close(tv_call *call, tv_close_fn fn, void *arg);

#endif
