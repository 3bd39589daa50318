/* The methods the server core answers itself (Health, WhoAmI), and the
 * calls it refuses before any handler runs, as the vault serves them:
 * WhoAmI names the principal and roles the policy uses, and every such call is
 * counted in the metrics next to the ones svc_call counts. */
#ifndef TV_SERVICE_VAULT_CORE_H
#define TV_SERVICE_VAULT_CORE_H

#include "vault/service/service.h"
#include "vault/service/vault.h"

/* tv_vault_core_fill sets |service|'s WhoAmI handler (tv_vault_whoami:
 * audited, with roles; on a plaintext listener it reports
 * CONFIG_DEV_PRINCIPAL, unauthenticated) and its
 * on_call_end to tv_vault_core_call_end with |vault|, which must stay open
 * until the server has stopped. Health keeps the built-in handler. */
void tv_vault_core_fill(tv_service *service, tv_vault *vault);

/* tv_vault_core_counts says whether a call that ended as |end| is counted
 * by tv_vault_core_call_end: Health always, any other method (WhoAmI
 * included) only if its handler never ran (svc_call counts the rest). */
int tv_vault_core_counts(const tv_call_end *end);

/* tv_vault_core_call_end is a tv_call_end_fn over a tv_vault *: counts the
 * call in vault->metrics (nothing when metrics are off) if
 * tv_vault_core_counts says so. */
void tv_vault_core_call_end(void *vault, const tv_call_end *end);

#endif
