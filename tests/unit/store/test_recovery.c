/* Recovery at open: a torn tail is cut and everything before it kept;
 * damage before the last commit stops the open, naming file and offset. */
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

#include <dirent.h>

#include "store_test_util.h"
#include "vault/store/repair.h"
#include "vault/store/store.h"

enum { N = 100 };

typedef struct fixture {
  char dir[256];
  char seg1[300];
  tv_store_options opts;
  tv_store_loc locs[N];
} fixture;

/* setup writes N records one batch each (sequential blocking puts). */
static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->seg1, sizeof f->seg1, "%s/seg-00000001.log", f->dir);
  f->opts = test_store_options(f->dir, 0);
  tv_store *s;
  if (tv_store_open(NULL, &f->opts, &s, NULL) != TV_OK) {
    return -1;
  }
  for (uint64_t i = 0; i < N; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    if (tv_store_put(s, &t.put, &f->locs[i]) != TV_OK) {
      return -1;
    }
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

static uint64_t loc_end(tv_store_loc l) { return tv_loc_offset(l) + tv_loc_len(l); }

static void patch(const char *path, uint64_t off, const void *bytes, size_t len) {
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
  close(fd);
}

static void flip_byte(const char *path, uint64_t off) {
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t b;
  assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
  b ^= 0x5A;
  assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
  close(fd);
}

static uint64_t file_size(const char *path) {
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  return (uint64_t)sb.st_size;
}

/* reopen_expect_prefix opens, checks ids [0, keep) intact and the rest
 * absent, appends more, reopens and checks again. */
static void reopen_expect_prefix(fixture *f, size_t keep, int expect_cut) {
  tv_store *s;
  tv_store_diag d;
  assert_int_equal(tv_store_open(NULL, &f->opts, &s, &d), TV_OK);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_int_equal(st.torn_bytes_cut > 0, expect_cut);
  assert_int_equal(st.index.tokens, keep);
  assert_int_equal(test_check_ids(s, 0, keep, 1), keep);
  assert_int_equal(test_check_ids(s, keep, N - keep, 1), 0);
  for (uint64_t i = keep; i < N; i++) { /* the lost ones can be written again */
    test_rec t;
    test_rec_make(&t, i, 1);
    assert_int_equal(tv_store_put(s, &t.put, NULL), TV_OK);
  }
  tv_store_close(s);
  assert_int_equal(tv_store_open(NULL, &f->opts, &s, &d), TV_OK);
  tv_store_get_stats(s, &st);
  assert_true(st.torn_bytes_cut == 0);
  assert_int_equal(test_check_ids(s, 0, N, 1), N);
  tv_store_close(s);
}

static void test_clean_reopen(void **state) {
  fixture *f = *state;
  reopen_expect_prefix(f, N, 0);
}

static void test_truncated_mid_record(void **state) {
  fixture *f = *state;
  assert_int_equal(truncate(f->seg1, (off_t)(loc_end(f->locs[N - 1]) - 20)), 0);
  reopen_expect_prefix(f, N - 1, 1);
}

static void test_truncated_mid_header(void **state) {
  fixture *f = *state;
  assert_int_equal(truncate(f->seg1, (off_t)(tv_loc_offset(f->locs[N - 1]) + 5)), 0);
  reopen_expect_prefix(f, N - 1, 1);
}

static void test_zeroed_last_page(void **state) {
  fixture *f = *state;
  uint64_t end = loc_end(f->locs[N - 1]);
  uint64_t page = (end - 1) & ~4095ull;
  static const uint8_t zeros[4096];
  patch(f->seg1, page, zeros, (size_t)(end - page));
  size_t keep = 0;
  while (keep < N && loc_end(f->locs[keep]) <= page) {
    keep++;
  }
  assert_true(keep > 0 && keep < N);
  reopen_expect_prefix(f, keep, tv_loc_offset(f->locs[keep]) < page);
}

static void test_garbage_after_last_record(void **state) {
  fixture *f = *state;
  uint8_t junk[100];
  memset(junk, 0xA5, sizeof junk);
  patch(f->seg1, loc_end(f->locs[N - 1]), junk, sizeof junk);
  reopen_expect_prefix(f, N, 1);
}

static void expect_corrupt(fixture *f, const char *path, uint64_t offset) {
  uint64_t size_before = file_size(path);
  tv_store *s = NULL;
  tv_store_diag d;
  assert_int_equal(tv_store_open(NULL, &f->opts, &s, &d), TV_E_STORE_CORRUPT);
  assert_null(s);
  assert_string_equal(d.path, path);
  assert_true(d.offset == offset);
  assert_non_null(strstr(d.message, strrchr(path, '/') + 1));
  /* A failed open changes nothing on disk. */
  assert_true(file_size(path) == size_before);
  print_message("diag: %s\n", d.message);
}

static void test_flipped_byte_in_middle(void **state) {
  fixture *f = *state;
  flip_byte(f->seg1, tv_loc_offset(f->locs[50]) + 40);
  expect_corrupt(f, f->seg1, tv_loc_offset(f->locs[50]));
}

static void test_zeroed_page_in_middle(void **state) {
  fixture *f = *state;
  static const uint8_t zeros[4096];
  patch(f->seg1, 4096, zeros, sizeof zeros);
  size_t hit = 0;
  while (loc_end(f->locs[hit]) <= 4096) {
    hit++;
  }
  expect_corrupt(f, f->seg1, tv_loc_offset(f->locs[hit]));
}

/* count_named returns how many files in |dir| contain |part|. */
static int count_named(const char *dir, const char *part) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    n += strstr(e->d_name, part) != NULL;
  }
  closedir(d);
  return n;
}

