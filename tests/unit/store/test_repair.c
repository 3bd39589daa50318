/* Repair of mid-log damage: open refuses the damaged log naming file and
 * offset; repair keeps every intact record (after the damage too), moves
 * the damaged segment aside, reports exactly the lost records, and the
 * store opens and takes writes again. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/repair.h"
#include "vault/store/store.h"

enum { N = 4000, TOMBSTONES = 20 };

typedef struct fixture {
  char dir[256];
  uint64_t segment_bytes;
  test_rec *recs;
  tv_store_op *ops;
  atomic_size_t done;
  atomic_int failures;
} fixture;

static void on_done(tv_store_op *op, tv_status st) {
  fixture *f = op->user;
  if (st != TV_OK) {
    atomic_fetch_add(&f->failures, 1);
  }
  atomic_fetch_add(&f->done, 1);
}

/* fill writes N puts asynchronously (so batches hold many records), then
 * re-puts the first TOMBSTONES as the engine's deletion marker. */
static void fill(fixture *f) {
  tv_store_options o = test_store_options(f->dir, f->segment_bytes);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  for (uint64_t i = 0; i < N; i++) {
    test_rec_make(&f->recs[i], i, 1);
    f->ops[i] = (tv_store_op){.kind = TV_STORE_OP_PUT, .put = f->recs[i].put, .done = on_done, .user = f};
    tv_status st;
    while ((st = tv_store_submit(s, &f->ops[i])) == TV_E_STORE_BUSY) {
      usleep(100);
    }
    assert_int_equal(st, TV_OK);
  }
  while (atomic_load(&f->done) < N) {
    usleep(1000);
  }
  assert_int_equal(atomic_load(&f->failures), 0);
  for (uint64_t i = 0; i < TOMBSTONES; i++) {
    test_rec t;
    test_rec_make(&t, N - 1 - i, 0);
    t.put.ciphertext_len = 0;
    assert_int_equal(tv_store_reput(s, &t.put, NULL), TV_OK);
  }
  tv_store_close(s);
}

static fixture *make(uint64_t segment_bytes) {
  fixture *f = calloc(1, sizeof *f);
  test_tmpdir(f->dir, sizeof f->dir);
  f->segment_bytes = segment_bytes;
  f->recs = calloc(N, sizeof *f->recs);
  f->ops = calloc(N, sizeof *f->ops);
  fill(f);
  return f;
}

static int setup_one_segment(void **state) {
  *state = make(0);
  return 0;
}

static int setup_small_segments(void **state) {
  *state = make(64 * 1024);
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  test_rmdir(f->dir);
  free(f->recs);
  free(f->ops);
  free(f);
  return 0;
}

static void seg_path(const fixture *f, uint32_t id, char *out, size_t out_len) {
  snprintf(out, out_len, "%s/seg-%08x.log", f->dir, id);
}

/* smash overwrites [from, to) of segment |id| with 0xEE. */
static void smash(const fixture *f, uint32_t id, uint64_t from, uint64_t to) {
  char path[400];
  seg_path(f, id, path, sizeof path);
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  uint8_t junk[16384];
  memset(junk, 0xEE, sizeof junk);
  assert_true(to - from <= sizeof junk);
  assert_int_equal(pwrite(fd, junk, to - from, (off_t)from), (ssize_t)(to - from));
  close(fd);
}

static uint64_t mid(tv_store_loc l) { return tv_loc_offset(l) + tv_loc_len(l) / 2; }

/* check_after opens the repaired store: every id not in |lost| is intact
 * (tombstones included), every id in it is gone, and writes work. */
static void check_after(const fixture *f, const unsigned char *lost) {
  tv_store_options o = test_store_options(f->dir, f->segment_bytes);
  tv_store *s;
  tv_store_diag diag;
  assert_int_equal(tv_store_open(NULL, &o, &s, &diag), TV_OK);
  size_t intact = 0, want = 0;
  for (uint64_t i = 0; i < N; i++) {
    int tomb = i >= N - TOMBSTONES;
    size_t got = test_check_ids(s, i, 1, 1);
    if (tomb) {
      test_rec t;
      test_rec_make(&t, i, 0);
      tv_store_key key = test_rec_key(&t);
      tv_store_item item;
      tv_store_buf buf = {0};
      assert_int_equal(tv_store_get_batch(s, &key, 1, &item, &buf), TV_OK);
      got = item.status == TV_OK && item.put.key_version == 0 && item.put.ciphertext_len == 0;
      tv_store_buf_cleanup(&buf);
    }
    want += !lost[i];
    intact += got;
    assert_int_equal(got, lost[i] ? 0 : 1);
  }
  assert_int_equal(intact, want);
  test_rec t;
  test_rec_make(&t, 900000, 1);
  assert_int_equal(tv_store_put(s, &t.put, NULL), TV_OK);
  tv_store_close(s);
  assert_int_equal(tv_store_open(NULL, &o, &s, &diag), TV_OK); /* and reopens */
  assert_int_equal(test_check_ids(s, 900000, 1, 1), 1);
  tv_store_close(s);
}

