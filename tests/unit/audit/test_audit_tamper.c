/* Tampering: every edit, deletion, reordering, truncation, missing segment
 * and forged MAC is found, at the first bad spot, with the right kind. */
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
#include "vault/audit/chain.h"
#include "vault/audit/line.h"
#include "vault/audit/text.h"

/* 35 entries, a checkpoint every 10 lines, closed: one segment whose line
 * numbers are the sequence numbers: 1 header, checkpoints at 11, 22, 33
 * and 40 (at close). */
static void build_log(audit_fixture *fx) {
  fx->config.checkpoint_entries = 10;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 35);
  assert_int_equal(tv_audit_close(log), TV_OK);
  assert_int_equal(audit_test_segments(fx), 1);
}

typedef struct log_file {
  char *buf;
  size_t len;
} log_file;

static log_file load(audit_fixture *fx) {
  log_file f;
  f.buf = audit_test_read(fx->paths[0], &f.len);
  return f;
}

static void store(audit_fixture *fx, log_file *f) {
  audit_test_write(fx->paths[0], f->buf, f->len);
  free(f->buf);
  f->buf = NULL;
}

static void expect_problem(audit_fixture *fx, tv_status kind, size_t file_index, uint64_t line,
                           uint64_t seq, const char *text) {
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), kind);
  assert_int_equal(r.status, kind);
  assert_int_equal(r.file_index, file_index);
  assert_int_equal(r.line, line);
  assert_int_equal(r.seq, seq);
  if (strstr(r.text, text) == NULL) {
    fail_msg("'%s' not in '%s'", text, r.text);
  }
}

/* Re-hashes lines |from|.. so that each carries the hash of the line
 * before it and its own correct hash: what someone who can write the file
 * but has no MAC key can do. */
static void rechain(log_file *f, unsigned from) {
  uint8_t prev[AUDIT_HASH_LEN] = {0};
  size_t pos = 0;
  for (unsigned line = 1; pos < f->len; line++) {
    char *text = f->buf + pos;
    char *nl = memchr(text, '\n', f->len - pos);
    assert_non_null(nl);
    size_t len = (size_t)(nl - text);
    audit_line l;
    const char *why = NULL;
    assert_int_equal(audit_line_parse(&l, &why, text, len), TV_OK);
    if (line >= from) {
      char *prev_hex = strstr(text, ",\"prev\":\"") + 9;
      audit_hex_encode(prev_hex, prev, sizeof prev);
      assert_int_equal(audit_chain_hash(l.hash, text, l.hash_prefix_len), TV_OK);
      audit_hex_encode(text + l.hash_prefix_len + 9, l.hash, sizeof l.hash);
    }
    memcpy(prev, l.hash, sizeof prev);
    pos += len + 1;
  }
}

static void test_intact_log(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.lines, 40);
  assert_int_equal(r.calls, 35);
  assert_int_equal(r.checkpoints, 4);
  assert_int_equal(r.last_checkpoint_seq, 40);
  assert_int_equal(r.counter, 40);
  log_file f = load(fx);
  assert_int_equal(audit_test_find_line(f.buf, f.len, "\"type\":\"checkpoint\"", 1), 11);
  assert_int_equal(audit_test_find_line(f.buf, f.len, "\"type\":\"checkpoint\"", 12), 22);
  free(f.buf);
}

static void test_edited_byte(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  log_file f = load(fx);
  size_t len = 0;
  size_t at = audit_test_line_at(f.buf, f.len, 5, &len);
  char *p = strstr(f.buf + at, "\"items\":");
  assert_non_null(p);
  p[8] = p[8] == '9' ? '8' : (char)(p[8] + 1); /* 3 items become 4 */
  store(fx, &f);
  expect_problem(fx, TV_E_AUDIT_ENTRY_ALTERED, 0, 5, 5, "entry altered");
}

static void test_edited_and_rehashed_breaks_the_link(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  log_file f = load(fx);
  size_t len = 0;
  size_t at = audit_test_line_at(f.buf, f.len, 5, &len);
  char *p = strstr(f.buf + at, "\"ns\":\"pan\"");
  p[6] = 'x';
  /* Only line 5 gets a fresh hash: line 6 still names the old one. */
  log_file copy = {malloc(f.len), f.len};
  memcpy(copy.buf, f.buf, f.len);
  rechain(&copy, 5);
  memcpy(f.buf + at, copy.buf + at, len);
  free(copy.buf);
  store(fx, &f);
  expect_problem(fx, TV_E_AUDIT_CHAIN_BROKEN, 0, 6, 6, "broken hash link");
}

static void test_rewritten_chain_fails_at_the_next_mac(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  log_file f = load(fx);
  size_t len = 0;
  size_t at = audit_test_line_at(f.buf, f.len, 5, &len);
  strstr(f.buf + at, "\"ns\":\"pan\"")[6] = 'x';
  rechain(&f, 5);
  store(fx, &f);
  expect_problem(fx, TV_E_AUDIT_MAC_INVALID, 0, 11, 11, "bad MAC");
  /* Without the HSM the rewritten chain looks fine: why verify needs it. */
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 0), TV_OK);
  assert_int_equal(r.macs_checked, 0);
  assert_int_equal(r.counter_checked, 0);
}

