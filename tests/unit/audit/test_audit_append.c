/* Appending: durable, chained, batched across threads, sealed by
 * checkpoints (by count, by time, at rotation and at close), and continued
 * after a reopen. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsm/counter.h"
#include "tests/unit/audit/audit_test_util.h"
#include "vault/audit/audit_limits.h"

#define THREADS 16
#define PER_THREAD 150

typedef struct producer {
  tv_audit_log *log;
  unsigned index;
  uint64_t seqs[PER_THREAD];
  int failures;
} producer;

static void *produce(void *arg) {
  producer *p = arg;
  for (unsigned i = 0; i < PER_THREAD; i++) {
    tv_audit_entry e = audit_test_entry(p->index * PER_THREAD + i);
    if (tv_audit_append(p->log, &p->seqs[i], &e) != TV_OK) {
      p->failures++;
    }
  }
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_many_threads_durable_and_chained(void **state) {
  audit_fixture *fx = *state;
  fx->config.checkpoint_entries = 100;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  static producer producers[THREADS];
  pthread_t threads[THREADS];
  for (unsigned t = 0; t < THREADS; t++) {
    producers[t] = (producer){.log = log, .index = t};
    assert_int_equal(pthread_create(&threads[t], NULL, produce, &producers[t]), 0);
  }
  for (unsigned t = 0; t < THREADS; t++) {
    assert_int_equal(pthread_join(threads[t], NULL), 0);
    assert_int_equal(producers[t].failures, 0);
  }
  tv_audit_stats stats;
  tv_audit_stats_get(log, &stats);
  print_message("entries %llu syncs %llu checkpoints %llu\n", (unsigned long long)stats.entries,
                (unsigned long long)stats.syncs, (unsigned long long)stats.checkpoints);
  assert_int_equal(stats.entries, THREADS * PER_THREAD);
  /* A checkpoint seals the batch that reaches 100 lines: at most a batch
   * (one entry per producer) later. */
  assert_true(stats.checkpoints >= THREADS * PER_THREAD / (100 + THREADS));
  assert_true(stats.syncs < stats.entries); /* group commit did batch */
  /* Every acknowledged entry got its own sequence number. */
  static uint64_t all[THREADS * PER_THREAD];
  for (unsigned t = 0; t < THREADS; t++) {
    memcpy(all + t * PER_THREAD, producers[t].seqs, sizeof producers[t].seqs);
  }
  qsort(all, THREADS * PER_THREAD, sizeof all[0], cmp_u64);
  for (size_t i = 1; i < THREADS * PER_THREAD; i++) {
    assert_true(all[i] > all[i - 1]);
  }
  /* Durable before acknowledged: the file verifies while the log is still
   * open (no close, no final checkpoint yet). */
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.calls, THREADS * PER_THREAD);
  assert_int_equal(tv_audit_close(log), TV_OK);
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.calls, THREADS * PER_THREAD);
  assert_int_equal(r.unsealed, 0);
  assert_int_equal(r.counter, r.last_checkpoint_seq);
  assert_int_equal(r.last_checkpoint_seq, r.last_seq);
}

typedef struct async_state {
  pthread_mutex_t mu;
  unsigned done;
  unsigned ok;
  uint64_t last_seq;
  int ordered;
} async_state;

static void on_done(void *arg, tv_status status, uint64_t seq) {
  async_state *s = arg;
  pthread_mutex_lock(&s->mu);
  s->done++;
  if (status == TV_OK) {
    s->ok++;
    s->ordered = s->ordered && seq > s->last_seq;
    s->last_seq = seq;
  }
  pthread_mutex_unlock(&s->mu);
}

static void test_async_callbacks(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  async_state s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 1};
  for (unsigned i = 0; i < 500; i++) {
    tv_audit_entry e = audit_test_entry(i);
    assert_int_equal(tv_audit_append_async(log, &e, on_done, &s), TV_OK);
  }
  tv_audit_entry bad = audit_test_entry(1);
  bad.ns = "\xff";
  assert_int_equal(tv_audit_append_async(log, &bad, on_done, &s), TV_E_AUDIT_ENTRY_INVALID);
  assert_int_equal(tv_audit_close(log), TV_OK); /* drains the queue */
  assert_int_equal(s.done, 500);
  assert_int_equal(s.ok, 500);
  assert_true(s.ordered);
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.calls, 500);
}

static void test_checkpoints_by_count_and_time(void **state) {
  audit_fixture *fx = *state;
  fx->config.checkpoint_entries = 10;
  fx->config.checkpoint_interval_ms = 60000; /* by count only, however slow the disk */
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 25);
  tv_audit_stats stats;
  tv_audit_stats_get(log, &stats);
  assert_int_equal(stats.checkpoints, 2); /* at seq 11 and 22 */
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.checkpoints, 2);
  assert_int_equal(r.unsealed, 6); /* seq 23..28 */
  assert_int_equal(tv_audit_close(log), TV_OK); /* seals them */
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.checkpoints, 3);
  assert_int_equal(r.unsealed, 0);
  /* Reopened with a short interval: nothing appended for a while, and the
   * writer seals the tail by itself. */
  fx->config.checkpoint_interval_ms = 150;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 100, 3);
  usleep(600 * 1000);
  tv_audit_stats_get(log, &stats);
  assert_true(stats.checkpoints >= 1); /* 2 if the 3 appends took > 150 ms */
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.unsealed, 0);
  assert_int_equal(r.checkpoints, 3 + stats.checkpoints);
  assert_int_equal(r.counter, r.last_seq);
  uint64_t lines = r.lines;
  assert_int_equal(tv_audit_close(log), TV_OK);
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.lines, lines); /* nothing new to seal at close */
}

