#include "vault/server/vault_core.h"

#include <stdint.h>

#include "vault/config/config.h"
#include "vault/server/metrics.h"
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

void tv_vault_core_call_end(void *vault, const tv_call_end *end) {
  const tv_vault *v = vault;
  if (tv_vault_core_counts(end)) {
    tv_metrics_call_done(v->metrics, end->method, end->grpc_code, 0, end->latency_us);
  }
}
