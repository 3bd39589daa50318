/* The database families of a fleet node (metrics_db.c) on fixed stats:
 * every tokenvault_db_* family with its value, the histograms cumulative
 * with +Inf equal to _count, the server labels escaped, no timeline
 * sample before any connection; and nothing at all for a store that is
 * not postgres (a log store). */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vault/daemon/metrics_db.h"

static void assert_has(const tv_metrics_text *out, const char *want) {
  if (strstr(out->data, want) == NULL) {
    fail_msg("missing:\n%s\nin:\n%s", want, out->data);
  }
}

static void test_render(void **state) {
  (void)state;
  tv_pg_store_stats db = {.reconnects = 3, .failovers = 1, .read_only_refusals = 2, .connected = 1,
                          .timeline = 2, .batch_rows_sum = 300, .reads = 5, .read_us_sum = 2500,
                          .read_us_max = 1500, .read_retries = 4, .readers_open = 6, .readers_idle = 5,
                          .readers_max = 16};
  strcpy(db.host, "db-\"b\"");
  strcpy(db.port, "5433");
  db.batch_rows_buckets[0] = 10; /* 1 op */
  db.batch_rows_buckets[3] = 2;  /* 5..8 ops */
  db.batch_rows_buckets[8] = 1;  /* 129..256 ops */
  db.read_buckets[0] = 4;
  db.read_buckets[TV_LATENCY_BUCKETS_COUNT] = 1; /* slower than every bound */
  tv_store_stats st = {0};
  st.fsync_buckets[1] = 7;
  st.fsync_us_sum = 7000;
  st.fsync_us_max = 2000;
  tv_metrics_text out = {0};
  tv_metrics_render_db_stats(&db, &st, &out);
  assert_false(out.failed);
  static const char *const want[] = {
      "# TYPE tokenvault_db_connected gauge\ntokenvault_db_connected 1\n",
      "# TYPE tokenvault_db_reconnects_total counter\ntokenvault_db_reconnects_total 3\n",
      "# TYPE tokenvault_db_failovers_total counter\ntokenvault_db_failovers_total 1\n",
      "# TYPE tokenvault_db_read_only_refusals_total counter\ntokenvault_db_read_only_refusals_total 2\n",
      "tokenvault_db_timeline{host=\"db-\\\"b\\\"\",port=\"5433\"} 2\n",
      "# TYPE tokenvault_db_batch_rows histogram\ntokenvault_db_batch_rows_bucket{le=\"1\"} 10\n",
      "tokenvault_db_batch_rows_bucket{le=\"4\"} 10\ntokenvault_db_batch_rows_bucket{le=\"8\"} 12\n",
      "tokenvault_db_batch_rows_bucket{le=\"128\"} 12\ntokenvault_db_batch_rows_bucket{le=\"256\"} 13\n"
      "tokenvault_db_batch_rows_bucket{le=\"512\"} 13\ntokenvault_db_batch_rows_bucket{le=\"1024\"} 13\n"
      "tokenvault_db_batch_rows_bucket{le=\"+Inf\"} 13\ntokenvault_db_batch_rows_sum 300\n"
      "tokenvault_db_batch_rows_count 13\n",
      "# TYPE tokenvault_db_commit_seconds histogram\n",
      "tokenvault_db_commit_seconds_bucket{le=\"+Inf\"} 7\ntokenvault_db_commit_seconds_sum 0.007000\n"
      "tokenvault_db_commit_seconds_count 7\n",
      "tokenvault_db_commit_max_seconds 0.002000\n",
      "tokenvault_db_read_seconds_bucket{le=\"+Inf\"} 5\ntokenvault_db_read_seconds_sum 0.002500\n"
      "tokenvault_db_read_seconds_count 5\n",
      "tokenvault_db_read_max_seconds 0.001500\n",
      "# TYPE tokenvault_db_read_retries_total counter\ntokenvault_db_read_retries_total 4\n",
      "# TYPE tokenvault_db_readers_open gauge\ntokenvault_db_readers_open 6\n",
      "# TYPE tokenvault_db_readers_idle gauge\ntokenvault_db_readers_idle 5\n",
      "# TYPE tokenvault_db_readers_max gauge\ntokenvault_db_readers_max 16\n",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_has(&out, want[i]);
  }
  /* The read histogram's first bucket holds the 4 fast reads, cumulative. */
  char first[128];
  snprintf(first, sizeof first, "tokenvault_db_read_seconds_bucket{le=\"%g\"} 4\n",
           (double)tv_latency_bounds_us[0] / 1e6);
  assert_has(&out, first);
  tv_metrics_text_cleanup(&out);
}

