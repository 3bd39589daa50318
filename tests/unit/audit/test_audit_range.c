/* A range of the audit log (VerifyAudit's from_seq/to_seq): the verifier
 * counts the lines and checkpoints in the range while it walks the whole
 * log, and tv_audit_verify_range_judge proves a range only when the chain
 * up to it is intact and, for a problem after it, a verified checkpoint
 * seals it first.
 *
 * The log of every test: seq 1 the segment header, 2..11 ten calls, 12 a
 * checkpoint, 13..17 five calls, 18 the closing checkpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/audit/audit_test_util.h"
#include "vault/audit/verifier.h"

static void write_log(audit_fixture *fx) {
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 10);
  assert_int_equal(tv_audit_checkpoint(log), TV_OK);
  audit_test_append(log, 10, 5);
  assert_int_equal(tv_audit_close(log), TV_OK);
}

/* Walks the whole log with the HSM, counting [from, to]. */
static tv_status walk(audit_fixture *fx, uint64_t from, uint64_t to, tv_audit_verify_result *r) {
  size_t count = audit_test_segments(fx);
  assert_int_equal(count, 1);
  size_t len = 0;
  char *buf = audit_test_read(fx->paths[0], &len);
  audit_verifier v;
  audit_verifier_init(&v, r, fx->hsm->hsm, 1);
  audit_verifier_set_range(&v, from, to);
  tv_status st = audit_verifier_file(&v, 0, buf, len);
  if (st == TV_OK) {
    st = audit_verifier_finish(&v);
  }
  free(buf);
  return st;
}

/* Alters a digit of the latency of the entry with |seq| in place. */
static void alter_entry(audit_fixture *fx, unsigned seq) {
  assert_int_equal(audit_test_segments(fx), 1);
  size_t len = 0;
  char *buf = audit_test_read(fx->paths[0], &len);
  char needle[32];
  snprintf(needle, sizeof needle, "{\"seq\":%u,", seq);
  unsigned line = audit_test_find_line(buf, len, needle, 1);
  assert_true(line > 0);
  size_t line_len = 0;
  size_t at = audit_test_line_at(buf, len, line, &line_len);
  char *lat = strstr(buf + at, "\"latency_us\":");
  assert_non_null(lat);
  char *digit = lat + strlen("\"latency_us\":");
  *digit = *digit == '9' ? '8' : (char)(*digit + 1);
  audit_test_write(fx->paths[0], buf, len);
  free(buf);
}

static void test_range_counts(void **state) {
  audit_fixture *fx = *state;
  write_log(fx);
  tv_audit_verify_result r;
  assert_int_equal(walk(fx, 0, 0, &r), TV_OK);
  assert_int_equal(r.last_seq, 18);
  assert_int_equal(r.range_lines, r.lines); /* no range: everything */
  assert_int_equal(r.range_checkpoints, 2);
  assert_int_equal(walk(fx, 3, 5, &r), TV_OK);
  assert_int_equal(r.range_lines, 3);
  assert_int_equal(r.range_checkpoints, 0);
  assert_int_equal(r.lines, 18); /* the walk still covered the whole log */
  assert_int_equal(walk(fx, 10, 12, &r), TV_OK);
  assert_int_equal(r.range_lines, 3);
  assert_int_equal(r.range_checkpoints, 1);
  assert_int_equal(walk(fx, 17, 0, &r), TV_OK); /* to the end */
  assert_int_equal(r.range_lines, 2);
  assert_int_equal(r.range_checkpoints, 1);
  assert_int_equal(walk(fx, 100, 200, &r), TV_OK); /* past the end: nothing in it */
  assert_int_equal(r.range_lines, 0);
}

static void test_judge_intact_log(void **state) {
  audit_fixture *fx = *state;
  write_log(fx);
  tv_audit_verify_result r;
  uint64_t bad = 99;
  tv_status st = walk(fx, 2, 5, &r);
  assert_int_equal(tv_audit_verify_range_judge(&r, st, 2, 5, &bad), TV_OK);
  assert_int_equal(bad, 0);
}

