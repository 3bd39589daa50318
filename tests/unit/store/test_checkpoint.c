/* Index checkpoints: a reopen that loads the checkpoint and replays only
 * the log after it builds the same index as a full replay; a corrupt or
 * missing checkpoint falls back to a full replay that is still correct;
 * damage under a checkpoint still stops the open, naming file and offset
 * exactly as a full replay does. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/checkpoint.h"
#include "vault/store/crc32c.h"
#include "vault/store/index.h"
#include "vault/store/segment.h"
#include "vault/store/store.h"

enum { N = 3000, TAIL = 700, DELETED = 100, TOMBSTONES = 50, EVERY = 1000 };

typedef struct fixture {
  char dir[256];
  char ckpt[300];
} fixture;

static tv_store *open_store(const fixture *f, uint64_t every) {
  tv_store_options o = test_store_options(f->dir, 256 * 1024);
  o.checkpoint_records = every;
  tv_store *s = NULL;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  return s;
}

/* setup: N puts, some deleted, some re-put as deletion markers, with
 * checkpoints on; then TAIL more puts in a session writing none. */
static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->ckpt, sizeof f->ckpt, "%s/CHECKPOINT", f->dir);
  tv_store *s = open_store(f, EVERY);
  for (uint64_t i = 0; i < N; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    assert_int_equal(tv_store_put(s, &t.put, NULL), TV_OK);
  }
  for (uint64_t i = 0; i < DELETED; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    tv_store_key k = test_rec_key(&t);
    assert_int_equal(tv_store_delete(s, &k, 1), TV_OK);
  }
  for (uint64_t i = DELETED; i < DELETED + TOMBSTONES; i++) {
    test_rec t;
    test_rec_make(&t, i, 0);
    t.put.ciphertext_len = 0;
    assert_int_equal(tv_store_reput(s, &t.put, NULL), TV_OK);
  }
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_true(st.checkpoints_written >= N / EVERY);
  tv_store_close(s); /* writes a final checkpoint */
  s = open_store(f, 0);
  tv_store_get_stats(s, &st);
  assert_int_equal(st.recovered_records, 0); /* all covered */
  assert_int_equal(st.checkpoint_tokens, N - DELETED);
  for (uint64_t i = N; i < N + TAIL; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    assert_int_equal(tv_store_put(s, &t.put, NULL), TV_OK);
  }
  tv_store_close(s);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  test_rmdir(f->dir);
  free(f);
  return 0;
}

typedef struct locs {
  tv_store_loc *v;
  size_t n;
} locs;

static tv_status collect(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)put;
  locs *l = ctx;
  l->v[l->n++] = loc;
  return TV_OK;
}

/* check_contents: the live set is exactly what was written, fingerprints
 * resolve, and |out| gets every live location in scan order. */
static void check_contents(tv_store *s, locs *out) {
  assert_int_equal(test_check_ids(s, DELETED + TOMBSTONES, N + TAIL - DELETED - TOMBSTONES, 1),
                   N + TAIL - DELETED - TOMBSTONES);
  assert_int_equal(test_check_ids(s, 0, DELETED, 1), 0);
  tv_store_buf buf = {0};
  for (uint64_t i = DELETED; i < DELETED + TOMBSTONES; i++) {
    test_rec t;
    test_rec_make(&t, i, 0);
    tv_store_key k = test_rec_key(&t);
    tv_store_item item;
    assert_int_equal(tv_store_get_batch(s, &k, 1, &item, &buf), TV_OK);
    assert_int_equal(item.status, TV_OK);
    assert_int_equal(item.put.key_version, 0);
    assert_int_equal(item.put.ciphertext_len, 0);
  }
  for (uint64_t i = 2000; i < 2010; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    tv_store_item items[4];
    size_t num = 0;
    assert_int_equal(tv_store_find_fingerprint(s, t.put.ns, t.put.ns_len, t.put.fingerprint, items, 4, &num, &buf),
                     TV_OK);
    assert_int_equal(num, 1);
    assert_true(test_put_equal(&items[0].put, &t.put));
  }
  tv_store_buf_cleanup(&buf);
  out->v = calloc(N + TAIL, sizeof *out->v);
  out->n = 0;
  assert_int_equal(tv_store_scan(s, collect, out), TV_OK);
  assert_int_equal(out->n, N + TAIL - DELETED);
}

