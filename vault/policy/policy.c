#include "vault/policy/policy.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "vault/policy/policy_internal.h"

static const char *const permission_names[TV_PERM_COUNT] = {
    [TV_PERM_TOKENIZE] = "tokenize",         [TV_PERM_DETOKENIZE_MASKED] = "detokenize:masked",
    [TV_PERM_DETOKENIZE_FULL] = "detokenize:full", [TV_PERM_DELETE] = "delete",
    [TV_PERM_KEYS_READ] = "keys:read",       [TV_PERM_KEYS_ROTATE] = "keys:rotate",
    [TV_PERM_KEYS_APPROVE] = "keys:approve", [TV_PERM_AUDIT_READ] = "audit:read",
};

const char *policy_permission_name(tv_permission permission) {
  if ((unsigned)permission >= TV_PERM_COUNT) {
    return "unknown";
  }
  return permission_names[permission];
}

tv_status policy_permission_parse(const char *name, size_t len, tv_permission *out_permission) {
  TV_ENSURE(name != NULL && out_permission != NULL, TV_E_INVALID_ARGUMENT);
  for (unsigned i = 0; i < TV_PERM_COUNT; i++) {
    if (strlen(permission_names[i]) == len && memcmp(permission_names[i], name, len) == 0) {
      *out_permission = (tv_permission)i;
      return TV_OK;
    }
  }
  return TV_E_POLICY_CONFIG;
}

/* Role and namespace names: [a-z0-9_-], 1..POLICY_NAME_LEN_MAX; they show
 * up in logs and audit entries, so nothing that needs quoting. */
