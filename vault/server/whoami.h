/* WhoAmI: tells callers which principal the server sees for them — the
 * first thing to check when mTLS or authorisation does not behave. */
#ifndef TV_SERVER_WHOAMI_H
#define TV_SERVER_WHOAMI_H

#include <protobuf-c/protobuf-c.h>

#include "vault/server/call.h"

/* tv_whoami is a tv_handler_fn; |impl| is unused. Roles are empty until
 * the authorisation policy is wired in (its adapter replaces this). */
void tv_whoami(void *impl, tv_call *call, const ProtobufCMessage *request);

#endif
