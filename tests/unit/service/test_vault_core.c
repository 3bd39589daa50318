/* vault_core.c: which ended calls the vault counts itself (Health, WhoAmI,
 * and calls refused before their handler ran), that they land in the
 * metrics registry with code and latency but no items, that nothing is
 * counted without a registry, and which WhoAmI options a plaintext and a
 * TLS vault install. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vault/config/config.h"
#include "tests/unit/service/metrics_sample.h"
#include "vault/service/metrics.h"
#include "vault/service/vault_core.h"
#include "vault/service/whoami_vault.h"

static char *render(const tv_metrics *m) {
  tv_metrics_text t = {0};
  tv_metrics_render_calls(m, &t);
  assert_false(t.failed);
  return t.data;
}

static void test_counts_only_what_svc_call_does_not(void **state) {
  (void)state;
  tv_call_end e = {.method = TV_METHOD_HEALTH_CHECK, .handled = 1};
  assert_true(tv_vault_core_counts(&e));
  e.method = TV_METHOD_HEALTH_WATCH;
  assert_true(tv_vault_core_counts(&e));
  e.method = TV_METHOD_WHO_AM_I; /* the vault's WhoAmI goes through svc_call */
  assert_false(tv_vault_core_counts(&e));
  e.method = TV_METHOD_TOKENIZE; /* its handler ran: svc_call counted it */
  assert_false(tv_vault_core_counts(&e));
  e.handled = 0; /* refused before the handler: only seen here */
  assert_true(tv_vault_core_counts(&e));
  e.method = TV_METHOD_DETOKENIZE_STREAM;
  assert_true(tv_vault_core_counts(&e));
}

static void test_call_end_counts_into_registry(void **state) {
  (void)state;
  tv_vault v;
  memset(&v, 0, sizeof v);
  assert_int_equal(tv_metrics_new(&v.metrics), TV_OK);
  tv_vault_core_call_end(&v, &(tv_call_end){.method = TV_METHOD_HEALTH_CHECK, .code = 0, .handled = 1,
                                            .latency_us = 50});
  tv_vault_core_call_end(&v, &(tv_call_end){.method = TV_METHOD_HEALTH_WATCH, .code = 1, .handled = 1,
                                            .latency_us = 2000000});
  tv_vault_core_call_end(&v, &(tv_call_end){.method = TV_METHOD_TOKENIZE, .code = 3, .handled = 0,
                                            .latency_us = 10});
  tv_vault_core_call_end(&v, &(tv_call_end){.method = TV_METHOD_TOKENIZE, .code = 0, .handled = 1,
                                            .latency_us = 10});
  char *text = render(v.metrics);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"Health.Check\",code=\"OK\"}"), 1);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"Health.Watch\",code=\"CANCELLED\"}"), 1);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"Tokenize\",code=\"INVALID_ARGUMENT\"}"), 1);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"Tokenize\",code=\"OK\"}"), -1);
  assert_int_equal(metrics_sample(text, "tokenvault_items_total{method=\"Tokenize\"}"), 0);
  assert_int_equal(metrics_sample(text, "tokenvault_call_latency_seconds_bucket{method=\"Health.Check\",le=\"0.0001\"}"), 1);
  assert_int_equal(metrics_sample(text, "tokenvault_call_latency_seconds_bucket{method=\"Health.Watch\",le=\"1\"}"), 0);
  free(text);
  tv_metrics_free(v.metrics);
}

static void test_call_end_without_metrics_is_a_no_op(void **state) {
  (void)state;
  tv_vault v;
  memset(&v, 0, sizeof v); /* metrics NULL: no metrics port */
  tv_vault_core_call_end(&v, &(tv_call_end){.method = TV_METHOD_WHO_AM_I, .handled = 1});
  tv_vault_core_call_end(&v, &(tv_call_end){.method = (tv_method_id)TV_METHOD_COUNT, .handled = 0});
}

static void test_fill_whoami_handler(void **state) {
  (void)state;
  tv_vault v;
  memset(&v, 0, sizeof v);
  tv_service svc;
  memset(&svc, 0, sizeof svc);
  v.plaintext = 1;
  tv_vault_core_fill(&svc, &v);
  /* The vault's own WhoAmI: audited, with roles, over the vault. */
  assert_ptr_equal(svc.handlers[TV_METHOD_WHO_AM_I].fn, tv_vault_whoami);
  assert_ptr_equal(svc.handlers[TV_METHOD_WHO_AM_I].impl, &v);
  assert_ptr_equal(svc.on_call_end, tv_vault_core_call_end);
  assert_ptr_equal(svc.on_call_end_ctx, &v);
  assert_null(svc.handlers[TV_METHOD_HEALTH_CHECK].fn); /* the built-in one stays */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_only_what_svc_call_does_not),
      cmocka_unit_test(test_call_end_counts_into_registry),
      cmocka_unit_test(test_call_end_without_metrics_is_a_no_op),
      cmocka_unit_test(test_fill_whoami_handler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
