/* The shipped example files and the built-in --dev config parse, and
 * mean what their comments say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vault/config/config.h"

static tv_config *load_example(const char *name) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/deploy/config/%s", TV_SOURCE_DIR, name);
  tv_config *cfg = NULL;
  config_error err;
  tv_status st = config_load(path, &cfg, &err);
  if (st != TV_OK) {
    print_error("%s: %s\n", path, err.text);
  }
  assert_int_equal(st, TV_OK);
  assert_non_null(cfg);
  return cfg;
}

/* Reveal limits are counted; a meter per test program is plenty. */
static policy_meter *meter;

static int make_meter(void **state) {
  (void)state;
  return policy_meter_new(NULL, NULL, &meter) == TV_OK ? 0 : -1;
}

static int free_meter(void **state) {
  (void)state;
  policy_meter_free(meter);
  return 0;
}

static tv_status ask(const tv_config *cfg, const char *who, const char *peer, tv_permission perm,
                     const char *ns, const char *reason) {
  policy_request req = {.principal = who, .peer = peer, .permission = perm, .ns = ns,
                        .items = 1, .reason = reason};
  policy_decision d;
  return policy_check(cfg->policy, meter, &req, &d);
}

static void test_prod_example(void **state) {
  (void)state;
  tv_config *cfg = load_example("tokenvault.prod.yaml");
  assert_int_equal(cfg->tls.enabled, 1);
  assert_string_equal(cfg->tls.client_ca_file, "/etc/tokenvault/tls/clients-ca.crt");
  assert_string_equal(cfg->hsm.pin_file, "/run/secrets/tokenvault-hsm-pin");
  assert_string_equal(cfg->metrics_listen, "127.0.0.1:9464");
  assert_int_equal(cfg->namespaces_len, 8);
  const config_namespace *loyalty = config_find_namespace(cfg, "loyalty");
  assert_non_null(loyalty);
  assert_int_equal(loyalty->format.mode, FORMAT_MODE_RANDOM);
  assert_int_equal(loyalty->default_ttl_s, 365ull * 86400);
  assert_int_equal(loyalty->format.generic.alphabet.size, 34);
  const config_namespace *pan = config_find_namespace(cfg, "pan");
  assert_int_equal(pan->format.pan.length_min, 16);
  assert_int_equal(pan->convergent, 1);
  assert_null(config_find_namespace(cfg, "visa"));
  const char *crm = "spiffe://example.org/crm";
  assert_int_equal(ask(cfg, crm, "ipv4:10.20.1.1:5", TV_PERM_TOKENIZE, "pan", NULL), TV_OK);
  assert_int_equal(ask(cfg, crm, "ipv6:[fd00:20::9]:5", TV_PERM_DETOKENIZE_MASKED, "ssn", NULL),
                   TV_OK);
  assert_int_equal(ask(cfg, crm, "ipv4:10.20.1.1:5", TV_PERM_DETOKENIZE_FULL, "pan", NULL),
                   TV_E_POLICY_DENIED);
  assert_int_equal(ask(cfg, crm, "ipv4:10.21.1.1:5", TV_PERM_TOKENIZE, "pan", NULL),
                   TV_E_POLICY_NETWORK);
  const char *fin = "spiffe://example.org/settlement";
  assert_int_equal(ask(cfg, fin, "ipv4:10.30.0.4:5", TV_PERM_DETOKENIZE_FULL, "iban", NULL),
                   TV_E_POLICY_REASON_REQUIRED);
  assert_int_equal(ask(cfg, fin, "ipv4:10.30.0.4:5", TV_PERM_DETOKENIZE_FULL, "iban", "recon"),
                   TV_E_POLICY_REASON_REQUIRED); /* under POLICY_REASON_LEN_MIN */
  assert_int_equal(ask(cfg, fin, "ipv4:10.30.0.4:5", TV_PERM_DETOKENIZE_FULL, "iban",
                       "monthly reconciliation"),
                   TV_OK);
  assert_int_equal(ask(cfg, fin, "ipv4:10.30.0.4:5", TV_PERM_TOKENIZE, "iban", NULL),
                   TV_E_POLICY_DENIED);
  const char *alice = "officer-alice.example.org";
  assert_int_equal(ask(cfg, alice, "ipv4:10.40.0.2:5", TV_PERM_KEYS_APPROVE, NULL, NULL), TV_OK);
  assert_int_equal(ask(cfg, alice, "ipv4:10.40.0.2:5", TV_PERM_KEYS_ROTATE, "pan", NULL), TV_OK);
  assert_int_equal(ask(cfg, alice, "ipv4:10.40.0.2:5", TV_PERM_DETOKENIZE_MASKED, "pan", NULL),
                   TV_E_POLICY_DENIED);
  assert_int_equal(ask(cfg, "siem.example.org", "ipv4:192.0.2.1:5", TV_PERM_AUDIT_READ, NULL,
                       NULL),
                   TV_OK);
  assert_int_equal(ask(cfg, "mallory", "ipv4:10.20.1.1:5", TV_PERM_TOKENIZE, "pan", NULL),
                   TV_E_POLICY_UNKNOWN_PRINCIPAL);
  config_free(cfg);
}