static void reopen_and_compare(const fixture *f, uint64_t want_ckpt_tokens, uint64_t want_replayed,
                               locs *out) {
  tv_store *s = open_store(f, 0);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_int_equal(st.checkpoint_tokens, want_ckpt_tokens);
  assert_int_equal(st.recovered_records, want_replayed);
  check_contents(s, out);
  tv_store_close(s);
}

static void test_checkpoint_equals_full_replay(void **state) {
  fixture *f = *state;
  locs with, without;
  reopen_and_compare(f, N - DELETED, TAIL, &with); /* only the tail replayed */
  char aside[400];
  snprintf(aside, sizeof aside, "%s.aside", f->ckpt);
  assert_int_equal(rename(f->ckpt, aside), 0);
  reopen_and_compare(f, 0, N + DELETED + TOMBSTONES + TAIL, &without);
  assert_int_equal(with.n, without.n);
  assert_memory_equal(with.v, without.v, with.n * sizeof *with.v);
  free(with.v);
  free(without.v);
}

static void flip(const char *path, off_t off) {
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  unsigned char c;
  assert_int_equal(pread(fd, &c, 1, off), 1);
  c ^= 0x01;
  assert_int_equal(pwrite(fd, &c, 1, off), 1);
  close(fd);
}

/* expect_outcome opens and checks what the open report says about the
 * checkpoint (the daemon logs a discarded one), and the reason given. */
static void expect_outcome(const fixture *f, tv_store_ckpt_outcome want, const char *why_part) {
  tv_store *s = open_store(f, 0);
  tv_store_open_report r;
  tv_store_get_open_report(s, &r);
  tv_store_close(s);
  assert_int_equal(r.checkpoint, want);
  if (why_part != NULL) {
    print_message("checkpoint discarded: %s\n", r.checkpoint_why);
    assert_non_null(strstr(r.checkpoint_why, why_part));
  }
}

static void test_corrupt_checkpoint_full_replay(void **state) {
  fixture *f = *state;
  expect_outcome(f, TV_STORE_CKPT_USED, NULL);
  struct stat sb;
  assert_int_equal(stat(f->ckpt, &sb), 0);
  flip(f->ckpt, sb.st_size / 2); /* an index entry: caught by the CRC */
  locs l;
  reopen_and_compare(f, 0, N + DELETED + TOMBSTONES + TAIL, &l);
  free(l.v);
  expect_outcome(f, TV_STORE_CKPT_DISCARDED, "unreadable");
  assert_int_equal(unlink(f->ckpt), 0);
  expect_outcome(f, TV_STORE_CKPT_NONE, NULL);
}

/* A discarded checkpoint is replaced at the next clean close (with
 * checkpoints on), even after a short replay and no writes, so the next
 * start uses one again instead of meeting the bad file each time. */
static void test_discarded_checkpoint_replaced_at_close(void **state) {
  fixture *f = *state;
  assert_int_equal(truncate(f->ckpt, 100), 0);
  tv_store *s = open_store(f, EVERY);
  tv_store_open_report r;
  tv_store_get_open_report(s, &r);
  assert_int_equal(r.checkpoint, TV_STORE_CKPT_DISCARDED);
  tv_store_close(s);
  expect_outcome(f, TV_STORE_CKPT_USED, NULL);
}

static void test_truncated_checkpoint_full_replay(void **state) {
  fixture *f = *state;
  assert_int_equal(truncate(f->ckpt, 100), 0);
  locs l;
  reopen_and_compare(f, 0, N + DELETED + TOMBSTONES + TAIL, &l);
  free(l.v);
  assert_int_equal(truncate(f->ckpt, 0), 0);
  reopen_and_compare(f, 0, N + DELETED + TOMBSTONES + TAIL, &l);
  free(l.v);
}

