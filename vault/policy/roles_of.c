/* Which roles a principal holds: what WhoAmI reports. */
#include <assert.h>
#include <string.h>

#include "vault/policy/policy_internal.h"

size_t policy_principal_roles(const tv_policy *policy, const char *principal,
                              const char **out_names, size_t out_max) {
  assert(out_names != NULL || out_max == 0);
  if (policy == NULL || principal == NULL) {
    return 0;
  }
  for (size_t i = 0; i < policy->principals_len; i++) {
    const policy_principal *p = &policy->principals[i];
    if (strcmp(p->name, principal) != 0) {
      continue;
    }
    size_t n = 0;
    for (; n < p->roles_len && n < out_max; n++) {
      assert(p->roles[n] < policy->roles_len);
      out_names[n] = policy->roles[p->roles[n]].name;
    }
    return n;
  }
  return 0;
}
