/* The audit log's fdatasync latency statistics: each sync lands in the
 * bucket its duration belongs to (bounds inclusive, the rest in +Inf),
 * sum and max follow, and a real log's buckets add up to its syncs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/audit/audit_test_util.h"
#include "vault/audit/audit_internal.h"

static uint64_t bucket_total(const tv_audit_stats *s) {
  uint64_t n = 0;
  for (size_t b = 0; b <= TV_LATENCY_BUCKETS_COUNT; b++) {
    n += s->sync_buckets[b];
  }
  return n;
}

static void test_buckets_and_max(void **state) {
  (void)state;
  tv_audit_stats s;
  memset(&s, 0, sizeof s);
  audit_stats_sync(&s, 0);
  audit_stats_sync(&s, tv_latency_bounds_us[0]);     /* on the bound: that bucket */
  audit_stats_sync(&s, tv_latency_bounds_us[0] + 1); /* just past: the next */
  audit_stats_sync(&s, tv_latency_bounds_us[TV_LATENCY_BUCKETS_COUNT - 1] + 1);
  assert_int_equal(s.sync_buckets[0], 2);
  assert_int_equal(s.sync_buckets[1], 1);
  assert_int_equal(s.sync_buckets[TV_LATENCY_BUCKETS_COUNT], 1); /* +Inf */
  assert_int_equal(s.syncs, 4);
  assert_int_equal(s.sync_us_max, tv_latency_bounds_us[TV_LATENCY_BUCKETS_COUNT - 1] + 1);
  assert_int_equal(s.sync_us_sum, 2 * tv_latency_bounds_us[0] + 1 + s.sync_us_max);
  for (size_t b = 1; b < TV_LATENCY_BUCKETS_COUNT; b++) {
    assert_true(tv_latency_bounds_us[b] > tv_latency_bounds_us[b - 1]);
  }
}

static void test_log_records_sync_latency(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 20);
  assert_int_equal(tv_audit_checkpoint(log), TV_OK);
  tv_audit_stats s;
  tv_audit_stats_get(log, &s);
  print_message("syncs %llu sum %llu us max %llu us\n", (unsigned long long)s.syncs,
                (unsigned long long)s.sync_us_sum, (unsigned long long)s.sync_us_max);
  assert_true(s.syncs >= 21); /* one per blocking append, one for the checkpoint */
  assert_int_equal(bucket_total(&s), s.syncs);
  assert_true(s.sync_us_max <= s.sync_us_sum);
  assert_true(s.sync_us_sum <= s.syncs * s.sync_us_max);
  assert_int_equal(tv_audit_close(log), TV_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buckets_and_max),
      cmocka_unit_test_setup_teardown(test_log_records_sync_latency, audit_setup, audit_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
