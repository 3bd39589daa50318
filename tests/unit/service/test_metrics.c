/* The metrics registry and its Prometheus text: exact counts per method
 * and gRPC code, bucket boundaries, cumulative buckets equal to _count,
 * lock-free counting from several threads, label escaping, the size bound
 * of the text buffer and the rejection of out-of-range inputs. */
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

static char *render(const tv_metrics *m) {
  tv_metrics_text t = {0};
  tv_metrics_render_build(&t);
  tv_metrics_render_calls(m, &t);
  assert_false(t.failed);
  assert_non_null(t.data);
  assert_int_equal(strlen(t.data), t.len);
  return t.data;
}

static double sample_double(const char *text, const char *series) {
  const char *p = strstr(text, series);
  assert_non_null(p);
  return strtod(p + strlen(series) + 1, NULL);
}

static void test_empty_registry(void **state) {
  (void)state;
  tv_metrics *m = NULL;
  assert_int_equal(tv_metrics_new(&m), TV_OK);
  char *text = render(m);
  assert_null(strstr(text, "tokenvault_calls_total{"));
  assert_int_equal(metrics_sample(text, "tokenvault_items_total{method=\"Tokenize\"}"), 0);
  assert_int_equal(metrics_sample(text, "tokenvault_call_latency_seconds_count{method=\"Detokenize\"}"), 0);
  assert_int_equal(metrics_sample(text, "tokenvault_call_latency_seconds_bucket{method=\"Detokenize\",le=\"+Inf\"}"), 0);
  assert_non_null(strstr(text, "# TYPE tokenvault_call_latency_seconds histogram\n"));
  assert_non_null(strstr(text, "tokenvault_build_info{version=\""));
  /* Health and WhoAmI are counted (vault_core.c): their zeros are real. */
  assert_int_equal(metrics_sample(text, "tokenvault_call_latency_seconds_count{method=\"Health.Check\"}"), 0);
  assert_int_equal(metrics_sample(text, "tokenvault_items_total{method=\"WhoAmI\"}"), 0);
  free(text);
  tv_metrics_free(m);
}

static void test_counts_by_method_and_code(void **state) {
  (void)state;
  tv_metrics *m = NULL;
  assert_int_equal(tv_metrics_new(&m), TV_OK);
  tv_metrics_call_done(m, TV_METHOD_TOKENIZE, 0, 1000, 1200);
  tv_metrics_call_done(m, TV_METHOD_TOKENIZE, 0, 1, 80);
  tv_metrics_call_done(m, TV_METHOD_TOKENIZE, 3, 2, 90);
  tv_metrics_call_done(m, TV_METHOD_DETOKENIZE, 7, 5, 10);
  tv_metrics_call_done(m, TV_METHOD_DETOKENIZE, 99, 0, 10); /* no such code: UNKNOWN */
  tv_metrics_call_done(m, TV_METHOD_DETOKENIZE, -1, 0, 10);
  char *text = render(m);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"Tokenize\",code=\"OK\"}"), 2);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"Tokenize\",code=\"INVALID_ARGUMENT\"}"), 1);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"Detokenize\",code=\"PERMISSION_DENIED\"}"), 1);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"Detokenize\",code=\"UNKNOWN\"}"), 2);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"Detokenize\",code=\"OK\"}"), -1);
  assert_int_equal(metrics_sample(text, "tokenvault_items_total{method=\"Tokenize\"}"), 1003);
  assert_int_equal(metrics_sample(text, "tokenvault_items_total{method=\"Detokenize\"}"), 5);
  assert_int_equal(metrics_sample(text, "tokenvault_call_latency_seconds_count{method=\"Tokenize\"}"), 3);
  double sum = sample_double(text, "tokenvault_call_latency_seconds_sum{method=\"Tokenize\"}");
  assert_true(sum > 0.001369 && sum < 0.001371); /* 1200 + 80 + 90 us */
  free(text);
  tv_metrics_free(m);
}

static void test_bucket_boundaries(void **state) {
  (void)state;
  tv_metrics *m = NULL;
  assert_int_equal(tv_metrics_new(&m), TV_OK);
  tv_metrics_call_done(m, TV_METHOD_LIST_KEYS, 0, 0, 100);      /* le=0.0001: bounds are inclusive */
  tv_metrics_call_done(m, TV_METHOD_LIST_KEYS, 0, 0, 101);      /* le=0.00025 */
  tv_metrics_call_done(m, TV_METHOD_LIST_KEYS, 0, 0, 5000000);  /* the last finite bucket */
  tv_metrics_call_done(m, TV_METHOD_LIST_KEYS, 0, 0, 5000001);  /* +Inf only */
  tv_metrics_call_done(m, TV_METHOD_LIST_KEYS, 0, 0, UINT64_MAX / 4);
  char *text = render(m);
  const char *b = "tokenvault_call_latency_seconds_bucket{method=\"ListKeys\",le=";
  char series[160];
  snprintf(series, sizeof series, "%s\"0.0001\"}", b);
  assert_int_equal(metrics_sample(text, series), 1);
  snprintf(series, sizeof series, "%s\"0.00025\"}", b);
  assert_int_equal(metrics_sample(text, series), 2);
  snprintf(series, sizeof series, "%s\"2.5\"}", b);
  assert_int_equal(metrics_sample(text, series), 2);
  snprintf(series, sizeof series, "%s\"5\"}", b);
  assert_int_equal(metrics_sample(text, series), 3);
  snprintf(series, sizeof series, "%s\"+Inf\"}", b);
  assert_int_equal(metrics_sample(text, series), 5);
  assert_int_equal(metrics_sample(text, "tokenvault_call_latency_seconds_count{method=\"ListKeys\"}"), 5);
  free(text);
  tv_metrics_free(m);
}