/* A checkpoint whose position is not in this log (as after the log was
 * replaced) is ignored, not trusted. */
static void test_mismatched_checkpoint_ignored(void **state) {
  fixture *f = *state;
  int fd = open(f->ckpt, O_RDWR);
  assert_true(fd >= 0);
  uint8_t seq[8];
  assert_int_equal(pread(fd, seq, 8, 32), 8);
  seq[0] ^= 1; /* last covered seq off by one, CRC recomputed below */
  assert_int_equal(pwrite(fd, seq, 8, 32), 8);
  close(fd);
  /* Recompute the CRC so only the position check can catch it. */
  FILE *p = fopen(f->ckpt, "rb");
  fseek(p, 0, SEEK_END);
  long len = ftell(p);
  fseek(p, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)len);
  assert_int_equal(fread(buf, 1, (size_t)len, p), (size_t)len);
  fclose(p);
  uint32_t crc = tv_crc32c_extend(0, buf, (size_t)len - 4);
  for (int i = 0; i < 4; i++) {
    buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
  }
  p = fopen(f->ckpt, "wb");
  assert_int_equal(fwrite(buf, 1, (size_t)len, p), (size_t)len);
  fclose(p);
  free(buf);
  locs l;
  reopen_and_compare(f, 0, N + DELETED + TOMBSTONES + TAIL, &l);
  free(l.v);
  expect_outcome(f, TV_STORE_CKPT_DISCARDED, "not a record of this log");
}

/* After a crash recovery that replayed a long tail, a clean close with
 * nothing new written still writes a checkpoint, so the next open does
 * not replay the same log again (it used to, at every start). */
static void test_long_replay_checkpointed_at_close(void **state) {
  fixture *f = *state;
  assert_int_equal(unlink(f->ckpt), 0); /* as after a crash before any checkpoint */
  tv_store *s = open_store(f, EVERY);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_int_equal(st.recovered_records, N + DELETED + TOMBSTONES + TAIL);
  assert_true(st.recovered_records >= TV_STORE_CKPT_REPLAYED_MIN);
  tv_store_close(s); /* nothing written */
  locs l;
  reopen_and_compare(f, N + TAIL - DELETED, 0, &l);
  free(l.v);
}

/* A short replayed tail is not worth a checkpoint of the whole index. */
static void test_short_replay_not_checkpointed(void **state) {
  fixture *f = *state;
  tv_store *s = open_store(f, EVERY);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_int_equal(st.recovered_records, TAIL);
  assert_true(TAIL < TV_STORE_CKPT_REPLAYED_MIN);
  tv_store_close(s);
  locs l;
  reopen_and_compare(f, N - DELETED, TAIL, &l);
  free(l.v);
}

/* Open still checks every record a checkpoint covers (without replaying
 * them): the count shows it, and a full replay checks none this way. */
static void test_covered_records_are_checked(void **state) {
  fixture *f = *state;
  tv_store *s = open_store(f, 0);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_int_equal(st.recovered_records, TAIL);
  /* every covered put, delete and re-put, plus each segment's header */
  assert_true(st.checked_records > N + DELETED + TOMBSTONES);
  assert_true(st.checked_records < N + DELETED + TOMBSTONES + 20);
  tv_store_close(s);
  assert_int_equal(unlink(f->ckpt), 0);
  s = open_store(f, 0);
  tv_store_get_stats(s, &st);
  assert_int_equal(st.checked_records, 0);
  assert_int_equal(st.recovered_records, N + DELETED + TOMBSTONES + TAIL);
  tv_store_close(s);
}

/* open_refused opens expecting STORE_CORRUPT and returns the diag. */
static tv_store_diag open_refused(const fixture *f) {
  tv_store_options o = test_store_options(f->dir, 256 * 1024);
  tv_store *s = NULL;
  tv_store_diag d;
  memset(&d, 0, sizeof d);
  assert_int_equal(tv_store_open(NULL, &o, &s, &d), TV_E_STORE_CORRUPT);
  assert_null(s);
  return d;
}