static int name_ok(const char *name) {
  size_t len = name != NULL ? strlen(name) : 0;
  if (len == 0 || len > POLICY_NAME_LEN_MAX) {
    return 0;
  }
  return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

tv_status policy_new(tv_policy **out_policy) {
  TV_ENSURE(out_policy != NULL, TV_E_INVALID_ARGUMENT);
  tv_policy *p = calloc(1, sizeof(*p));
  TV_ENSURE(p != NULL, TV_E_NO_MEMORY);
  p->principals = calloc(POLICY_PRINCIPALS_MAX, sizeof(*p->principals));
  if (p->principals == NULL) {
    free(p);
    return TV_E_NO_MEMORY;
  }
  atomic_init(&p->refs, 1);
  *out_policy = p;
  return TV_OK;
}

static policy_role *find_role(tv_policy *policy, const char *name, size_t *out_index) {
  for (size_t i = 0; i < policy->roles_len; i++) {
    if (strcmp(policy->roles[i].name, name) == 0) {
      if (out_index != NULL) {
        *out_index = i;
      }
      return &policy->roles[i];
    }
  }
  return NULL;
}

tv_status policy_add_role(tv_policy *policy, const char *name, const policy_limits *limits) {
  TV_ENSURE(policy != NULL && limits != NULL && !policy->frozen, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(name_ok(name) && find_role(policy, name, NULL) == NULL, TV_E_POLICY_CONFIG);
  TV_ENSURE(policy->roles_len < POLICY_ROLES_MAX, TV_E_POLICY_LIMIT);
  policy_role *role = &policy->roles[policy->roles_len++];
  memcpy(role->name, name, strlen(name) + 1);
  role->limits = *limits;
  return TV_OK;
}

static int permission_is_data(tv_permission permission) {
  return permission <= TV_PERM_DELETE;
}

tv_status policy_role_grant(tv_policy *policy, const char *role_name, const char *ns,
                            tv_permission permission) {
  TV_ENSURE(policy != NULL && role_name != NULL && ns != NULL && !policy->frozen,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE((unsigned)permission < TV_PERM_COUNT, TV_E_POLICY_CONFIG);
  policy_role *role = find_role(policy, role_name, NULL);
  TV_ENSURE(role != NULL, TV_E_POLICY_CONFIG);
  int any = strcmp(ns, POLICY_NAMESPACE_ANY) == 0;
  TV_ENSURE(any ? !permission_is_data(permission) : name_ok(ns), TV_E_POLICY_CONFIG);
  for (size_t i = 0; i < role->grants_len; i++) {
    if (strcmp(role->grants[i].ns, ns) == 0) {
      role->grants[i].permissions |= 1u << permission;
      return TV_OK;
    }
  }
  TV_ENSURE(role->grants_len < POLICY_GRANTS_MAX, TV_E_POLICY_LIMIT);
  policy_grant *grant = &role->grants[role->grants_len++];
  memcpy(grant->ns, ns, strlen(ns) + 1);
  grant->permissions = 1u << permission;
  return TV_OK;
}

tv_status policy_role_allow_network(tv_policy *policy, const char *role_name, const char *cidr) {
  TV_ENSURE(policy != NULL && role_name != NULL && cidr != NULL && !policy->frozen,
            TV_E_INVALID_ARGUMENT);
  policy_role *role = find_role(policy, role_name, NULL);
  TV_ENSURE(role != NULL, TV_E_POLICY_CONFIG);
  TV_ENSURE(role->networks_len < POLICY_NETWORKS_MAX, TV_E_POLICY_LIMIT);
  TV_TRY(policy_net_parse(cidr, &role->networks[role->networks_len]));
  role->networks_len++;
  return TV_OK;
}

/* Principals may be URIs, DNS names or CNs: any printable text, but no
 * control characters that could forge log lines. */
static int principal_ok(const char *principal) {
  size_t len = principal != NULL ? strlen(principal) : 0;
  if (len == 0 || len > POLICY_PRINCIPAL_LEN_MAX) {
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)principal[i];
    if (c < 0x20 || c == 0x7f) {
      return 0;
    }
  }
  return 1;
}

static policy_principal *find_principal(const tv_policy *policy, const char *name) {
  for (size_t i = 0; i < policy->principals_len; i++) {
    if (strcmp(policy->principals[i].name, name) == 0) {
      return &policy->principals[i];
    }
  }
  return NULL;
}

tv_status policy_bind_principal(tv_policy *policy, const char *principal, const char *role_name) {
  TV_ENSURE(policy != NULL && role_name != NULL && !policy->frozen, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(principal_ok(principal), TV_E_POLICY_CONFIG);
  size_t role_index = 0;
  TV_ENSURE(find_role(policy, role_name, &role_index) != NULL, TV_E_POLICY_CONFIG);
  policy_principal *entry = find_principal(policy, principal);
  if (entry == NULL) {
    TV_ENSURE(policy->principals_len < POLICY_PRINCIPALS_MAX, TV_E_POLICY_LIMIT);
    entry = &policy->principals[policy->principals_len++];
    memcpy(entry->name, principal, strlen(principal) + 1);
  }
  for (size_t i = 0; i < entry->roles_len; i++) {
    if (entry->roles[i] == role_index) {
      return TV_OK;
    }
  }
  TV_ENSURE(entry->roles_len < POLICY_PRINCIPAL_ROLES_MAX, TV_E_POLICY_LIMIT);
  entry->roles[entry->roles_len++] = (uint16_t)role_index;
  return TV_OK;
}

int policy_has_principal(const tv_policy *policy, const char *principal) {
  return policy != NULL && principal != NULL && find_principal(policy, principal) != NULL;
}

void policy_freeze(tv_policy *policy) {
  assert(policy != NULL);
  policy->frozen = 1;
}

const tv_policy *policy_retain(const tv_policy *policy) {
  assert(policy != NULL && policy->frozen);
  /* The count is the one mutable field of a frozen policy. */
  tv_policy *p = (tv_policy *)(uintptr_t)policy;
  size_t before = atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  assert(before > 0);
  (void)before;
  return policy;
}

void policy_release(const tv_policy *policy) {
  if (policy == NULL) {
    return;
  }
  tv_policy *p = (tv_policy *)(uintptr_t)policy;
  size_t before = atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel);
  assert(before > 0);
  if (before == 1) {
    free(p->principals);
    free(p);
  }
}

size_t policy_role_count(const tv_policy *policy) {
  return policy->roles_len;
}

size_t policy_principal_count(const tv_policy *policy) {
  return policy->principals_len;
}
