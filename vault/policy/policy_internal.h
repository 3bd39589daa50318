/* The layout of a policy, shared by the builder, the check and the meter. */
#ifndef TV_POLICY_POLICY_INTERNAL_H
#define TV_POLICY_POLICY_INTERNAL_H

#include <stdatomic.h>

#include "vault/policy/network.h"
#include "vault/policy/policy.h"

typedef struct policy_grant {
  char ns[POLICY_NAME_LEN_MAX + 1];
  uint32_t permissions; /* bit per tv_permission */
} policy_grant;

typedef struct policy_role {
  char name[POLICY_NAME_LEN_MAX + 1];
  policy_limits limits;
  policy_grant grants[POLICY_GRANTS_MAX];
  size_t grants_len;
  policy_net networks[POLICY_NETWORKS_MAX];
  size_t networks_len;
} policy_role;

typedef struct policy_principal {
  char name[POLICY_PRINCIPAL_LEN_MAX + 1];
  uint16_t roles[POLICY_PRINCIPAL_ROLES_MAX]; /* indexes into roles */
  size_t roles_len;
} policy_principal;

struct tv_policy {
  atomic_size_t refs;
  int frozen;
  policy_role roles[POLICY_ROLES_MAX];
  size_t roles_len;
  policy_principal *principals; /* POLICY_PRINCIPALS_MAX, allocated once */
  size_t principals_len;
};

/* What a bucket counts: one bucket per (kind, principal, role). */
typedef enum policy_meter_kind {
  POLICY_METER_REVEALS = 0,
  POLICY_METER_TOKENIZED = 1,
} policy_meter_kind;

/* policy_meter_take consumes |count| from the |kind| bucket of
 * (|principal|, |role|) whose capacity is |per_minute| a minute. TV_OK or
 * TV_E_POLICY_RATE_LIMITED (nothing consumed) or TV_E_POLICY_METER_FULL. */
tv_status policy_meter_take(policy_meter *meter, policy_meter_kind kind, const char *principal,
                            const char *role, uint64_t per_minute, uint64_t count);

#endif