/* A record's location, read while the store is whole. */
static tv_store_loc loc_of(const fixture *f, uint64_t id) {
  tv_store *s = open_store(f, 0);
  test_rec t;
  test_rec_make(&t, id, 1);
  tv_store_key k = test_rec_key(&t);
  tv_store_item item;
  tv_store_buf buf = {0};
  assert_int_equal(tv_store_get_batch(s, &k, 1, &item, &buf), TV_OK);
  assert_int_equal(item.status, TV_OK);
  tv_store_buf_cleanup(&buf);
  tv_store_close(s);
  return item.loc;
}

/* damage_refused flips a byte inside the record of |id| (which the
 * checkpoint covers) and checks that open is refused naming that segment
 * and offset, with the checkpoint and then without it. */
static void damage_refused(fixture *f, uint64_t id) {
  tv_store_loc loc = loc_of(f, id);
  char seg[400];
  snprintf(seg, sizeof seg, "%s/seg-%08x.log", f->dir, (unsigned)tv_loc_segment(loc));
  flip(seg, (off_t)(tv_loc_offset(loc) + tv_loc_len(loc) / 2));
  struct stat sb;
  assert_int_equal(stat(f->ckpt, &sb), 0);
  tv_store_diag with = open_refused(f);
  assert_string_equal(with.path, seg);
  assert_int_equal(with.offset, tv_loc_offset(loc));
  assert_int_equal(unlink(f->ckpt), 0);
  tv_store_diag without = open_refused(f);
  assert_string_equal(without.path, seg);
  assert_int_equal(without.offset, with.offset);
}

/* In a sealed segment wholly under the checkpoint (replay skips it). */
static void test_damage_in_covered_sealed_segment(void **state) {
  fixture *f = *state;
  assert_int_equal(tv_loc_segment(loc_of(f, 500)), 1);
  damage_refused(f, 500);
}

/* In the segment the checkpoint ends in, before its position. */
static void test_damage_before_checkpoint_position(void **state) {
  fixture *f = *state;
  tv_store_loc last = loc_of(f, N + TAIL - 1);
  tv_store_loc loc = loc_of(f, N - 1);
  assert_int_equal(tv_loc_segment(loc), tv_loc_segment(last)); /* the tail's segment */
  assert_true(tv_loc_segment(loc) > 1);
  damage_refused(f, N - 1);
}

/* A failed checkpoint write names the call, the file and the errno, not
 * only a status: CHECKPOINT.tmp is a directory, so its open fails. */
static void test_write_failure_names_call_and_errno(void **state) {
  fixture *f = *state;
  char tmp[400];
  snprintf(tmp, sizeof tmp, "%s/CHECKPOINT.tmp", f->dir);
  assert_int_equal(mkdir(tmp, 0700), 0);
  int dir_fd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true(dir_fd >= 0);
  tv_index *idx;
  assert_int_equal(tv_index_new(16, 1, &idx), TV_OK);
  tv_ckpt_pos pos = {0};
  tv_store_io_error_clear();
  assert_int_equal(tv_ckpt_write(dir_fd, idx, &pos), TV_E_STORE_WRITE_FAILED);
  const char *msg = tv_store_io_error();
  assert_non_null(strstr(msg, "create of CHECKPOINT.tmp failed"));
  assert_non_null(strstr(msg, "(errno 21)")); /* EISDIR */
  tv_index_free(idx);
  close(dir_fd);
  assert_int_equal(rmdir(tmp), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_checkpoint_equals_full_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_checkpoint_full_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_checkpoint_full_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mismatched_checkpoint_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_covered_records_are_checked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_replay_checkpointed_at_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_discarded_checkpoint_replaced_at_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_short_replay_not_checkpointed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damage_in_covered_sealed_segment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damage_before_checkpoint_position, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_failure_names_call_and_errno, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