static void test_forged_checkpoint_mac(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  log_file f = load(fx);
  size_t len = 0;
  size_t at = audit_test_line_at(f.buf, f.len, 22, &len);
  char *mac = strstr(f.buf + at, ",\"mac\":\"") + 8;
  mac[0] = mac[0] == 'a' ? 'b' : 'a';
  rechain(&f, 22);
  store(fx, &f);
  expect_problem(fx, TV_E_AUDIT_MAC_INVALID, 0, 22, 22, "checkpoint seq 22 is not sealed");
}

static void remove_line(log_file *f, unsigned line) {
  size_t len = 0;
  size_t at = audit_test_line_at(f->buf, f->len, line, &len);
  memmove(f->buf + at, f->buf + at + len + 1, f->len - at - len - 1);
  f->len -= len + 1;
}

static void test_deleted_entry(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  log_file f = load(fx);
  remove_line(&f, 7);
  store(fx, &f);
  expect_problem(fx, TV_E_AUDIT_SEQUENCE_GAP, 0, 7, 8, "expected seq 7, found 8");
}

static void test_swapped_entries(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  log_file f = load(fx);
  size_t len7 = 0, len8 = 0;
  size_t at7 = audit_test_line_at(f.buf, f.len, 7, &len7);
  size_t at8 = audit_test_line_at(f.buf, f.len, 8, &len8);
  char *swapped = malloc(len7 + len8 + 2);
  memcpy(swapped, f.buf + at8, len8 + 1);
  memcpy(swapped + len8 + 1, f.buf + at7, len7 + 1);
  memcpy(f.buf + at7, swapped, len7 + len8 + 2);
  free(swapped);
  store(fx, &f);
  expect_problem(fx, TV_E_AUDIT_REORDERED, 0, 7, 8, "seq 8 comes before seq 7");
}

static void test_replayed_entry(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  log_file f = load(fx);
  size_t len = 0;
  size_t at = audit_test_line_at(f.buf, f.len, 7, &len);
  char *grown = malloc(f.len + len + 1);
  memcpy(grown, f.buf, at + len + 1);
  memcpy(grown + at + len + 1, f.buf + at, f.len - at);
  free(f.buf);
  f.buf = grown;
  f.len += len + 1;
  store(fx, &f);
  expect_problem(fx, TV_E_AUDIT_REORDERED, 0, 8, 7, "seq 7 comes after seq 7");
}

static void test_truncated_inside_an_entry(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  log_file f = load(fx);
  size_t len = 0;
  size_t at = audit_test_line_at(f.buf, f.len, 38, &len);
  f.len = at + len / 2;
  store(fx, &f);
  expect_problem(fx, TV_E_AUDIT_TRUNCATED, 0, 38, 38, "truncated inside an entry");
}

static void cut_after_line(audit_fixture *fx, unsigned line) {
  log_file f = load(fx);
  size_t len = 0;
  size_t at = audit_test_line_at(f.buf, f.len, line, &len);
  f.len = at + len + 1;
  store(fx, &f);
}

static void test_truncated_before_a_checkpoint(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  cut_after_line(fx, 39); /* the final checkpoint (40) is gone */
  expect_problem(fx, TV_E_AUDIT_TRUNCATED, 0, 40, 40,
                 "truncated since checkpoint seq 33: the HSM counter records a checkpoint at "
                 "seq 40 but the log ends at seq 39");
}

static void test_truncated_after_a_checkpoint(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  cut_after_line(fx, 22); /* right after the checkpoint at 22 */
  expect_problem(fx, TV_E_AUDIT_TRUNCATED, 0, 23, 23, "truncated since checkpoint seq 22");
}

/* Entries after the newest checkpoint are chained but not sealed: cutting
 * only them cannot be seen, and the verifier says how many there are. */
static void test_unsealed_tail_is_reported(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 5);
  assert_int_equal(tv_audit_checkpoint(log), TV_OK);
  audit_test_append(log, 5, 3);
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.unsealed, 3);
  assert_int_equal(r.last_checkpoint_seq, 7);
  char copy[PATH_MAX + 64];
  snprintf(copy, sizeof copy, "%s/copy.log", fx->hsm->root);
  size_t len = 0;
  char *buf = audit_test_read(fx->paths[0], &len);
  size_t line_len = 0;
  size_t at = audit_test_line_at(buf, len, 7, &line_len); /* the checkpoint */
  audit_test_write(copy, buf, at + line_len + 1);
  free(buf);
  const char *paths[] = {copy};
  assert_int_equal(tv_audit_verify_files(&r, fx->hsm->hsm, paths, 1), TV_OK);
  assert_int_equal(r.unsealed, 0);
  assert_int_equal(r.last_seq, 7);
  assert_int_equal(tv_audit_close(log), TV_OK);
}

