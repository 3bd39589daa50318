/* WhoAmI: tells callers which principal the server sees for them — the
 * first thing to check when mTLS or authorisation does not behave. */
#ifndef TV_SERVER_WHOAMI_H
#define TV_SERVER_WHOAMI_H

#include <protobuf-c/protobuf-c.h>

#include "vault/server/call.h"

/* What a WhoAmI handler reports beyond the call's own identity. */
typedef struct tv_whoami_options {
  /* Not NULL: the principal of a caller without a verified certificate on
   * a plaintext listener — the name the policy authorises it by
   * (CONFIG_DEV_PRINCIPAL for a vault in --dev), so WhoAmI answers what
   * the data methods use. NULL: such a caller has no principal (""). */
  const char *plaintext_principal;
} tv_whoami_options;

/* tv_whoami is a tv_handler_fn; |impl| is a const tv_whoami_options * or
 * NULL (no options: the built-in handler of a server without a vault).
 * It always answers OK. Roles are left empty. */
void tv_whoami(void *impl, tv_call *call, const ProtobufCMessage *request);

#endif