static void test_repair_mid_segment(void **state) {
  fixture *f = *state;
  unsigned char *lost = calloc(N, 1);
  smash(f, 1, mid(f->ops[1000].loc), mid(f->ops[1000].loc) + 1); /* one record */
  lost[1000] = 1;
  smash(f, 1, mid(f->ops[3000].loc), mid(f->ops[3002].loc)); /* three */
  lost[3000] = lost[3001] = lost[3002] = 1;
  char seg[400];
  seg_path(f, 1, seg, sizeof seg);
  struct stat before;
  assert_int_equal(stat(seg, &before), 0);

  tv_store_options o = test_store_options(f->dir, 0);
  tv_store *s;
  tv_store_diag diag;
  assert_int_equal(tv_store_open(NULL, &o, &s, &diag), TV_E_STORE_CORRUPT);
  assert_string_equal(diag.path, seg);
  assert_int_equal(diag.offset, tv_loc_offset(f->ops[1000].loc));

  tv_store_repair_report rep;
  assert_int_equal(tv_store_repair(f->dir, &rep), TV_OK);
  assert_int_equal(rep.records_lost, 4);
  assert_int_equal(rep.segments_rewritten, 1);
  assert_int_equal(rep.num_ranges, 2);
  assert_int_equal(rep.ranges[0].first_seq, f->ops[1000].seq);
  assert_int_equal(rep.ranges[0].last_seq, f->ops[1000].seq);
  assert_int_equal(rep.ranges[0].offset, tv_loc_offset(f->ops[1000].loc));
  assert_int_equal(rep.ranges[1].first_seq, f->ops[3000].seq);
  assert_int_equal(rep.ranges[1].last_seq, f->ops[3002].seq);
  assert_int_equal(rep.bytes_lost, tv_loc_len(f->ops[1000].loc) + tv_loc_len(f->ops[3000].loc) +
                                       tv_loc_len(f->ops[3001].loc) + tv_loc_len(f->ops[3002].loc));
  struct stat aside;
  assert_int_equal(stat(rep.first_moved, &aside), 0); /* kept, not deleted */
  assert_int_equal(aside.st_size, before.st_size);
  check_after(f, lost);

  assert_int_equal(tv_store_repair(f->dir, &rep), TV_OK); /* now healthy */
  assert_int_equal(rep.records_lost, 0);
  assert_int_equal(rep.segments_rewritten, 0);
  free(lost);
}

/* The last record of a sealed segment: the loss ends at the next header. */
static void test_repair_sealed_tail_and_header(void **state) {
  fixture *f = *state;
  unsigned char *lost = calloc(N, 1);
  size_t last1 = 0, first3 = 0;
  for (size_t i = 0; i < N; i++) {
    last1 = tv_loc_segment(f->ops[i].loc) == 1 ? i : last1;
    first3 = first3 == 0 && tv_loc_segment(f->ops[i].loc) == 3 ? i : first3;
  }
  assert_true(first3 > 0);
  smash(f, 1, mid(f->ops[last1].loc), mid(f->ops[last1].loc) + 8);
  lost[last1] = 1;
  smash(f, 3, 8, 24); /* segment 3's header: rebuilt, no record lost */
  tv_store_options o = test_store_options(f->dir, f->segment_bytes);
  tv_store *s;
  tv_store_diag diag;
  assert_int_equal(tv_store_open(NULL, &o, &s, &diag), TV_E_STORE_CORRUPT);
  tv_store_repair_report rep;
  assert_int_equal(tv_store_repair(f->dir, &rep), TV_OK);
  assert_int_equal(rep.records_lost, 1);
  assert_int_equal(rep.segments_rewritten, 2);
  assert_int_equal(rep.ranges[0].first_seq, f->ops[last1].seq);
  assert_int_equal(rep.ranges[0].last_seq, f->ops[last1].seq);
  assert_int_equal(rep.ranges[0].segment_id, 1);
  check_after(f, lost);
  free(lost);
}

static void test_repair_refuses_open_store(void **state) {
  fixture *f = *state;
  tv_store_options o = test_store_options(f->dir, 0);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  tv_store_repair_report rep;
  assert_int_equal(tv_store_repair(f->dir, &rep), TV_E_STORE_LOCKED);
  tv_store_close(s);
  assert_int_equal(tv_store_repair(f->dir, &rep), TV_OK);
  assert_int_equal(rep.records_lost, 0);
  assert_int_equal(rep.records_kept, N + TOMBSTONES + 1); /* + the header */
}

/* A torn tail is not damage: repair leaves it for open to cut. */
static void test_torn_tail_not_counted(void **state) {
  fixture *f = *state;
  char seg[400];
  seg_path(f, 1, seg, sizeof seg);
  struct stat sb;
  assert_int_equal(stat(seg, &sb), 0);
  int fd = open(seg, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "garbage!", 8), 8);
  close(fd);
  tv_store_repair_report rep;
  assert_int_equal(tv_store_repair(f->dir, &rep), TV_OK);
  assert_int_equal(rep.records_lost, 0);
  assert_int_equal(rep.segments_rewritten, 0);
  assert_true(rep.torn_bytes >= 8);
  unsigned char *lost = calloc(N, 1);
  check_after(f, lost);
  free(lost);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_repair_mid_segment, setup_one_segment, teardown),
      cmocka_unit_test_setup_teardown(test_repair_sealed_tail_and_header, setup_small_segments, teardown),
      cmocka_unit_test_setup_teardown(test_repair_refuses_open_store, setup_one_segment, teardown),
      cmocka_unit_test_setup_teardown(test_torn_tail_not_counted, setup_one_segment, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