/* A complete last record with a flipped byte is damage, not a torn
 * write: the open stops naming file and offset (it used to cut the
 * record, an acknowledged token, silently); repair then drops it, keeps
 * the original, and the store opens with every other record. */
static void test_flipped_byte_in_last_record_is_damage(void **state) {
  fixture *f = *state;
  flip_byte(f->seg1, tv_loc_offset(f->locs[N - 1]) + 40);
  tv_store *s = NULL;
  tv_store_diag d;
  assert_int_equal(tv_store_open(NULL, &f->opts, &s, &d), TV_E_STORE_CORRUPT);
  assert_non_null(strstr(d.message, "damage"));
  expect_corrupt(f, f->seg1, tv_loc_offset(f->locs[N - 1]));
  assert_int_equal(count_named(f->dir, ".tail-"), 0);
  tv_store_repair_report rep;
  assert_int_equal(tv_store_repair(f->dir, &rep), TV_OK);
  assert_int_equal(rep.segments_rewritten, 1);
  assert_int_equal(rep.torn_bytes, 0);
  assert_int_equal(rep.records_lost, 1); /* the damaged record, named */
  assert_int_equal(rep.num_ranges, 1);
  assert_true(rep.ranges[0].first_seq == rep.ranges[0].last_seq);
  assert_true(rep.ranges[0].offset == tv_loc_offset(f->locs[N - 1]));
  assert_true(rep.ranges[0].bytes == tv_loc_len(f->locs[N - 1]));
  assert_int_equal(count_named(f->dir, ".damaged-"), 1);
  assert_int_equal(tv_store_open(NULL, &f->opts, &s, &d), TV_OK);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_true(st.torn_bytes_cut == 0);
  assert_int_equal(test_check_ids(s, 0, N - 1, 1), N - 1);
  assert_int_equal(test_check_ids(s, N - 1, 1, 1), 0);
  tv_store_close(s);
}

/* A torn last record (the file ends inside it) is cut, reported (file,
 * offset, bytes, records) and its bytes kept, exactly, in a fsynced
 * "<segment>.tail-<ms>" file that the next open leaves alone. */