/* Every bucket line of every method: non-decreasing, last == _count. */
static void test_cumulative_and_consistent(void **state) {
  (void)state;
  tv_metrics *m = NULL;
  assert_int_equal(tv_metrics_new(&m), TV_OK);
  for (uint64_t i = 0; i < 3000; i++) {
    tv_metrics_call_done(m, (tv_method_id)(i % TV_METHOD_COUNT), 0, 1, (i * 7919) % 7000000);
  }
  char *text = render(m);
  for (size_t id = 0; id < TV_METHOD_COUNT; id++) {
    const char *name = tv_method_get((tv_method_id)id)->name;
    char series[160]; /* every method was called, so every one is rendered */
    long long prev = 0;
    for (size_t bkt = 0; bkt < TV_METRICS_BUCKETS_COUNT; bkt++) {
      snprintf(series, sizeof series, "tokenvault_call_latency_seconds_bucket{method=\"%s\",le=\"%g\"}", name,
               (double)tv_metrics_bucket_bounds_us[bkt] / 1e6);
      long long v = metrics_sample(text, series);
      assert_true(v >= prev);
      prev = v;
    }
    snprintf(series, sizeof series, "tokenvault_call_latency_seconds_bucket{method=\"%s\",le=\"+Inf\"}", name);
    long long inf = metrics_sample(text, series);
    assert_true(inf >= prev);
    snprintf(series, sizeof series, "tokenvault_call_latency_seconds_count{method=\"%s\"}", name);
    assert_int_equal(metrics_sample(text, series), inf);
    assert_int_equal(inf, 3000 / TV_METHOD_COUNT + (id < 3000 % TV_METHOD_COUNT ? 1 : 0));
  }
  free(text);
  tv_metrics_free(m);
}

#define THREADS 4
#define PER_THREAD 200000

static void *hammer(void *arg) {
  tv_metrics *m = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    tv_metrics_call_done(m, TV_METHOD_GET_TOKEN_INFO, 0, 2, (uint64_t)i % 3000);
  }
  return NULL;
}

/* Relaxed atomics still lose nothing: the totals are exact. */
static void test_concurrent_counts_exact(void **state) {
  (void)state;
  tv_metrics *m = NULL;
  assert_int_equal(tv_metrics_new(&m), TV_OK);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
  }
  char *text = render(m);
  assert_int_equal(metrics_sample(text, "tokenvault_calls_total{method=\"GetTokenInfo\",code=\"OK\"}"), THREADS * PER_THREAD);
  assert_int_equal(metrics_sample(text, "tokenvault_items_total{method=\"GetTokenInfo\"}"), 2LL * THREADS * PER_THREAD);
  assert_int_equal(metrics_sample(text, "tokenvault_call_latency_seconds_count{method=\"GetTokenInfo\"}"), THREADS * PER_THREAD);
  free(text);
  tv_metrics_free(m);
}

static void test_rejected_inputs(void **state) {
  (void)state;
  tv_metrics_call_done(NULL, TV_METHOD_TOKENIZE, 0, 1, 1); /* metrics disabled: no crash */
  assert_int_equal(tv_metrics_new(NULL), TV_E_INVALID_ARGUMENT);
  tv_metrics *m = NULL;
  assert_int_equal(tv_metrics_new(&m), TV_OK);
  tv_metrics_call_done(m, TV_METHOD_COUNT, 0, 1, 1);
  tv_metrics_call_done(m, (tv_method_id)1000, 0, 1, 1);
  char *text = render(m);
  assert_null(strstr(text, "tokenvault_calls_total{"));
  free(text);
  tv_metrics_free(m);
  tv_metrics_free(NULL);
}

static void test_label_escaping(void **state) {
  (void)state;
  tv_metrics_text t = {0};
  tv_metrics_text_printf(&t, "x{ns=\"");
  tv_metrics_text_label(&t, "a\"b\\c\nd");
  tv_metrics_text_printf(&t, "\"} 1\n");
  assert_false(t.failed);
  assert_string_equal(t.data, "x{ns=\"a\\\"b\\\\c\\nd\"} 1\n");
  tv_metrics_text_cleanup(&t);
  assert_null(t.data);
  assert_int_equal(t.len, 0);
}

/* The text stops growing at TV_METRICS_TEXT_BYTES_MAX and says so. */
static void test_text_bound(void **state) {
  (void)state;
  tv_metrics_text t = {0};
  char chunk[1025];
  memset(chunk, 'y', sizeof chunk - 1);
  chunk[sizeof chunk - 1] = '\0';
  for (size_t i = 0; i < 2 * TV_METRICS_TEXT_BYTES_MAX / 1024 && !t.failed; i++) {
    tv_metrics_text_printf(&t, "%s", chunk);
  }
  assert_true(t.failed);
  assert_true(t.len < TV_METRICS_TEXT_BYTES_MAX);
  size_t len = t.len;
  tv_metrics_text_printf(&t, "more");
  assert_int_equal(t.len, len); /* nothing appended after failing */
  tv_metrics_text_cleanup(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_registry),
      cmocka_unit_test(test_counts_by_method_and_code),
      cmocka_unit_test(test_bucket_boundaries),
      cmocka_unit_test(test_cumulative_and_consistent),
      cmocka_unit_test(test_concurrent_counts_exact),
      cmocka_unit_test(test_rejected_inputs),
      cmocka_unit_test(test_label_escaping),
      cmocka_unit_test(test_text_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
