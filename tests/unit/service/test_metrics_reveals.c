/* Reveals per principal (metrics_reveals.c) through the registry: exact
 * counts per principal and level, levels and empty principals ignored,
 * the bound (principal 129 and later under "_other"), label escaping,
 * reveal-limit refusals, item failures by class, and exact totals when
 * several threads count new and known principals at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/service/metrics_sample.h"
#include "vault/service/metrics.h"
#include "vault/service/metrics_reveals.h"

static char *render(const tv_metrics *m) {
  tv_metrics_text t = {0};
  tv_metrics_render_calls(m, &t);
  assert_false(t.failed);
  return t.data;
}

static void test_counts(void **state) {
  (void)state;
  tv_metrics *m = NULL;
  assert_int_equal(tv_metrics_new(&m), TV_OK);
  tv_metrics_revealed(m, "spiffe://finance", "FULL", 1000);
  tv_metrics_revealed(m, "spiffe://finance", "FULL", 24);
  tv_metrics_revealed(m, "spiffe://crm", "MASKED", 3);
  tv_metrics_revealed(m, "spiffe://crm", "NONE", 2);
  tv_metrics_revealed(m, "spiffe://crm", "", 5);        /* not a reveal: ignored */
  tv_metrics_revealed(m, "spiffe://crm", "PARTIAL", 5); /* unknown level: ignored */
  tv_metrics_revealed(m, "", "FULL", 5);                /* no principal: ignored */
  tv_metrics_revealed(NULL, "spiffe://crm", "FULL", 5); /* metrics off */
  tv_metrics_reveal_refused(m, "spiffe://crm");
  tv_metrics_revealed(m, "a \"quoted\" \\ name", "FULL", 1);
  tv_item_outcome o = {.ok = 3};
  o.failed[TV_ITEM_NOT_FOUND] = 2;
  o.failed[TV_ITEM_EXPIRED] = 1;
  tv_metrics_items_failed(m, TV_METHOD_DETOKENIZE, &o);
  tv_metrics_items_failed(m, TV_METHOD_DETOKENIZE, &o);
  char *text = render(m);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_total{principal=\"spiffe://finance\",level=\"FULL\"}"), 1024);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_total{principal=\"spiffe://finance\",level=\"MASKED\"}"), 0);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_total{principal=\"spiffe://crm\",level=\"MASKED\"}"), 3);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_total{principal=\"spiffe://crm\",level=\"NONE\"}"), 2);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_total{principal=\"spiffe://crm\",level=\"FULL\"}"), 0);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_total{principal=\"_other\",level=\"FULL\"}"), 0);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_total{principal=\"a \\\"quoted\\\" \\\\ name\",level=\"FULL\"}"), 1);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_refused_total{principal=\"spiffe://crm\"}"), 1);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_refused_total{principal=\"spiffe://finance\"}"), 0);
  assert_int_equal(metrics_sample(text, "tokenvault_item_failures_total{method=\"Detokenize\",class=\"not_found\"}"), 4);
  assert_int_equal(metrics_sample(text, "tokenvault_item_failures_total{method=\"Detokenize\",class=\"expired\"}"), 2);
  assert_int_equal(metrics_sample(text, "tokenvault_item_failures_total{method=\"Detokenize\",class=\"deleted\"}"), -1);
  assert_non_null(strstr(text, "# TYPE tokenvault_reveals_total counter\n"));
  assert_non_null(strstr(text, "# TYPE tokenvault_item_failures_total counter\n"));
  free(text);
  tv_metrics_free(m);
}

static void test_bound(void **state) {
  (void)state;
  tv_metrics *m = NULL;
  assert_int_equal(tv_metrics_new(&m), TV_OK);
  char name[32];
  for (unsigned i = 0; i < TV_METRICS_PRINCIPALS_MAX + 10; i++) {
    snprintf(name, sizeof name, "svc-%u", i);
    tv_metrics_revealed(m, name, "FULL", 1);
  }
  tv_metrics_revealed(m, "svc-0", "FULL", 1); /* a known one still has its own */
  char long_name[POLICY_PRINCIPAL_LEN_MAX + 2];
  memset(long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  tv_metrics_revealed(m, long_name, "FULL", 1);
  char *text = render(m);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_total{principal=\"svc-0\",level=\"FULL\"}"), 2);
  snprintf(name, sizeof name, "svc-%u", TV_METRICS_PRINCIPALS_MAX - 1);
  char series[96];
  snprintf(series, sizeof series, "tokenvault_reveals_total{principal=\"%s\",level=\"FULL\"}", name);
  assert_int_equal(metrics_sample(text, series), 1);
  snprintf(series, sizeof series, "tokenvault_reveals_total{principal=\"svc-%u\",level=\"FULL\"}",
           TV_METRICS_PRINCIPALS_MAX);
  assert_int_equal(metrics_sample(text, series), -1);
  assert_int_equal(metrics_sample(text, "tokenvault_reveals_total{principal=\"_other\",level=\"FULL\"}"), 11);
  free(text);
  tv_metrics_free(m);
}

#define THREADS 4
#define ROUNDS 2048 /* a multiple of 64 */

static void *count_many(void *arg) {
  tv_metrics *m = arg;
  char name[32];
  for (unsigned i = 0; i < ROUNDS; i++) {
    snprintf(name, sizeof name, "p-%u", i % 64); /* all threads race to add the same 64 */
    tv_metrics_revealed(m, name, "MASKED", 1);
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  tv_metrics *m = NULL;
  assert_int_equal(tv_metrics_new(&m), TV_OK);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_create(&th[i], NULL, count_many, m), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
  }
  char *text = render(m);
  long long total = 0;
  char series[96];
  for (unsigned i = 0; i < 64; i++) {
    snprintf(series, sizeof series, "tokenvault_reveals_total{principal=\"p-%u\",level=\"MASKED\"}", i);
    long long v = metrics_sample(text, series);
    assert_int_equal(v, THREADS * ROUNDS / 64); /* one series each, none doubled */
    total += v;
  }
  assert_int_equal(total, THREADS * ROUNDS);
  free(text);
  tv_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts),
      cmocka_unit_test(test_bound),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
