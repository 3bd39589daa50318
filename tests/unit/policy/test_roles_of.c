/* policy_principal_roles: the roles WhoAmI reports, in config order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vault/policy/policy.h"

static tv_policy *two_roles(void) {
  tv_policy *p = NULL;
  policy_limits none = {0};
  assert_int_equal(policy_new(&p), TV_OK);
  assert_int_equal(policy_add_role(p, "crm", &none), TV_OK);
  assert_int_equal(policy_add_role(p, "auditor", &none), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://both", "auditor"), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://both", "crm"), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://crm", "crm"), TV_OK);
  policy_freeze(p);
  return p;
}

static void test_roles_of_known_principals(void **state) {
  (void)state;
  tv_policy *p = two_roles();
  const char *names[POLICY_PRINCIPAL_ROLES_MAX];
  assert_int_equal(policy_principal_roles(p, "spiffe://both", names, POLICY_PRINCIPAL_ROLES_MAX), 2);
  assert_string_equal(names[0], "auditor"); /* the order they were bound in */
  assert_string_equal(names[1], "crm");
  assert_int_equal(policy_principal_roles(p, "spiffe://crm", names, POLICY_PRINCIPAL_ROLES_MAX), 1);
  assert_string_equal(names[0], "crm");
  /* Bounded by the room given. */
  assert_int_equal(policy_principal_roles(p, "spiffe://both", names, 1), 1);
  assert_string_equal(names[0], "auditor");
  policy_release(p);
}

static void test_roles_of_unknown_is_empty(void **state) {
  (void)state;
  tv_policy *p = two_roles();
  const char *names[POLICY_PRINCIPAL_ROLES_MAX] = {0};
  assert_int_equal(policy_principal_roles(p, "spiffe://nobody", names, POLICY_PRINCIPAL_ROLES_MAX), 0);
  assert_int_equal(policy_principal_roles(p, "", names, POLICY_PRINCIPAL_ROLES_MAX), 0);
  assert_int_equal(policy_principal_roles(NULL, "spiffe://crm", names, POLICY_PRINCIPAL_ROLES_MAX), 0);
  assert_null(names[0]);
  policy_release(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roles_of_known_principals),
      cmocka_unit_test(test_roles_of_unknown_is_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