static void build_segments(audit_fixture *fx, size_t *out_count) {
  fx->config.segment_bytes_max = AUDIT_SEGMENT_BYTES_MIN;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 60);
  assert_int_equal(tv_audit_close(log), TV_OK);
  *out_count = audit_test_segments(fx);
  assert_true(*out_count >= 4);
}

static void test_missing_segments(void **state) {
  audit_fixture *fx = *state;
  size_t count = 0;
  build_segments(fx, &count);
  tv_audit_verify_result r;
  const char *paths[AUDIT_TEST_SEGMENTS_MAX];
  /* The second file deleted. */
  paths[0] = fx->paths[0];
  for (size_t i = 2; i < count; i++) {
    paths[i - 1] = fx->paths[i];
  }
  assert_int_equal(tv_audit_verify_files(&r, fx->hsm->hsm, paths, count - 1), TV_E_AUDIT_SEGMENT);
  assert_int_equal(r.file_index, 1);
  assert_int_equal(r.line, 1);
  assert_non_null(strstr(r.text, "segment file(s) 2..2 missing"));
  /* The first file deleted. */
  assert_int_equal(tv_audit_verify_files(&r, fx->hsm->hsm, fx->path_ptrs + 1, count - 1),
                   TV_E_AUDIT_SEGMENT);
  assert_non_null(strstr(r.text, "the first file is segment 2"));
  /* Files out of order. */
  paths[0] = fx->paths[0];
  paths[1] = fx->paths[2];
  paths[2] = fx->paths[1];
  assert_int_equal(tv_audit_verify_files(&r, fx->hsm->hsm, paths, 3), TV_E_AUDIT_SEGMENT);
  assert_int_equal(r.file_index, 1);
  /* The last file deleted: its checkpoints are remembered by the HSM. */
  assert_int_equal(tv_audit_verify_files(&r, fx->hsm->hsm, fx->path_ptrs, count - 1),
                   TV_E_AUDIT_TRUNCATED);
  assert_int_equal(r.file_index, count - 2);
  /* All of them: intact. */
  assert_int_equal(tv_audit_verify_files(&r, fx->hsm->hsm, fx->path_ptrs, count), TV_OK);
}

static void test_segment_of_another_log(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  char first[PATH_MAX + 64];
  snprintf(first, sizeof first, "%s", fx->paths[0]);
  char other[PATH_MAX + 16];
  snprintf(other, sizeof other, "%s/other", fx->hsm->root);
  fx->config.dir = other;
  fx->config.segment_bytes_max = AUDIT_SEGMENT_BYTES_MIN;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 40);
  assert_int_equal(tv_audit_close(log), TV_OK);
  char second[PATH_MAX + 64];
  snprintf(second, sizeof second, "%s/audit-000002.log", other);
  const char *paths[] = {first, second};
  tv_audit_verify_result r;
  assert_int_equal(tv_audit_verify_files(&r, fx->hsm->hsm, paths, 2), TV_E_AUDIT_SEGMENT);
  assert_non_null(strstr(r.text, "another log"));
}

static void test_counter_missing_or_garbage(void **state) {
  audit_fixture *fx = *state;
  build_log(fx);
  log_file f = load(fx);
  audit_line l;
  const char *why = NULL;
  size_t len = 0;
  assert_int_equal(audit_line_parse(&l, &why, f.buf, audit_test_line_at(f.buf, f.len, 1, &len) + len),
                   TV_OK);
  char label[AUDIT_COUNTER_LABEL_MAX];
  audit_counter_label(label, l.log_id);
  assert_int_equal(tv_hsm_counter_destroy(fx->hsm->hsm, label), TV_OK);
  expect_problem(fx, TV_E_AUDIT_COUNTER, 0, 41, 0, "no checkpoint counter");
  /* Garbage in the middle. */
  size_t at = audit_test_line_at(f.buf, f.len, 3, &len);
  memcpy(f.buf + at, "{\"seq\":3,\"typo\":\"cal", 20);
  store(fx, &f);
  expect_problem(fx, TV_E_AUDIT_MALFORMED, 0, 3, 0, "malformed line");
  audit_test_write(fx->paths[0], "", 0);
  expect_problem(fx, TV_E_AUDIT_SEGMENT, 0, 1, 0, "empty");
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, audit_setup, audit_teardown)
  const struct CMUnitTest tests[] = {
      T(test_intact_log),
      T(test_edited_byte),
      T(test_edited_and_rehashed_breaks_the_link),
      T(test_rewritten_chain_fails_at_the_next_mac),
      T(test_forged_checkpoint_mac),
      T(test_deleted_entry),
      T(test_swapped_entries),
      T(test_replayed_entry),
      T(test_truncated_inside_an_entry),
      T(test_truncated_before_a_checkpoint),
      T(test_truncated_after_a_checkpoint),
      T(test_unsealed_tail_is_reported),
      T(test_missing_segments),
      T(test_segment_of_another_log),
      T(test_counter_missing_or_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