/* Before the writer ever connected: connected 0, the timeline family
 * announced with no sample (no server to name). */
static void test_render_never_connected(void **state) {
  (void)state;
  tv_pg_store_stats db = {0};
  tv_store_stats st = {0};
  tv_metrics_text out = {0};
  tv_metrics_render_db_stats(&db, &st, &out);
  assert_false(out.failed);
  assert_has(&out, "tokenvault_db_connected 0\n");
  assert_has(&out, "# TYPE tokenvault_db_timeline gauge\n");
  assert_null(strstr(out.data, "tokenvault_db_timeline{"));
  tv_metrics_text_cleanup(&out);
}

/* The read replica families: every state as a series with the current
 * one 1, fallbacks by reason, the bound, the proven lag; the lag sample
 * absent without a proof; nothing without a read replica. */
static void test_render_replica(void **state) {
  (void)state;
  tv_pg_replica_stats r = {.configured = 1, .state = TV_PG_REPLICA_LAGGING, .lag_max_ms = 1000,
                           .staleness_known = 1, .staleness_ms = 1250, .lag_bytes = 4096, .reads = 7,
                           .rechecks = 3};
  r.fallbacks[TV_PG_REPLICA_FALLBACK_LAG] = 2;
  r.fallbacks[TV_PG_REPLICA_FALLBACK_OWN_WRITE] = 5;
  tv_metrics_text out = {0};
  tv_metrics_render_db_replica(&r, &out);
  assert_false(out.failed);
  static const char *const want[] = {
      "# TYPE tokenvault_db_replica_state gauge\ntokenvault_db_replica_state{state=\"ok\"} 0\n"
      "tokenvault_db_replica_state{state=\"lagging\"} 1\ntokenvault_db_replica_state{state=\"unreachable\"} 0\n"
      "tokenvault_db_replica_state{state=\"not_standby\"} 0\n"
      "tokenvault_db_replica_state{state=\"primary_unknown\"} 0\n",
      "# TYPE tokenvault_db_replica_reads_total counter\ntokenvault_db_replica_reads_total 7\n",
      "# TYPE tokenvault_db_replica_rechecks_total counter\ntokenvault_db_replica_rechecks_total 3\n",
      "tokenvault_db_replica_fallbacks_total{reason=\"lag\"} 2\n"
      "tokenvault_db_replica_fallbacks_total{reason=\"unreachable\"} 0\n"
      "tokenvault_db_replica_fallbacks_total{reason=\"not_standby\"} 0\n"
      "tokenvault_db_replica_fallbacks_total{reason=\"own_write\"} 5\n",
      "tokenvault_db_replica_lag_max_seconds 1.000\n",
      "# TYPE tokenvault_db_replica_lag_seconds gauge\ntokenvault_db_replica_lag_seconds 1.250\n",
      "tokenvault_db_replica_lag_bytes 4096.000\n",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_has(&out, want[i]);
  }
  tv_metrics_text_cleanup(&out);
  r.staleness_known = 0;
  tv_metrics_render_db_replica(&r, &out);
  assert_has(&out, "# TYPE tokenvault_db_replica_lag_seconds gauge\n");
  assert_null(strstr(out.data, "\ntokenvault_db_replica_lag_seconds "));
  tv_metrics_text_cleanup(&out);
  tv_pg_replica_stats none = {0};
  tv_metrics_render_db_replica(&none, &out);
  assert_int_equal(out.len, 0);
  tv_metrics_text_cleanup(&out);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* A log store (the default backend) is not a database: tv_metrics_render_db appends nothing. */
static void test_log_store_renders_nothing(void **state) {
  (void)state;
  char dir[] = "/tmp/tv_metrics_db_XXXXXX";
  assert_non_null(mkdtemp(dir));
  tv_store_options opts = {.dir = dir};
  tv_store *store = NULL;
  assert_int_equal(tv_store_open(NULL, &opts, &store, NULL), TV_OK);
  tv_metrics_text out = {0};
  tv_metrics_render_db(store, &out);
  assert_int_equal(out.len, 0);
  tv_store_close(store);
  tv_metrics_text_cleanup(&out);
  assert_int_equal(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_render),
      cmocka_unit_test(test_render_never_connected),
      cmocka_unit_test(test_render_replica),
      cmocka_unit_test(test_log_store_renders_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