static void test_torn_tail_reported_and_kept(void **state) {
  fixture *f = *state;
  uint64_t off = tv_loc_offset(f->locs[N - 1]);
  uint32_t len = tv_loc_len(f->locs[N - 1]);
  uint8_t rec[TV_STORE_RECORD_LEN_MAX];
  int fd = open(f->seg1, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(pread(fd, rec, len, (off_t)off), (ssize_t)len);
  close(fd);
  assert_int_equal(truncate(f->seg1, (off_t)(off + len - 20)), 0);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &f->opts, &s, NULL), TV_OK);
  tv_store_open_report r;
  tv_store_get_open_report(s, &r);
  tv_store_close(s);
  assert_string_equal(r.tail_segment, "seg-00000001.log");
  assert_true(r.tail_offset == off);
  assert_true(r.tail_bytes > 0 && r.tail_bytes <= len - 20);
  assert_true(tv_record_is_zero(rec + r.tail_bytes, len - 20 - r.tail_bytes)); /* only zeros not kept */
  assert_int_equal(r.tail_records, 1);
  assert_non_null(strstr(r.tail_kept_as, "seg-00000001.log.tail-"));
  char kept[600];
  snprintf(kept, sizeof kept, "%s/%s", f->dir, r.tail_kept_as);
  assert_true(file_size(kept) == r.tail_bytes);
  uint8_t got[TV_STORE_RECORD_LEN_MAX];
  fd = open(kept, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(read(fd, got, sizeof got), (ssize_t)r.tail_bytes);
  close(fd);
  assert_memory_equal(got, rec, r.tail_bytes);
  print_message("cut %llu bytes at %llu, %llu record(s), kept as %s\n", (unsigned long long)r.tail_bytes,
                (unsigned long long)r.tail_offset, (unsigned long long)r.tail_records, r.tail_kept_as);
  reopen_expect_prefix(f, N - 1, 0); /* already cut; the kept file is not a segment */
  assert_int_equal(count_named(f->dir, ".tail-"), 1);
}

/* append_batch writes |m| put records (ids from |first_id|) as one batch
 * at |off|, exactly as the writer would, and returns the end offset;
 * |offs| gets each record's offset. */
static uint64_t append_batch(const char *path, uint64_t off, uint64_t first_seq, uint64_t first_id, int m,
                             uint64_t *offs) {
  static uint8_t buf[1 << 16];
  size_t pos = 0, last = 0, last_len = 0;
  for (int i = 0; i < m; i++) {
    test_rec t;
    test_rec_make(&t, first_id + (uint64_t)i, 1);
    tv_record r;
    memset(&r, 0, sizeof r);
    r.header.type = TV_RECORD_PUT;
    r.header.seq = first_seq + (uint64_t)i;
    r.header.batch_index = (uint32_t)i;
    r.body.put = t.put;
    size_t len;
    assert_int_equal(tv_record_encode(&r, buf + pos, sizeof buf - pos, &len), TV_OK);
    offs[i] = off + pos;
    last = pos;
    last_len = len;
    pos += len;
  }
  tv_record_set_commit(buf + last, last_len);
  patch(path, off, buf, pos);
  return off + pos;
}

static void test_hole_inside_last_batch_is_cut(void **state) {
  fixture *f = *state;
  enum { M = 30, HOLE = 10 };
  uint64_t offs[M];
  append_batch(f->seg1, loc_end(f->locs[N - 1]), N + 2, 1000, M, offs);
  static const uint8_t zeros[64];
  patch(f->seg1, offs[HOLE] + 8, zeros, 40); /* valid records follow the hole */
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &f->opts, &s, NULL), TV_OK);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_true(st.torn_bytes_cut > 0);
  assert_int_equal(test_check_ids(s, 0, N, 1), N);
  assert_int_equal(test_check_ids(s, 1000, HOLE, 1), HOLE);
  assert_int_equal(test_check_ids(s, 1000 + HOLE, M - HOLE, 1), 0);
  tv_store_close(s);
}