static void test_rotation_continues_the_chain(void **state) {
  audit_fixture *fx = *state;
  fx->config.segment_bytes_max = AUDIT_SEGMENT_BYTES_MIN;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 120);
  assert_int_equal(tv_audit_close(log), TV_OK);
  size_t segments = audit_test_segments(fx);
  print_message("%zu segments\n", segments);
  assert_true(segments >= 5);
  /* Each closed segment ends with its sealing checkpoint. */
  for (size_t i = 0; i + 1 < segments; i++) {
    size_t len = 0;
    char *buf = audit_test_read(fx->paths[i], &len);
    assert_true(len > 1 && buf[len - 1] == '\n');
    buf[len - 1] = '\0';
    const char *last = strrchr(buf, '\n');
    assert_non_null(strstr(last != NULL ? last : buf, "\"type\":\"checkpoint\""));
    free(buf);
  }
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.calls, 120);
  assert_int_equal(r.segments, segments);
  /* Reopened, the writer picks the chain up from the newest segment. */
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 200, 30);
  assert_int_equal(tv_audit_close(log), TV_OK);
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.calls, 150);
  assert_true(r.segments > segments);
}

static void test_reopen_continues_and_cuts_a_torn_line(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 10);
  assert_int_equal(tv_audit_close(log), TV_OK);
  /* A crash in the middle of a write leaves part of a line. */
  assert_int_equal(audit_test_segments(fx), 1);
  FILE *f = fopen(fx->paths[0], "ab");
  assert_non_null(f);
  fputs("{\"seq\":13,\"type\":\"call\",\"time_", f);
  fclose(f);
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  uint64_t seq = 0;
  tv_audit_entry e = audit_test_entry(99);
  assert_int_equal(tv_audit_append(log, &seq, &e), TV_OK);
  assert_int_equal(seq, 13); /* header, 10 entries, checkpoint, then this */
  assert_int_equal(tv_audit_close(log), TV_OK);
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.calls, 11);
  assert_int_equal(r.checkpoints, 2);
}

static void test_refusals(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  tv_audit_log *second = NULL;
  assert_int_equal(tv_audit_open(&second, &fx->config), TV_E_AUDIT_UNAVAILABLE);
  assert_null(second);
  char longer[AUDIT_FIELD_BYTES_MAX + 2];
  memset(longer, 'x', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  tv_audit_entry e = audit_test_entry(1);
  e.purpose = longer;
  uint64_t seq = 7;
  assert_int_equal(tv_audit_append(log, &seq, &e), TV_E_AUDIT_ENTRY_INVALID);
  assert_int_equal(seq, 0);
  tv_audit_entry alert = {.type = TV_AUDIT_ALERT, .alert = "reveal_rate_exceeded",
                          .principal = "spiffe://crm", .ns = "pan", .items = 101, .limit = 100,
                          .detail = "101 full reveals in 60 s"};
  assert_int_equal(tv_audit_append(log, &seq, &alert), TV_OK);
  assert_int_equal(tv_audit_close(log), TV_OK);
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.alerts, 1);
  assert_int_equal(r.calls, 0);
  /* A missing MAC key is refused before a log is created. */
  fx->config.mac_label = "no-such-key";
  char other[PATH_MAX + 16];
  snprintf(other, sizeof other, "%s/other", fx->hsm->root);
  fx->config.dir = other;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_E_HSM_KEY_NOT_FOUND);
  fx->config.mac_label = "bad\"label";
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_E_INVALID_ARGUMENT);
}

static void test_reopen_refuses_a_cut_log(void **state) {
  audit_fixture *fx = *state;
  fx->config.checkpoint_entries = 5;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 12);
  assert_int_equal(tv_audit_close(log), TV_OK);
  assert_int_equal(audit_test_segments(fx), 1);
  size_t len = 0;
  char *buf = audit_test_read(fx->paths[0], &len);
  size_t line_len = 0;
  size_t at = audit_test_line_at(buf, len, 6, &line_len); /* after the 1st checkpoint */
  audit_test_write(fx->paths[0], buf, at + line_len + 1);
  free(buf);
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_E_AUDIT_TRUNCATED);
  assert_null(log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_many_threads_durable_and_chained, audit_setup,
                                      audit_teardown),
      cmocka_unit_test_setup_teardown(test_async_callbacks, audit_setup, audit_teardown),
      cmocka_unit_test_setup_teardown(test_checkpoints_by_count_and_time, audit_setup,
                                      audit_teardown),
      cmocka_unit_test_setup_teardown(test_rotation_continues_the_chain, audit_setup,
                                      audit_teardown),
      cmocka_unit_test_setup_teardown(test_reopen_continues_and_cuts_a_torn_line, audit_setup,
                                      audit_teardown),
      cmocka_unit_test_setup_teardown(test_refusals, audit_setup, audit_teardown),
      cmocka_unit_test_setup_teardown(test_reopen_refuses_a_cut_log, audit_setup,
                                      audit_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
