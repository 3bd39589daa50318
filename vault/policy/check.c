/* policy_check: the one place that decides whether a call may proceed. */
#include <assert.h>
#include <string.h>

#include "vault/policy/policy.h"
#include "vault/policy/policy_internal.h"

static const policy_principal *lookup_principal(const tv_policy *policy, const char *name) {
  for (size_t i = 0; i < policy->principals_len; i++) {
    if (strcmp(policy->principals[i].name, name) == 0) {
      return &policy->principals[i];
    }
  }
  return NULL;
}

static int role_grants(const policy_role *role, const char *ns, tv_permission permission) {
  uint32_t bit = 1u << permission;
  for (size_t i = 0; i < role->grants_len; i++) {
    const policy_grant *g = &role->grants[i];
    if ((g->permissions & bit) == 0) {
      continue;
    }
    /* "*" only ever holds key and audit permissions (the builder refuses
     * the others), so it cannot widen data access. */
    if (strcmp(g->ns, ns) == 0 || strcmp(g->ns, POLICY_NAMESPACE_ANY) == 0) {
      return 1;
    }
  }
  return 0;
}

/* role_network_ok: 1 admitted, 0 not in the allowlist; *out_status gets
 * TV_E_POLICY_PEER if an allowlist exists but the peer is unparseable. */
static int role_network_ok(const policy_role *role, const char *peer, tv_status *out_status) {
  if (role->networks_len == 0) {
    return 1;
  }
  uint8_t addr[16];
  if (policy_peer_parse(peer, addr) != TV_OK) {
    *out_status = TV_E_POLICY_PEER;
    return 0;
  }
  for (size_t i = 0; i < role->networks_len; i++) {
    if (policy_net_contains(&role->networks[i], addr)) {
      return 1;
    }
  }
  *out_status = TV_E_POLICY_NETWORK;
  return 0;
}

static int is_reveal(tv_permission permission) {
  return permission == TV_PERM_DETOKENIZE_MASKED || permission == TV_PERM_DETOKENIZE_FULL;
}

static int is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* reason_given: |reason| has at least POLICY_REASON_LEN_MIN bytes
 * between its first and last non-space character. */
static int reason_given(const char *reason) {
  if (reason == NULL) {
    return 0;
  }
  size_t start = 0, end = strlen(reason);
  while (start < end && is_space(reason[start])) {
    start++;
  }
  while (end > start && is_space(reason[end - 1])) {
    end--;
  }
  return end - start >= POLICY_REASON_LEN_MIN;
}

/* apply_limits: the chosen role's limits; the meter is touched last so a
 * refusal for another reason consumes no reveals. */
static tv_status apply_limits(const policy_role *role, policy_meter *meter,
                              const policy_request *request) {
  const policy_limits *l = &role->limits;
  TV_ENSURE(l->items_max == 0 || request->items <= l->items_max, TV_E_POLICY_TOO_MANY_ITEMS);
  if (request->permission == TV_PERM_DETOKENIZE_FULL && l->require_reason) {
    TV_ENSURE(reason_given(request->reason), TV_E_POLICY_REASON_REQUIRED);
  }
  if (is_reveal(request->permission) && l->reveals_per_minute_max > 0) {
    TV_ENSURE(meter != NULL, TV_E_POLICY_METER_FULL);
    TV_TRY(policy_meter_take(meter, POLICY_METER_REVEALS, request->principal, role->name,
                             l->reveals_per_minute_max, request->items));
  }
  if (request->permission == TV_PERM_TOKENIZE && l->tokenize_per_minute_max > 0) {
    TV_ENSURE(meter != NULL, TV_E_POLICY_METER_FULL);
    tv_status st = policy_meter_take(meter, POLICY_METER_TOKENIZED, request->principal, role->name,
                                     l->tokenize_per_minute_max, request->items);
    TV_ENSURE(st != TV_E_POLICY_RATE_LIMITED, TV_E_POLICY_TOKENIZE_RATE_LIMITED);
    TV_TRY(st);
  }
  return TV_OK;
}

/* Which of the role's limits a refusal from apply_limits names. */
static uint64_t refusing_limit(const policy_limits *l, tv_status status) {
  switch (status) {
    case TV_E_POLICY_TOO_MANY_ITEMS: return l->items_max;
    case TV_E_POLICY_RATE_LIMITED: return l->reveals_per_minute_max;
    case TV_E_POLICY_TOKENIZE_RATE_LIMITED: return l->tokenize_per_minute_max;
    case TV_E_POLICY_METER_FULL:
      return l->reveals_per_minute_max != 0 ? l->reveals_per_minute_max : l->tokenize_per_minute_max;
    default: return 0;
  }
}

tv_status policy_check(const tv_policy *policy, policy_meter *meter, const policy_request *request,
                       policy_decision *out) {
  assert(out != NULL);
  out->role = NULL;
  out->limit = 0;
  out->new_tokens_per_kept_group = 0;
  out->status = TV_E_POLICY_DENIED;
  if (policy == NULL || request == NULL || (unsigned)request->permission >= TV_PERM_COUNT) {
    return out->status;
  }
  assert(policy->frozen);
  const policy_principal *who =
      request->principal != NULL ? lookup_principal(policy, request->principal) : NULL;
  if (who == NULL) {
    out->status = TV_E_POLICY_UNKNOWN_PRINCIPAL;
    return out->status;
  }
  const char *ns = request->ns != NULL && request->ns[0] != '\0' ? request->ns : POLICY_NAMESPACE_ANY;
  /* The first role (binding order) that grants the permission here and
   * admits the peer decides; its limits are the ones applied. The most
   * telling refusal is kept if none does. */
  tv_status refusal = TV_E_POLICY_DENIED;
  for (size_t i = 0; i < who->roles_len; i++) {
    const policy_role *role = &policy->roles[who->roles[i]];
    if (!role_grants(role, ns, request->permission)) {
      continue;
    }
    if (!role_network_ok(role, request->peer, &refusal)) {
      continue;
    }
    out->role = role->name;
    out->status = apply_limits(role, meter, request);
    out->limit = refusing_limit(&role->limits, out->status);
    if (out->status == TV_OK && request->permission == TV_PERM_TOKENIZE) {
      out->new_tokens_per_kept_group = role->limits.new_tokens_per_kept_group;
    }
    return out->status;
  }
  out->status = refusal;
  return out->status;
}
