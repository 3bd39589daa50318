/* policy_check: the role x permission x namespace matrix, unknown
 * principals, per-request item limits, require_reason, builder refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vault/policy/policy.h"

static const char *const namespaces[] = {"pan", "iban", "other", ""};
#define NS_COUNT (sizeof(namespaces) / sizeof(namespaces[0]))

/* The intended answers, written out independently of the builder calls:
 * "principal namespace permission" for every allowed combination. ""
 * (no namespace) is what key/audit calls without one use. */
static const char *const allowed[] = {
    "spiffe://crm pan tokenize",
    "spiffe://crm pan detokenize:masked",
    "spiffe://crm iban tokenize",
    "spiffe://finance pan detokenize:masked",
    "spiffe://finance pan detokenize:full",
    "spiffe://finance iban detokenize:masked",
    "spiffe://finance iban detokenize:full",
    "spiffe://deleter iban delete",
    "spiffe://officer pan keys:read",
    "spiffe://officer pan keys:rotate",
    "spiffe://officer pan keys:approve",
    "spiffe://officer iban keys:read",
    "spiffe://officer iban keys:rotate",
    "spiffe://officer iban keys:approve",
    "spiffe://officer other keys:read",
    "spiffe://officer other keys:rotate",
    "spiffe://officer other keys:approve",
    "spiffe://officer  keys:read",
    "spiffe://officer  keys:rotate",
    "spiffe://officer  keys:approve",
    "spiffe://auditor pan audit:read",
    "spiffe://auditor iban audit:read",
    "spiffe://auditor other audit:read",
    "spiffe://auditor  audit:read",
    /* Two roles: crm's grants plus keys:read on pan only. */
    "spiffe://both pan tokenize",
    "spiffe://both pan detokenize:masked",
    "spiffe://both iban tokenize",
    "spiffe://both pan keys:read",
};

static const char *const principals[] = {"spiffe://crm",     "spiffe://finance", "spiffe://deleter",
                                         "spiffe://officer", "spiffe://auditor", "spiffe://both"};

static tv_policy *build_matrix_policy(void) {
  tv_policy *p = NULL;
  policy_limits none = {0};
  assert_int_equal(policy_new(&p), TV_OK);
  const char *roles[] = {"crm", "finance", "deleter", "officer", "auditor", "keyreader"};
  for (size_t i = 0; i < 6; i++) {
    assert_int_equal(policy_add_role(p, roles[i], &none), TV_OK);
  }
  assert_int_equal(policy_role_grant(p, "crm", "pan", TV_PERM_TOKENIZE), TV_OK);
  assert_int_equal(policy_role_grant(p, "crm", "pan", TV_PERM_DETOKENIZE_MASKED), TV_OK);
  assert_int_equal(policy_role_grant(p, "crm", "iban", TV_PERM_TOKENIZE), TV_OK);
  const char *fin_ns[] = {"pan", "iban"};
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal(policy_role_grant(p, "finance", fin_ns[i], TV_PERM_DETOKENIZE_MASKED), TV_OK);
    assert_int_equal(policy_role_grant(p, "finance", fin_ns[i], TV_PERM_DETOKENIZE_FULL), TV_OK);
  }
  assert_int_equal(policy_role_grant(p, "deleter", "iban", TV_PERM_DELETE), TV_OK);
  assert_int_equal(policy_role_grant(p, "officer", "*", TV_PERM_KEYS_READ), TV_OK);
  assert_int_equal(policy_role_grant(p, "officer", "*", TV_PERM_KEYS_ROTATE), TV_OK);
  assert_int_equal(policy_role_grant(p, "officer", "*", TV_PERM_KEYS_APPROVE), TV_OK);
  assert_int_equal(policy_role_grant(p, "auditor", "*", TV_PERM_AUDIT_READ), TV_OK);
  assert_int_equal(policy_role_grant(p, "keyreader", "pan", TV_PERM_KEYS_READ), TV_OK);
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(policy_bind_principal(p, principals[i], roles[i]), TV_OK);
  }
  assert_int_equal(policy_bind_principal(p, "spiffe://both", "crm"), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://both", "keyreader"), TV_OK);
  policy_freeze(p);
  return p;
}

static int expected_allowed(const char *principal, const char *ns, tv_permission perm) {
  char triple[512];
  snprintf(triple, sizeof(triple), "%s %s %s", principal, ns, policy_permission_name(perm));
  for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
    if (strcmp(allowed[i], triple) == 0) {
      return 1;
    }
  }
  return 0;
}