/* seq 14 altered: after the checkpoint at 12. */
static void test_judge_problem_after_sealed_range(void **state) {
  audit_fixture *fx = *state;
  write_log(fx);
  alter_entry(fx, 14);
  tv_audit_verify_result r;
  uint64_t bad = 0;
  tv_status st = walk(fx, 2, 11, &r);
  assert_int_equal(st, TV_E_AUDIT_ENTRY_ALTERED);
  assert_int_equal(r.seq, 14);
  /* 2..11 are chained from the genesis and sealed by checkpoint 12. */
  assert_int_equal(tv_audit_verify_range_judge(&r, st, 2, 11, &bad), TV_OK);
  assert_int_equal(bad, 14);
  assert_int_equal(r.range_lines, 10);
  /* 2..13: seq 13 is not sealed before the problem: not proven. */
  st = walk(fx, 2, 13, &r);
  assert_int_equal(tv_audit_verify_range_judge(&r, st, 2, 13, &bad), TV_E_AUDIT_ENTRY_ALTERED);
  assert_int_equal(bad, 14);
  /* 15..17 follow the altered entry: their chain is broken. */
  st = walk(fx, 15, 17, &r);
  assert_int_equal(tv_audit_verify_range_judge(&r, st, 15, 17, &bad), TV_E_AUDIT_ENTRY_ALTERED);
  assert_int_equal(bad, 14);
  /* Open-ended to the log's end: includes the problem. */
  st = walk(fx, 2, 0, &r);
  assert_int_equal(tv_audit_verify_range_judge(&r, st, 2, 0, &bad), TV_E_AUDIT_ENTRY_ALTERED);
}

/* A problem before the range (seq 4) breaks every range after it. */
static void test_judge_problem_before_range(void **state) {
  audit_fixture *fx = *state;
  write_log(fx);
  alter_entry(fx, 4);
  tv_audit_verify_result r;
  uint64_t bad = 0;
  tv_status st = walk(fx, 13, 17, &r);
  assert_int_equal(tv_audit_verify_range_judge(&r, st, 13, 17, &bad), TV_E_AUDIT_ENTRY_ALTERED);
  assert_int_equal(bad, 4);
  assert_int_equal(r.range_lines, 0); /* the walk never reached the range */
}

/* Without an HSM no checkpoint is verified: nothing after a problem is
 * taken as sealed. */
static void test_judge_needs_verified_seal(void **state) {
  (void)state;
  tv_audit_verify_result r;
  memset(&r, 0, sizeof r);
  r.seq = 14;
  r.last_seq = 13;
  r.last_checkpoint_seq = 12;
  uint64_t bad = 0;
  assert_int_equal(tv_audit_verify_range_judge(&r, TV_E_AUDIT_CHAIN_BROKEN, 2, 11, &bad), TV_E_AUDIT_CHAIN_BROKEN);
  r.macs_checked = 1;
  assert_int_equal(tv_audit_verify_range_judge(&r, TV_E_AUDIT_CHAIN_BROKEN, 2, 11, &bad), TV_OK);
  /* A finding without a seq of its own sits right after the last good line. */
  r.seq = 0;
  assert_int_equal(tv_audit_verify_range_judge(&r, TV_E_AUDIT_MALFORMED, 2, 14, &bad), TV_E_AUDIT_MALFORMED);
  assert_int_equal(bad, 14);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_range_counts, audit_setup, audit_teardown),
      cmocka_unit_test_setup_teardown(test_judge_intact_log, audit_setup, audit_teardown),
      cmocka_unit_test_setup_teardown(test_judge_problem_after_sealed_range, audit_setup, audit_teardown),
      cmocka_unit_test_setup_teardown(test_judge_problem_before_range, audit_setup, audit_teardown),
      cmocka_unit_test(test_judge_needs_verified_seal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
