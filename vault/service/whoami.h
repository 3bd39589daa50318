/* WhoAmI: tells callers which principal the server sees for them — the
 * first thing to check when mTLS or authorisation does not behave. */
#ifndef TV_SERVICE_WHOAMI_H
#define TV_SERVICE_WHOAMI_H

#include <protobuf-c/protobuf-c.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/service/call_iface.h"

/* What a WhoAmI handler reports beyond the call's own identity. */
typedef struct tv_whoami_options {
  /* Not NULL: the principal of a caller without a verified certificate on
   * a plaintext listener — the name the policy authorises it by
   * (CONFIG_DEV_PRINCIPAL for a vault in --dev), so WhoAmI answers what
   * the data methods use. NULL: such a caller has no principal (""). */
  const char *plaintext_principal;
} tv_whoami_options;

/* tv_whoami_fill fills |resp| (initialised here) for a caller with
 * identity |id| as tv_whoami answers it, without roles; the strings point
 * into |id|, |opts| and |request_id|. */
void tv_whoami_fill(Tokenvault__V1__WhoAmIResponse *resp, const tv_whoami_options *opts, const tv_identity *id,
                    const char *request_id);

/* tv_whoami is a tv_handler_fn; |impl| is a const tv_whoami_options * or
 * NULL (no options: the built-in handler of a server without a vault).
 * It always answers OK. Roles are left empty: a server without a vault
 * has no policy (the vault's WhoAmI is tv_vault_whoami, whoami_vault.h). */
void tv_whoami(void *impl, tv_call *call, const ProtobufCMessage *request);

#endif
