/* The one mapping from the vault's tv_status to gRPC status codes. */
#ifndef TV_SERVER_STATUS_MAP_H
#define TV_SERVER_STATUS_MAP_H

#include <grpc/status.h>

#include "vault/util/status.h"

/* tv_status_to_grpc returns the gRPC status code a call fails with when its
 * outcome is |status|. TV_OK maps to GRPC_STATUS_OK; codes this function
 * does not know map by their module's range, and INTERNAL as a last resort
 * (never OK). */
grpc_status_code tv_status_to_grpc(tv_status status);

/* tv_grpc_code_name returns the name of gRPC status |code|
 * ("INVALID_ARGUMENT"), or "UNKNOWN" for a code gRPC does not define. */
const char *tv_grpc_code_name(int code);

#endif
