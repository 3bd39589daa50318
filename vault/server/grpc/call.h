/* One RPC in progress on the gRPC transport. The service never sees this
 * type: handlers get the tv_call (vault/service/call_iface.h) embedded as
 * its first member, whose functions land here. The server core
 * (server.c, call_internal.h) uses these directly for the answers it gives
 * before or instead of a handler. */
#ifndef TV_SERVER_GRPC_CALL_H
#define TV_SERVER_GRPC_CALL_H

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

#include "vault/service/call_iface.h"
#include "vault/util/status.h"

typedef struct tv_grpc_call tv_grpc_call;

/* tv_grpc_call_is_cancelled: tv_call_is_cancelled for a gRPC call. */
int tv_grpc_call_is_cancelled(tv_grpc_call *call);

/* tv_grpc_call_deadline_ms: tv_call_deadline_ms for a gRPC call. */
int64_t tv_grpc_call_deadline_ms(const tv_grpc_call *call);

/* tv_grpc_call_finish ends the call with gRPC status |code| and |detail|
 * (NULL: none), sending |response| first if not NULL. Only the first
 * finish of a call counts; later ones are ignored. */
void tv_grpc_call_finish(tv_grpc_call *call, grpc_status_code code, const char *detail,
                         const ProtobufCMessage *response);

/* tv_grpc_call_send: tv_call_send for a gRPC call (|on_sent| gets the
 * embedded tv_call). */
tv_status tv_grpc_call_send(tv_grpc_call *call, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg);

/* tv_grpc_call_on_close: tv_call_on_close for a gRPC call. */
int tv_grpc_call_on_close(tv_grpc_call *call, tv_close_fn fn, void *arg);

#endif
