/* The one mapping from the vault's tv_status to the code a call is
 * answered with. The codes are the canonical RPC codes (google.rpc.Code,
 * the numbers gRPC uses): each transport maps them to its own (the gRPC
 * transport 1:1, vault/server/grpc/grpc_status.h; an HTTP transport to HTTP
 * statuses). The audit log and the metrics record them by these numbers
 * and names. */
#ifndef TV_SERVICE_STATUS_MAP_H
#define TV_SERVICE_STATUS_MAP_H

#include "vault/util/status.h"

/* Canonical codes: values fixed (google.rpc.Code), never renumbered. */
typedef enum tv_code {
  TV_CODE_OK = 0,
  TV_CODE_CANCELLED = 1,
  TV_CODE_UNKNOWN = 2,
  TV_CODE_INVALID_ARGUMENT = 3,
  TV_CODE_DEADLINE_EXCEEDED = 4,
  TV_CODE_NOT_FOUND = 5,
  TV_CODE_ALREADY_EXISTS = 6,
  TV_CODE_PERMISSION_DENIED = 7,
  TV_CODE_RESOURCE_EXHAUSTED = 8,
  TV_CODE_FAILED_PRECONDITION = 9,
  TV_CODE_ABORTED = 10,
  TV_CODE_OUT_OF_RANGE = 11,
  TV_CODE_UNIMPLEMENTED = 12,
  TV_CODE_INTERNAL = 13,
  TV_CODE_UNAVAILABLE = 14,
  TV_CODE_DATA_LOSS = 15,
  TV_CODE_UNAUTHENTICATED = 16,
} tv_code;

/* Number of canonical codes (TV_CODE_OK .. TV_CODE_UNAUTHENTICATED). */
#define TV_CODE_COUNT 17

/* tv_status_to_code returns the code a call fails with when its outcome
 * is |status|. TV_OK maps to TV_CODE_OK; codes this function does not know
 * map by their module's range, and INTERNAL as a last resort (never OK). */
tv_code tv_status_to_code(tv_status status);

/* tv_code_name returns the name of canonical code |code|
 * ("INVALID_ARGUMENT"), or "UNKNOWN" for a code that is not one. */
const char *tv_code_name(int code);

#endif