static void test_hole_before_a_later_batch_is_corrupt(void **state) {
  fixture *f = *state;
  enum { M = 30, HOLE = 10 };
  uint64_t offs[M], offs2[M];
  uint64_t end = append_batch(f->seg1, loc_end(f->locs[N - 1]), N + 2, 1000, M, offs);
  append_batch(f->seg1, end, N + 2 + M, 2000, 3, offs2); /* a later commit */
  static const uint8_t zeros[64];
  patch(f->seg1, offs[HOLE] + 8, zeros, 40);
  expect_corrupt(f, f->seg1, offs[HOLE]);
}

static void test_sealed_segment_damage(void **state) {
  fixture *f = *state;
  tv_store *s;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 64 * 1024);
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  static tv_store_loc locs[1500];
  for (uint64_t i = 0; i < 1500; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    assert_int_equal(tv_store_put(s, &t.put, &locs[i]), TV_OK);
  }
  tv_store_close(s);
  assert_true(tv_loc_segment(locs[1499]) >= 3);
  char seg2[300], seg3[300];
  snprintf(seg2, sizeof seg2, "%s/seg-00000002.log", dir);
  snprintf(seg3, sizeof seg3, "%s/seg-00000003.log", dir);
  /* The last record of sealed segment 2, torn: that is damage, not a tail. */
  size_t last2 = 0;
  for (size_t i = 0; i < 1500; i++) {
    if (tv_loc_segment(locs[i]) == 2) {
      last2 = i;
    }
  }
  uint64_t size2 = file_size(seg2);
  assert_true(size2 == loc_end(locs[last2])); /* sealed at its last record */
  flip_byte(seg2, size2 - 3);
  fixture g = *f;
  g.opts = o;
  expect_corrupt(&g, seg2, tv_loc_offset(locs[last2]));
  /* A missing segment in the middle is a layout error. */
  assert_int_equal(unlink(seg2), 0);
  tv_store_diag d;
  assert_int_equal(tv_store_open(NULL, &o, &s, &d), TV_E_STORE_LAYOUT);
  (void)seg3;
  test_rmdir(dir);
}

/* expect_io_failure opens the store expecting TV_E_IO from a failed call:
 * the diag names the call, the file and the errno (tokenvaultd prints it),
 * not only a status, and has no offset to show. */
static void expect_io_failure(fixture *f, const char *call_and_file, int err) {
  tv_store *s = NULL;
  tv_store_diag d;
  assert_int_equal(tv_store_open(NULL, &f->opts, &s, &d), TV_E_IO);
  assert_null(s);
  print_message("diag: %s: %s\n", d.path, d.message);
  char errno_text[32];
  snprintf(errno_text, sizeof errno_text, "(errno %d)", err);
  assert_non_null(strstr(d.message, call_and_file));
  assert_non_null(strstr(d.message, errno_text));
  assert_true(d.io_failure);
}

/* A segment that cannot be opened (a directory in its place) is named
 * with the call and the errno. */
static void test_unopenable_segment_named(void **state) {
  fixture *f = *state;
  char seg2[300];
  snprintf(seg2, sizeof seg2, "%s/seg-00000002.log", f->dir);
  assert_int_equal(mkdir(seg2, 0700), 0);
  expect_io_failure(f, "open of seg-00000002.log failed", 21); /* EISDIR */
}

/* A compaction manifest that cannot be read is an I/O failure naming the
 * call, not damage (it was STORE_CORRUPT with no cause). */
static void test_unreadable_compaction_manifest_named(void **state) {
  fixture *f = *state;
  char manifest[300];
  snprintf(manifest, sizeof manifest, "%s/COMPACT", f->dir);
  assert_int_equal(mkdir(manifest, 0700), 0);
  expect_io_failure(f, "pread of COMPACT failed", 21); /* EISDIR */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_clean_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_mid_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_mid_header, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zeroed_last_page, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_after_last_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flipped_byte_in_middle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flipped_byte_in_last_record_is_damage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_tail_reported_and_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zeroed_page_in_middle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hole_inside_last_batch_is_cut, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hole_before_a_later_batch_is_corrupt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sealed_segment_damage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unopenable_segment_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreadable_compaction_manifest_named, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