static void test_matrix(void **state) {
  (void)state;
  tv_policy *p = build_matrix_policy();
  size_t allowed_seen = 0;
  for (size_t who = 0; who < sizeof(principals) / sizeof(principals[0]); who++) {
    for (size_t n = 0; n < NS_COUNT; n++) {
      for (unsigned perm = 0; perm < TV_PERM_COUNT; perm++) {
        policy_request req = {.principal = principals[who], .peer = "ipv4:10.0.0.1:1234",
                              .permission = (tv_permission)perm, .ns = namespaces[n], .items = 1};
        policy_decision d;
        tv_status st = policy_check(p, NULL, &req, &d);
        int want = expected_allowed(principals[who], namespaces[n], (tv_permission)perm);
        if (want) {
          assert_int_equal(st, TV_OK);
          assert_non_null(d.role);
          allowed_seen++;
        } else {
          assert_int_equal(st, TV_E_POLICY_DENIED);
          assert_null(d.role);
        }
        assert_int_equal(d.status, st);
      }
    }
  }
  assert_int_equal(allowed_seen, sizeof(allowed) / sizeof(allowed[0]));
  policy_release(p);
}

static void test_decision_names_role(void **state) {
  (void)state;
  tv_policy *p = build_matrix_policy();
  policy_request req = {.principal = "spiffe://both", .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_KEYS_READ, .ns = "pan", .items = 1};
  policy_decision d;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_OK);
  assert_string_equal(d.role, "keyreader");
  req.permission = TV_PERM_TOKENIZE;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_OK);
  assert_string_equal(d.role, "crm");
  policy_release(p);
}

static void test_unknown_principal(void **state) {
  (void)state;
  tv_policy *p = build_matrix_policy();
  const char *strangers[] = {"spiffe://crm2", "spiffe://CRM", "", "spiffe://cr", NULL};
  for (size_t i = 0; i < 5; i++) {
    policy_request req = {.principal = strangers[i], .peer = "ipv4:10.0.0.1:1",
                          .permission = TV_PERM_TOKENIZE, .ns = "pan", .items = 1};
    policy_decision d;
    assert_int_equal(policy_check(p, NULL, &req, &d), TV_E_POLICY_UNKNOWN_PRINCIPAL);
    assert_null(d.role);
  }
  /* A bogus permission number is denied, not indexed out of range. */
  policy_request req = {.principal = "spiffe://crm", .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_COUNT, .ns = "pan", .items = 1};
  policy_decision d;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_E_POLICY_DENIED);
  policy_release(p);
}

static tv_policy *limited_policy(uint32_t items_max, int require_reason) {
  tv_policy *p = NULL;
  policy_limits limits = {.items_max = items_max, .require_reason = require_reason};
  assert_int_equal(policy_new(&p), TV_OK);
  assert_int_equal(policy_add_role(p, "finance", &limits), TV_OK);
  assert_int_equal(policy_role_grant(p, "finance", "pan", TV_PERM_DETOKENIZE_FULL), TV_OK);
  assert_int_equal(policy_role_grant(p, "finance", "pan", TV_PERM_DETOKENIZE_MASKED), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://fin", "finance"), TV_OK);
  policy_freeze(p);
  return p;
}

static void test_items_max(void **state) {
  (void)state;
  tv_policy *p = limited_policy(100, 0);
  policy_request req = {.principal = "spiffe://fin", .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_DETOKENIZE_FULL, .ns = "pan", .items = 100};
  policy_decision d;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_OK);
  assert_int_equal(d.limit, 0); /* allowed: no limit to name */
  req.items = 101;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_E_POLICY_TOO_MANY_ITEMS);
  assert_string_equal(d.role, "finance");
  assert_int_equal(d.limit, 100); /* the alert entry records the real limit */
  req.items = UINT64_MAX;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_E_POLICY_TOO_MANY_ITEMS);
  policy_release(p);
}

static void test_require_reason(void **state) {
  (void)state;
  tv_policy *p = limited_policy(0, 1);
  policy_request req = {.principal = "spiffe://fin", .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_DETOKENIZE_FULL, .ns = "pan", .items = 5};
  policy_decision d;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_E_POLICY_REASON_REQUIRED);
  req.reason = "";
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_E_POLICY_REASON_REQUIRED);
  req.reason = "settlement 2026-11-25";
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_OK);
  /* Blank or too short once trimmed: no reason (POLICY_REASON_LEN_MIN). */
  static const char *const blank[] = {" ", "        ", "\t\n \r", "  x  ", "INC-123", "   INC-123\t\t  "};
  for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
    req.reason = blank[i];
    assert_int_equal(policy_check(p, NULL, &req, &d), TV_E_POLICY_REASON_REQUIRED);
  }
  req.reason = "  INC-1234  "; /* eight characters between the spaces */
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_OK);
  req.reason = "a b c de"; /* inner spaces count */
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_OK);
  /* Masked reveals never need a reason. */
  req.reason = NULL;
  req.permission = TV_PERM_DETOKENIZE_MASKED;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_OK);
  policy_release(p);
  /* Without require_reason a full reveal needs none. */
  p = limited_policy(0, 0);
  req.permission = TV_PERM_DETOKENIZE_FULL;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_OK);
  policy_release(p);
}

