/* The service's canonical codes as gRPC status codes: the same numbers
 * (both are google.rpc.Code), checked at compile time. */
#ifndef TV_SERVER_GRPC_GRPC_STATUS_H
#define TV_SERVER_GRPC_GRPC_STATUS_H

#include <grpc/status.h>

#include "vault/service/status_map.h"
#include "vault/util/status.h"

_Static_assert(TV_CODE_OK == (int)GRPC_STATUS_OK && TV_CODE_CANCELLED == (int)GRPC_STATUS_CANCELLED &&
                   TV_CODE_UNKNOWN == (int)GRPC_STATUS_UNKNOWN &&
                   TV_CODE_INVALID_ARGUMENT == (int)GRPC_STATUS_INVALID_ARGUMENT &&
                   TV_CODE_DEADLINE_EXCEEDED == (int)GRPC_STATUS_DEADLINE_EXCEEDED &&
                   TV_CODE_NOT_FOUND == (int)GRPC_STATUS_NOT_FOUND &&
                   TV_CODE_ALREADY_EXISTS == (int)GRPC_STATUS_ALREADY_EXISTS &&
                   TV_CODE_PERMISSION_DENIED == (int)GRPC_STATUS_PERMISSION_DENIED &&
                   TV_CODE_RESOURCE_EXHAUSTED == (int)GRPC_STATUS_RESOURCE_EXHAUSTED &&
                   TV_CODE_FAILED_PRECONDITION == (int)GRPC_STATUS_FAILED_PRECONDITION &&
                   TV_CODE_ABORTED == (int)GRPC_STATUS_ABORTED && TV_CODE_OUT_OF_RANGE == (int)GRPC_STATUS_OUT_OF_RANGE &&
                   TV_CODE_UNIMPLEMENTED == (int)GRPC_STATUS_UNIMPLEMENTED &&
                   TV_CODE_INTERNAL == (int)GRPC_STATUS_INTERNAL && TV_CODE_UNAVAILABLE == (int)GRPC_STATUS_UNAVAILABLE &&
                   TV_CODE_DATA_LOSS == (int)GRPC_STATUS_DATA_LOSS &&
                   TV_CODE_UNAUTHENTICATED == (int)GRPC_STATUS_UNAUTHENTICATED,
               "tv_code must equal grpc_status_code");

/* tv_code_to_grpc returns |code| as a gRPC status code (the same number). */
static inline grpc_status_code tv_code_to_grpc(tv_code code) { return (grpc_status_code)code; }

/* tv_status_to_grpc returns the gRPC status code a call fails with when its
 * outcome is |status| (tv_status_to_code, vault/service/status_map.h). */
static inline grpc_status_code tv_status_to_grpc(tv_status status) { return tv_code_to_grpc(tv_status_to_code(status)); }

/* tv_grpc_code_name returns the name of gRPC status |code|
 * ("INVALID_ARGUMENT"), or "UNKNOWN" for a code gRPC does not define. */
static inline const char *tv_grpc_code_name(int code) { return tv_code_name(code); }

#endif
