#include "vault/service/whoami_vault.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/config/config.h"
#include "vault/policy/policy.h"
#include "vault/service/svc_call.h"
#include "vault/service/whoami.h"

typedef struct whoami_call {
  svc_call base;
  Tokenvault__V1__WhoAmIResponse resp;
  char *role_ptrs[POLICY_PRINCIPAL_ROLES_MAX];
  char roles[POLICY_PRINCIPAL_ROLES_MAX][POLICY_NAME_LEN_MAX + 1];
} whoami_call;

/* Copies the role names out of the policy: a SIGHUP may swap it before
 * the answer is sent. */
static void fill_roles(whoami_call *w) {
  const char *principal = svc_principal(&w->base);
  if (principal == NULL) {
    return;
  }
  const tv_policy *policy = policy_handle_acquire(w->base.vault->policy);
  const char *names[POLICY_PRINCIPAL_ROLES_MAX];
  size_t n = policy_principal_roles(policy, principal, names, POLICY_PRINCIPAL_ROLES_MAX);
  for (size_t i = 0; i < n; i++) {
    size_t len = strnlen(names[i], POLICY_NAME_LEN_MAX);
    memcpy(w->roles[i], names[i], len);
    w->roles[i][len] = '\0';
    w->role_ptrs[i] = w->roles[i];
  }
  policy_release(policy);
  w->resp.n_roles = n;
  w->resp.roles = w->role_ptrs;
}

void tv_vault_whoami(void *impl, tv_call *call, const ProtobufCMessage *request) {
  tv_vault *vault = impl;
  const Tokenvault__V1__WhoAmIRequest *r = (const Tokenvault__V1__WhoAmIRequest *)request;
  whoami_call *w = calloc(1, sizeof *w);
  if (w == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&w->base, call, vault, NULL, r->request_id, 0);
  static const tv_whoami_options plaintext = {.plaintext_principal = CONFIG_DEV_PRINCIPAL};
  tv_whoami_fill(&w->resp, vault->plaintext ? &plaintext : NULL, tv_call_identity(call), r->request_id);
  fill_roles(w);
  w->base.response = &w->resp.base;
  svc_call_end(&w->base); /* audited, then answered; frees |w| */
}