static const char *const dev_namespaces[] = {"pan",           "iban",           "bank_account", "ssn",
                                             "tw_national_id", "cn_resident_id", "de_tax_id"};

static void check_dev(const tv_config *cfg) {
  assert_int_equal(cfg->tls.enabled, 0);
  assert_string_equal(cfg->listen, "127.0.0.1:7443");
  assert_int_equal(cfg->namespaces_len, 7);
  for (size_t i = 0; i < 7; i++) {
    const config_namespace *ns = config_find_namespace(cfg, dev_namespaces[i]);
    assert_non_null(ns);
    char why[256];
    assert_int_equal(format_config_validate(&ns->format, why, sizeof(why)), TV_OK);
    for (unsigned perm = 0; perm < TV_PERM_COUNT; perm++) {
      assert_int_equal(ask(cfg, CONFIG_DEV_PRINCIPAL, "ipv4:127.0.0.1:40000", (tv_permission)perm,
                           dev_namespaces[i], "dev"),
                       TV_OK);
      assert_int_equal(ask(cfg, CONFIG_DEV_PRINCIPAL, "ipv6:[::1]:40000", (tv_permission)perm,
                           dev_namespaces[i], NULL),
                       TV_OK);
      /* Loopback only, even in development. */
      assert_int_equal(ask(cfg, CONFIG_DEV_PRINCIPAL, "ipv4:192.168.1.5:40000",
                           (tv_permission)perm, dev_namespaces[i], NULL),
                       TV_E_POLICY_NETWORK);
    }
  }
  assert_int_equal(config_find_namespace(cfg, "ssn")->format.kind, FORMAT_US_SSN);
  assert_int_equal(ask(cfg, CONFIG_DEV_PRINCIPAL, "ipv4:127.0.0.1:1", TV_PERM_KEYS_APPROVE, NULL,
                       NULL),
                   TV_OK);
}

static void test_dev_builtin(void **state) {
  (void)state;
  tv_config *cfg = NULL;
  config_error err;
  assert_int_equal(config_dev(&cfg, &err), TV_OK);
  check_dev(cfg);
  tv_policy *p = config_take_policy(cfg);
  assert_null(cfg->policy);
  policy_handle *h = NULL;
  assert_int_equal(policy_handle_new(p, &h), TV_OK);
  policy_handle_free(h);
  config_free(cfg);
}

static void test_dev_example(void **state) {
  (void)state;
  tv_config *cfg = load_example("tokenvault.dev.yaml");
  check_dev(cfg);
  config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prod_example),
      cmocka_unit_test(test_dev_builtin),
      cmocka_unit_test(test_dev_example),
  };
  return cmocka_run_group_tests(tests, make_meter, free_meter);
}
