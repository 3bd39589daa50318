#include "vault/server/vault_core.h"

#include <stdint.h>

#include "vault/config/config.h"
#include "vault/server/methods.h"
#include "vault/server/metrics.h"
#include "vault/server/refusal_audit.h"
#include "vault/server/whoami.h"

/* The config allows a plaintext listener only on loopback and authorises
 * its callers as CONFIG_DEV_PRINCIPAL; WhoAmI must name the same. */
static const tv_whoami_options plaintext_whoami = {.plaintext_principal = CONFIG_DEV_PRINCIPAL};

void tv_vault_core_fill(tv_service *service, tv_vault *vault) {
  /* tv_whoami only reads its options; handlers take a void *. */
  void *opts = vault->plaintext ? (void *)(uintptr_t)&plaintext_whoami : NULL;
  service->handlers[TV_METHOD_WHO_AM_I] = (tv_handler){tv_whoami, opts};
  service->on_call_end = tv_vault_core_call_end;
  service->on_call_end_ctx = vault;
}

int tv_vault_core_counts(const tv_call_end *end) {
  switch (end->method) {
    case TV_METHOD_HEALTH_CHECK:
    case TV_METHOD_HEALTH_WATCH:
    case TV_METHOD_WHO_AM_I: return 1;
    default: return !end->handled;
  }
}

/* A call refused before its handler never reached svc_call, which audits
 * every other call; Health and WhoAmI reveal nothing and are polled by
 * probes, so they stay out of the audit log. */
static void audit_refusal(const tv_vault *v, const tv_call_end *end) {
  if (v->refusals == NULL || end->method >= TV_METHOD_COUNT || end->handled ||
      end->method == TV_METHOD_HEALTH_CHECK || end->method == TV_METHOD_HEALTH_WATCH ||
      end->method == TV_METHOD_WHO_AM_I) {
    return;
  }
  /* As svc_call names the caller: a plaintext listener's is dev:local. */
  const char *principal = end->authenticated ? end->principal : v->plaintext ? CONFIG_DEV_PRINCIPAL : "";
  (void)tv_refusal_audit_report(v->refusals, tv_method_get(end->method)->name, principal, end->peer,
                                end->grpc_code, end->latency_us);
}

void tv_vault_core_call_end(void *vault, const tv_call_end *end) {
  const tv_vault *v = vault;
  if (tv_vault_core_counts(end)) {
    tv_metrics_call_done(v->metrics, end->method, end->grpc_code, 0, end->latency_us);
  }
  if (end->admission_refused) {
    tv_metrics_admission_refused(v->metrics, end->method);
  }
  audit_refusal(v, end);
}