static void test_builder_refusals(void **state) {
  (void)state;
  tv_policy *p = NULL;
  policy_limits none = {0};
  assert_int_equal(policy_new(&p), TV_OK);
  assert_int_equal(policy_add_role(p, "crm", &none), TV_OK);
  assert_int_equal(policy_add_role(p, "crm", &none), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_add_role(p, "Bad Name", &none), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_add_role(p, "", &none), TV_E_POLICY_CONFIG);
  /* Data permissions are never granted on every namespace at once. */
  assert_int_equal(policy_role_grant(p, "crm", "*", TV_PERM_TOKENIZE), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_role_grant(p, "crm", "*", TV_PERM_DETOKENIZE_FULL), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_role_grant(p, "crm", "*", TV_PERM_DELETE), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_role_grant(p, "crm", "*", TV_PERM_AUDIT_READ), TV_OK);
  assert_int_equal(policy_role_grant(p, "nobody", "pan", TV_PERM_TOKENIZE), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_role_grant(p, "crm", "pan", TV_PERM_COUNT), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_bind_principal(p, "spiffe://x", "nobody"), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_bind_principal(p, "", "crm"), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_bind_principal(p, "spiffe://x\nforged", "crm"), TV_E_POLICY_CONFIG);
  char long_name[POLICY_PRINCIPAL_LEN_MAX + 2];
  memset(long_name, 'a', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = '\0';
  assert_int_equal(policy_bind_principal(p, long_name, "crm"), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_role_allow_network(p, "crm", "10.0.0.0/33"), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_bind_principal(p, "spiffe://x", "crm"), TV_OK);
  assert_int_equal(policy_has_principal(p, "spiffe://x"), 1);
  assert_int_equal(policy_has_principal(p, "spiffe://y"), 0);
  policy_freeze(p);
  /* Frozen: nothing changes any more. */
  assert_int_equal(policy_add_role(p, "late", &none), TV_E_INVALID_ARGUMENT);
  assert_int_equal(policy_bind_principal(p, "spiffe://y", "crm"), TV_E_INVALID_ARGUMENT);
  assert_int_equal(policy_role_count(p), 1);
  assert_int_equal(policy_principal_count(p), 1);
  policy_release(p);
}

static void test_role_limit(void **state) {
  (void)state;
  tv_policy *p = NULL;
  policy_limits none = {0};
  assert_int_equal(policy_new(&p), TV_OK);
  char name[16];
  for (unsigned i = 0; i < POLICY_ROLES_MAX; i++) {
    snprintf(name, sizeof(name), "r%u", i);
    assert_int_equal(policy_add_role(p, name, &none), TV_OK);
  }
  assert_int_equal(policy_add_role(p, "one_more", &none), TV_E_POLICY_LIMIT);
  for (unsigned i = 0; i < POLICY_PRINCIPAL_ROLES_MAX; i++) {
    snprintf(name, sizeof(name), "r%u", i);
    assert_int_equal(policy_bind_principal(p, "p", name), TV_OK);
  }
  assert_int_equal(policy_bind_principal(p, "p", "r63"), TV_E_POLICY_LIMIT);
  policy_freeze(p);
  policy_release(p);
}

static void test_permission_names(void **state) {
  (void)state;
  for (unsigned i = 0; i < TV_PERM_COUNT; i++) {
    const char *name = policy_permission_name((tv_permission)i);
    tv_permission back = TV_PERM_COUNT;
    assert_int_equal(policy_permission_parse(name, strlen(name), &back), TV_OK);
    assert_int_equal(back, i);
  }
  tv_permission out;
  assert_int_equal(policy_permission_parse("detokenize", 10, &out), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_permission_parse("tokenize2", 9, &out), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_permission_parse("keys:read", 4, &out), TV_E_POLICY_CONFIG);
  assert_string_equal(policy_permission_name(TV_PERM_COUNT), "unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matrix),           cmocka_unit_test(test_decision_names_role),
      cmocka_unit_test(test_unknown_principal), cmocka_unit_test(test_items_max),
      cmocka_unit_test(test_require_reason),   cmocka_unit_test(test_builder_refusals),
      cmocka_unit_test(test_role_limit),       cmocka_unit_test(test_permission_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
