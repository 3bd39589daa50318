#include "vault/service/vault_core.h"

#include <stdint.h>

#include "vault/config/config.h"
#include "vault/service/methods.h"
#include "vault/service/metrics.h"
#include "vault/service/refusal_audit.h"
#include "vault/service/whoami_vault.h"

void tv_vault_core_fill(tv_service *service, tv_vault *vault) {
  /* Audited through svc_call (which counts it too), with roles. */
  service->handlers[TV_METHOD_WHO_AM_I] = (tv_handler){tv_vault_whoami, vault};
  service->on_call_end = tv_vault_core_call_end;
  service->on_call_end_ctx = vault;
}

int tv_vault_core_counts(const tv_call_end *end) {
  switch (end->method) {
    case TV_METHOD_HEALTH_CHECK:
    case TV_METHOD_HEALTH_WATCH: return 1;
    default: return !end->handled;
  }
}

/* A call refused before its handler never reached svc_call, which audits
 * every other call (WhoAmI included); Health reveals nothing and is polled
 * by probes, so it stays out of the audit log. */
static void audit_refusal(const tv_vault *v, const tv_call_end *end) {
  if (v->refusals == NULL || end->method >= TV_METHOD_COUNT || end->handled ||
      end->method == TV_METHOD_HEALTH_CHECK || end->method == TV_METHOD_HEALTH_WATCH) {
    return;
  }
  /* As svc_call names the caller: a plaintext listener's is dev:local. */
  const char *principal = end->authenticated ? end->principal : v->plaintext ? CONFIG_DEV_PRINCIPAL : "";
  (void)tv_refusal_audit_report(v->refusals, tv_method_get(end->method)->name, principal, end->peer,
                                end->code, end->latency_us);
}

void tv_vault_core_call_end(void *vault, const tv_call_end *end) {
  const tv_vault *v = vault;
  if (tv_vault_core_counts(end)) {
    tv_metrics_call_done(v->metrics, end->method, end->code, 0, end->latency_us);
  }
  if (end->admission_refused) {
    tv_metrics_admission_refused(v->metrics, end->method);
  }
  audit_refusal(v, end);
}
