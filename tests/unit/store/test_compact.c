/* Compaction: space comes back, every live token keeps its exact record,
 * deleted tokens stay gone, expired values become stubs, readers and
 * writers carry on during it, the rate limit holds, and a SIGKILL at any
 * step leaves a store that reopens with nothing lost. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/backup.h"
#include "vault/store/crc32c.h"
#include "vault/store/record.h"
#include "vault/store/segment.h"
#include "vault/store/store.h"

enum { N = 3000, REPUT = 1000, DELETED = 400, SEG = 64 * 1024 };

/* ---- helpers -------------------------------------------------------------- */

typedef struct many {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t pending;
  size_t failed;
} many;

typedef struct many_op {
  tv_store_op op;
  test_rec rec;
  many *m;
} many_op;

static void many_done(tv_store_op *op, tv_status st) {
  many *m = ((many_op *)op)->m;
  pthread_mutex_lock(&m->mu);
  m->failed += st != TV_OK;
  if (--m->pending == 0) {
    pthread_cond_signal(&m->cv);
  }
  pthread_mutex_unlock(&m->mu);
}

/* submit_many applies |kind| to ids [first, first + num) with records of
 * |version| through the asynchronous API (one fsync per batch, so setup
 * is quick), and asserts every one succeeded. */
static void submit_many(tv_store *s, tv_store_op_kind kind, uint64_t first, size_t num, uint32_t version) {
  many m = {.pending = num};
  pthread_mutex_init(&m.mu, NULL);
  pthread_cond_init(&m.cv, NULL);
  many_op *ops = calloc(num, sizeof *ops);
  assert_non_null(ops);
  for (size_t i = 0; i < num; i++) {
    test_rec_make(&ops[i].rec, first + i, version);
    ops[i].m = &m;
    ops[i].op.kind = kind;
    ops[i].op.put = ops[i].rec.put;
    ops[i].op.done = many_done;
    tv_status st;
    while ((st = tv_store_submit(s, &ops[i].op)) == TV_E_STORE_BUSY) {
      usleep(100);
    }
    assert_int_equal(st, TV_OK);
  }
  pthread_mutex_lock(&m.mu);
  while (m.pending > 0) {
    pthread_cond_wait(&m.cv, &m.mu);
  }
  pthread_mutex_unlock(&m.mu);
  assert_int_equal(m.failed, 0);
  free(ops);
}

/* seg_bytes sums the sizes of the segment files in |dir|. */
static uint64_t seg_bytes(const char *dir, size_t *out_files) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  uint64_t total = 0;
  size_t files = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "seg-", 4) != 0) {
      continue;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    total += (uint64_t)sb.st_size;
    files++;
  }
  closedir(d);
  if (out_files != NULL) {
    *out_files = files;
  }
  return total;
}

static int file_exists(const char *dir, const char *name) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int is_segment(const struct dirent *e) { return strncmp(e->d_name, "seg-", 4) == 0; }

/* check_dense walks every segment file in id order and asserts sequence
 * numbers go up by exactly one (repair counts lost records by them). */
static void check_dense(const char *dir) {
  struct dirent **names;
  int n = scandir(dir, &names, is_segment, name_cmp);
  assert_true(n > 0);
  uint64_t prev = 0;
  for (int i = 0; i < n; i++) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
    free(names[i]);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t buf[4 << 20];
    size_t size = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    for (size_t off = 0; off < size;) {
      tv_record r;
      size_t len;
      if (tv_record_decode(buf + off, size - off, &r, &len) != TV_OK) {
        assert_true(tv_record_is_zero(buf + off, size - off));
        break;
      }
      if (prev != 0 && r.header.seq != prev + 1) {
        fail_msg("%s at %zu: seq %llu after %llu", path, off, (unsigned long long)r.header.seq,
                 (unsigned long long)prev);
      }
      prev = r.header.seq;
      off += len;
    }
  }
  free(names);
}

static tv_store *open_dir(const char *dir, uint64_t ckpt_every) {
  tv_store_options o = test_store_options(dir, SEG);
  o.checkpoint_records = ckpt_every;
  tv_store *s = NULL;
  tv_store_diag diag;
  tv_status st = tv_store_open(NULL, &o, &s, &diag);
  if (st != TV_OK) {
    fail_msg("open %s: %s (%s)", dir, tv_status_name(st), diag.message);
  }
  return s;
}

/* fill: ids [0, N) put at version 1; [0, REPUT) re-put at version 2;
 * [REPUT, REPUT + DELETED) deleted. */
static void fill(tv_store *s) {
  submit_many(s, TV_STORE_OP_PUT, 0, N, 1);
  submit_many(s, TV_STORE_OP_REPUT, 0, REPUT, 2);
  submit_many(s, TV_STORE_OP_DELETE, REPUT, DELETED, 1);
}

static uint32_t version_of(uint64_t id) { return id < REPUT ? 2 : 1; }
static int is_deleted(uint64_t id) { return id >= REPUT && id < REPUT + DELETED; }

/* check_fill asserts the state fill() leaves: every live id exactly its
 * newest record, every deleted one NOT_FOUND. */
static void check_fill(tv_store *s) {
  tv_store_buf buf = {0};
  for (uint64_t id = 0; id < N; id++) {
    test_rec t;
    test_rec_make(&t, id, version_of(id));
    tv_store_key k = test_rec_key(&t);
    tv_store_item it;
    assert_int_equal(tv_store_get_batch(s, &k, 1, &it, &buf), TV_OK);
    if (is_deleted(id)) {
      assert_int_equal(it.status, TV_E_STORE_NOT_FOUND);
    } else {
      assert_int_equal(it.status, TV_OK);
      assert_true(test_put_equal(&it.put, &t.put));
    }
  }
  tv_store_buf_cleanup(&buf);
}

static tv_status count_fn(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)put;
  (void)loc;
  (*(uint64_t *)ctx)++;
  return TV_OK;
}

static uint64_t count_live(tv_store *s) {
  uint64_t n = 0;
  assert_int_equal(tv_store_scan(s, count_fn, &n), TV_OK);
  return n;
}

typedef struct fixture {
  char dir[256];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  test_tmpdir(f->dir, sizeof f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  test_rmdir(f->dir);
  free(f);
  return 0;
}

/* ---- space, values, deletes, progress ------------------------------------ */

static void test_reclaims_space(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  fill(s);
  size_t files_before = 0, files_after = 0;
  uint64_t before = seg_bytes(f->dir, &files_before);
  tv_store_compact_progress p;
  assert_int_equal(tv_store_compact(s, NULL, &p), TV_OK);
  uint64_t after = seg_bytes(f->dir, &files_after);
  /* 4400 records of which 2600 live: well under three quarters remain. */
  assert_true(after < before * 3 / 4);
  assert_true(files_after < files_before);
  tv_store_compact_report r;
  tv_store_compact_progress_get(&p, &r);
  assert_int_equal(r.phase, TV_COMPACT_FINISHED);
  assert_int_equal(r.segments_done, r.segments_total);
  assert_int_equal(r.records_done, r.records_total);
  assert_int_equal(r.records_total, N + REPUT + DELETED);
  assert_int_equal(r.bytes_done, r.bytes_total);
  assert_int_equal(r.records_kept, N - DELETED);
  assert_int_equal(r.records_expired, 0);
  assert_true(r.bytes_written < r.bytes_total);
  assert_false(file_exists(f->dir, "COMPACT"));
  check_fill(s);
  assert_int_equal(count_live(s), N - DELETED);
  /* Deleted tokens stay deleted: a re-put is still refused... */
  test_rec t;
  test_rec_make(&t, REPUT + 1, 1);
  assert_int_equal(tv_store_reput(s, &t.put, NULL), TV_E_STORE_NOT_FOUND);
  /* ...and writes go on; a second compaction finds little to drop. */
  submit_many(s, TV_STORE_OP_PUT, N, 200, 1);
  assert_int_equal(tv_store_compact(s, NULL, &p), TV_OK);
  tv_store_compact_progress_get(&p, &r);
  assert_int_equal(r.records_kept, N - DELETED + 200);
  tv_store_close(s);
  check_dense(f->dir);
  s = open_dir(f->dir, 0);
  check_fill(s);
  assert_int_equal(test_check_ids(s, N, 200, 1), 200);
  assert_int_equal(count_live(s), N - DELETED + 200);
  tv_store_close(s);
}

/* Nothing live: every sealed segment goes, no output is written, and the
 * store reopens from its active segment alone. */
static void test_everything_deleted(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 100);
  submit_many(s, TV_STORE_OP_PUT, 0, 1000, 1);
  submit_many(s, TV_STORE_OP_DELETE, 0, 1000, 1);
  tv_store_compact_progress p;
  assert_int_equal(tv_store_compact(s, NULL, &p), TV_OK);
  tv_store_compact_report r;
  tv_store_compact_progress_get(&p, &r);
  assert_int_equal(r.records_kept, 0);
  size_t files = 0;
  seg_bytes(f->dir, &files);
  assert_int_equal(files, 1);
  assert_int_equal(count_live(s), 0);
  submit_many(s, TV_STORE_OP_PUT, 5000, 10, 1);
  tv_store_close(s);
  check_dense(f->dir);
  s = open_dir(f->dir, 100);
  assert_int_equal(count_live(s), 10);
  assert_int_equal(test_check_ids(s, 0, 1000, 1), 0);
  assert_int_equal(test_check_ids(s, 5000, 10, 1), 10);
  tv_store_close(s);
}

/* Engine tombstones (re-puts with key version 0, no ciphertext) are live
 * records: kept, so a deleted token stays DELETED, not NOT_FOUND. */
static void test_keeps_tombstones(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  submit_many(s, TV_STORE_OP_PUT, 0, 500, 1);
  for (uint64_t id = 0; id < 50; id++) {
    test_rec t;
    test_rec_make(&t, id, 0);
    t.put.ciphertext_len = 0;
    t.put.expires_ms = 0;
    assert_int_equal(tv_store_reput(s, &t.put, NULL), TV_OK);
  }
  tv_store_compact_options o = {.now_ms = 1900000000000ull}; /* later than every expiry */
  assert_int_equal(tv_store_compact(s, &o, NULL), TV_OK);
  tv_store_close(s);
  s = open_dir(f->dir, 0);
  tv_store_buf buf = {0};
  for (uint64_t id = 0; id < 50; id++) {
    test_rec t;
    test_rec_make(&t, id, 0);
    tv_store_key k = test_rec_key(&t);
    tv_store_item it;
    assert_int_equal(tv_store_get_batch(s, &k, 1, &it, &buf), TV_OK);
    assert_int_equal(it.status, TV_OK);
    assert_int_equal(it.put.key_version, 0);
    assert_int_equal(it.put.ciphertext_len, 0);
    assert_int_equal(it.put.expires_ms, 0);
  }
  tv_store_buf_cleanup(&buf);
  tv_store_close(s);
}

/* Expired values lose their ciphertext but keep the record (decision in
 * compact.h): a stub with key version 0 and the past expiry, so the token
 * still answers EXPIRED upstairs and is never reissued. */
static void test_expired_become_stubs(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  submit_many(s, TV_STORE_OP_PUT, 0, 900, 1); /* id % 3 != 0 expires at 1.8e12 */
  tv_store_compact_options o = {.now_ms = 1800000000000ull};
  tv_store_compact_progress p;
  assert_int_equal(tv_store_compact(s, &o, &p), TV_OK);
  tv_store_compact_report r;
  tv_store_compact_progress_get(&p, &r);
  assert_int_equal(r.records_expired, 600);
  assert_int_equal(r.records_kept, 900);
  tv_store_close(s);
  s = open_dir(f->dir, 0);
  tv_store_buf buf = {0};
  for (uint64_t id = 0; id < 900; id++) {
    test_rec t;
    test_rec_make(&t, id, 1);
    tv_store_key k = test_rec_key(&t);
    tv_store_item it;
    assert_int_equal(tv_store_get_batch(s, &k, 1, &it, &buf), TV_OK);
    assert_int_equal(it.status, TV_OK);
    if (id % 3 == 0) {
      assert_true(test_put_equal(&it.put, &t.put)); /* never expires: untouched */
      continue;
    }
    assert_int_equal(it.put.key_version, 0);
    assert_int_equal(it.put.ciphertext_len, 0);
    assert_int_equal(it.put.expires_ms, t.put.expires_ms);
    assert_int_equal(it.put.created_ms, t.put.created_ms);
    assert_memory_equal(it.put.fingerprint, t.put.fingerprint, 16);
    assert_int_equal(it.put.metadata_len, t.put.metadata_len);
    uint8_t zero[16] = {0};
    assert_memory_equal(it.put.tag, zero, 16);
  }
  /* A stub is live: the token cannot be handed out again. */
  test_rec t;
  test_rec_make(&t, 1, 1);
  assert_int_equal(tv_store_put(s, &t.put, NULL), TV_E_STORE_TOKEN_EXISTS);
  tv_store_buf_cleanup(&buf);
  tv_store_close(s);
}

/* A snapshot of a compacted store (its first segment id is no longer 1)
 * restores into a store with the same tokens. */
static void test_snapshot_after_compaction(void **state) {
  fixture *f = *state;
  char store[300], backup[300], restored[300];
  snprintf(store, sizeof store, "%s/store", f->dir);
  snprintf(backup, sizeof backup, "%s/backup", f->dir);
  snprintf(restored, sizeof restored, "%s/restored", f->dir);
  tv_store *s = open_dir(store, 0);
  fill(s);
  assert_int_equal(tv_store_compact(s, NULL, NULL), TV_OK);
  assert_false(file_exists(store, "seg-00000001.log"));
  submit_many(s, TV_STORE_OP_PUT, N, 50, 1);
  tv_store_snapshot_info info;
  assert_int_equal(tv_store_snapshot(s, backup, NULL, 0, &info), TV_OK);
  tv_store_close(s);
  assert_int_equal(tv_store_restore(backup, restored, NULL), TV_OK);
  s = open_dir(restored, 0);
  check_fill(s);
  assert_int_equal(test_check_ids(s, N, 50, 1), 50);
  tv_store_close(s);
}

/* ---- rate limit, errors --------------------------------------------------- */

static double since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_rate_limit(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  fill(s);
  uint64_t bytes = seg_bytes(f->dir, NULL);
  /* Aim at 0.8 s; assert only the lower bound (a busy machine is slower). */
  tv_store_compact_options o = {.bytes_per_s = (uint64_t)((double)bytes / 0.8)};
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  tv_store_compact_progress p;
  assert_int_equal(tv_store_compact(s, &o, &p), TV_OK);
  double secs = since(&t0);
  tv_store_compact_report r;
  tv_store_compact_progress_get(&p, &r);
  double due = (double)r.bytes_total / (double)o.bytes_per_s;
  assert_true(due > 0.5);
  assert_true(secs >= 0.8 * due);
  check_fill(s);
  tv_store_close(s);
}

typedef struct nested {
  tv_store *s;
  tv_status got;
  int calls;
} nested;

static void nested_fault(void *ctx, tv_store_compact_step step) {
  nested *n = ctx;
  if (step == TV_COMPACT_STEP_COPYING && n->calls++ == 0) {
    n->got = tv_store_compact(n->s, NULL, NULL);
  }
}

static void test_errors(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  assert_int_equal(tv_store_compact(NULL, NULL, NULL), TV_E_INVALID_ARGUMENT);
  tv_store_compact_progress p;
  assert_int_equal(tv_store_compact(s, NULL, &p), TV_OK); /* empty store */
  fill(s);
  /* A second compaction while one runs: BUSY, and the first completes. */
  nested n = {.s = s, .got = TV_OK};
  tv_store_compact_options o = {.fault = nested_fault, .fault_ctx = &n};
  assert_int_equal(tv_store_compact(s, &o, NULL), TV_OK);
  assert_int_equal(n.got, TV_E_STORE_BUSY);
  check_fill(s);
  /* A manifest this process did not finish: refused until a reopen. */
  char path[600];
  snprintf(path, sizeof path, "%s/COMPACT", f->dir);
  int fd = open(path, O_WRONLY | O_CREAT, 0600);
  assert_true(fd >= 0);
  close(fd);
  submit_many(s, TV_STORE_OP_PUT, N, 10, 1);
  assert_int_equal(tv_store_compact(s, NULL, &p), TV_E_STORE_LAYOUT);
  tv_store_compact_report r;
  tv_store_compact_progress_get(&p, &r);
  assert_int_equal(r.phase, TV_COMPACT_FAILED);
  tv_store_close(s);
  /* ...and at open a manifest that does not check out stops the open,
   * naming the file, instead of guessing. */
  tv_store_options so = test_store_options(f->dir, SEG);
  tv_store_diag diag;
  assert_int_equal(tv_store_open(NULL, &so, &s, &diag), TV_E_STORE_CORRUPT);
  assert_non_null(strstr(diag.path, "COMPACT"));
  assert_int_equal(unlink(path), 0);
  /* Leftover outputs without a manifest are thrown away at open. */
  snprintf(path, sizeof path, "%s/cmp-00000000.log", f->dir);
  fd = open(path, O_WRONLY | O_CREAT, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "junk", 4), 4);
  close(fd);
  s = open_dir(f->dir, 0);
  assert_false(file_exists(f->dir, "cmp-00000000.log"));
  check_fill(s);
  tv_store_close(s);
}

/* Damage in a sealed segment found by compaction: it stops, keeps the
 * old files, and the store still answers for the undamaged records. */
static void test_damaged_segment(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  fill(s);
  char path[600];
  snprintf(path, sizeof path, "%s/seg-00000002.log", f->dir);
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t b = 0;
  assert_int_equal(pread(fd, &b, 1, 5000), 1);
  b ^= 0x40;
  assert_int_equal(pwrite(fd, &b, 1, 5000), 1);
  close(fd);
  struct stat sb1, sb2, after1, after2;
  assert_int_equal(stat(path, &sb2), 0);
  snprintf(path, sizeof path, "%s/seg-00000001.log", f->dir);
  assert_int_equal(stat(path, &sb1), 0);
  assert_int_equal(tv_store_compact(s, NULL, NULL), TV_E_STORE_CORRUPT);
  /* The sealed segments are untouched (the active one was sealed first). */
  assert_int_equal(stat(path, &after1), 0);
  snprintf(path, sizeof path, "%s/seg-00000002.log", f->dir);
  assert_int_equal(stat(path, &after2), 0);
  assert_int_equal(after1.st_ino, sb1.st_ino);
  assert_int_equal(after1.st_size, sb1.st_size);
  assert_int_equal(after2.st_ino, sb2.st_ino);
  assert_int_equal(after2.st_size, sb2.st_size);
  assert_false(file_exists(f->dir, "cmp-00000000.log"));
  assert_false(file_exists(f->dir, "COMPACT"));
  assert_int_equal(test_check_ids(s, N - 10, 10, 1), 10);
  tv_store_close(s);
}

/* expect_named asserts this thread's recorded store I/O failure names
 * |call_and_file| and errno |err|. */
static void expect_named(const char *call_and_file, int err) {
  const char *msg = tv_store_io_error();
  print_message("io error: %s\n", msg);
  char errno_text[32];
  snprintf(errno_text, sizeof errno_text, "(errno %d)", err);
  assert_non_null(strstr(msg, call_and_file));
  assert_non_null(strstr(msg, errno_text));
}

typedef struct swap_sabotage {
  const char *dir;
  char seg[32]; /* the renamed output put out of reach */
} swap_sabotage;

/* At RENAMED_ALL the outputs carry segment names up to the one below the
 * active segment (the highest): that one becomes a directory, so the swap
 * (run on the writer's thread) cannot open it. */
static void sabotage_swap(void *ctx, tv_store_compact_step step) {
  swap_sabotage *sb = ctx;
  if (step != TV_COMPACT_STEP_RENAMED_ALL) {
    return;
  }
  uint32_t max_id = 0;
  DIR *d = opendir(sb->dir);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    uint32_t id;
    if (tv_segment_parse_name(e->d_name, &id) && id > max_id) {
      max_id = id;
    }
  }
  closedir(d);
  tv_segment_name(sb->seg, sizeof sb->seg, max_id - 1);
  char path[600];
  snprintf(path, sizeof path, "%s/%s", sb->dir, sb->seg);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(mkdir(path, 0700), 0);
}

/* A compaction that fails on a call says which call, file and errno on
 * the compacting thread (the rotation worker logs it as its detail), also
 * when the call failed on the writer's thread during the swap. */
static void test_io_failures_named(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  fill(s);
  char path[600];
  snprintf(path, sizeof path, "%s/cmp-00000000.log", f->dir);
  assert_int_equal(mkdir(path, 0700), 0); /* a leftover output that cannot be removed */
  tv_store_io_error_clear();
  assert_int_not_equal(tv_store_compact(s, NULL, NULL), TV_OK);
  expect_named("unlink of cmp-00000000.log failed", 21); /* EISDIR */
  assert_int_equal(rmdir(path), 0);
  swap_sabotage sb = {.dir = f->dir};
  tv_store_compact_options o = {.fault = sabotage_swap, .fault_ctx = &sb};
  tv_store_io_error_clear();
  assert_int_equal(tv_store_compact(s, &o, NULL), TV_E_IO);
  char want[64];
  snprintf(want, sizeof want, "open of %s failed", sb.seg);
  expect_named(want, 21);
  tv_store_close(s);
}

/* A log written with the O_DIRECT experiment (whole blocks, the tail
 * block rewritten by each batch) reads back, compacts and reopens like a
 * buffered one, with either setting. */
static void test_direct_io_log(void **state) {
  fixture *f = *state;
  tv_store_options o = test_store_options(f->dir, SEG);
  o.direct_io = 1;
  tv_store *s = NULL;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_true(st.direct_io == 1 || st.direct_io == 2);
  fill(s);
  check_fill(s);
  assert_int_equal(tv_store_compact(s, NULL, NULL), TV_OK);
  submit_many(s, TV_STORE_OP_PUT, N, 300, 1);
  check_fill(s);
  tv_store_close(s);
  s = open_dir(f->dir, 0); /* buffered */
  check_fill(s);
  assert_int_equal(test_check_ids(s, N, 300, 1), 300);
  tv_store_close(s);
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  submit_many(s, TV_STORE_OP_PUT, N + 300, 300, 1);
  tv_store_close(s);
  s = open_dir(f->dir, 0);
  check_fill(s);
  assert_int_equal(test_check_ids(s, N, 600, 1), 600);
  tv_store_stats st2;
  tv_store_get_stats(s, &st2);
  assert_int_equal(st2.torn_bytes_cut, 0);
  assert_int_equal(st2.direct_io, 0);
  tv_store_close(s);
}

/* ---- online: readers, writers and scans during compaction ---------------- */

enum { NEW_MAX = 200000 };

typedef struct online {
  tv_store *s;
  atomic_int stop;
  atomic_uint_fast64_t acked_new; /* ids N.. put and acknowledged */
  atomic_int reput_done[REPUT];   /* id re-put at version 3 and acknowledged */
  atomic_uint_fast64_t checks;
  atomic_uint_fast64_t scans;
  atomic_uint_fast64_t errors;
} online;

static void *new_writer(void *arg) {
  online *o = arg;
  for (uint64_t k = 0; k < NEW_MAX && !atomic_load(&o->stop); k += 50) {
    submit_many(o->s, TV_STORE_OP_PUT, N + k, 50, 1);
    atomic_store(&o->acked_new, k + 50);
  }
  return NULL;
}

static void *reputter(void *arg) {
  online *o = arg;
  for (uint64_t id = 0; id < REPUT && !atomic_load(&o->stop); id += 20) {
    submit_many(o->s, TV_STORE_OP_REPUT, id, 20, 3);
    for (uint64_t k = id; k < id + 20; k++) {
      atomic_store(&o->reput_done[k], 1);
    }
  }
  return NULL;
}

/* check_one: |it| is what id must be; a re-put seen acknowledged before
 * the read must be the new version. */
static int check_one(const tv_store_item *it, uint64_t id, int must_be_new) {
  if (is_deleted(id)) {
    return it->status == TV_E_STORE_NOT_FOUND;
  }
  if (it->status != TV_OK) {
    return 0;
  }
  test_rec t;
  uint32_t v = id >= N ? 1 : version_of(id);
  if (id < REPUT) {
    test_rec_make(&t, id, 3);
    if (test_put_equal(&it->put, &t.put)) {
      return 1;
    }
    if (must_be_new) {
      return 0;
    }
  }
  test_rec_make(&t, id, v);
  return test_put_equal(&it->put, &t.put);
}

static void check_round(online *o, tv_store_buf *buf, uint64_t base) {
  enum { B = 64 };
  test_rec recs[B];
  tv_store_key keys[B];
  tv_store_item items[B];
  uint64_t ids[B];
  int must[B];
  uint64_t acked = atomic_load(&o->acked_new);
  for (int i = 0; i < B; i++) {
    uint64_t span = N + acked;
    ids[i] = (base * 7919 + (uint64_t)i * 104729) % span;
    must[i] = ids[i] < REPUT && atomic_load(&o->reput_done[ids[i]]);
    test_rec_make(&recs[i], ids[i], 1);
    keys[i] = test_rec_key(&recs[i]);
  }
  if (tv_store_get_batch(o->s, keys, B, items, buf) != TV_OK) {
    atomic_fetch_add(&o->errors, 1);
    return;
  }
  for (int i = 0; i < B; i++) {
    if (!check_one(&items[i], ids[i], must[i])) {
      atomic_fetch_add(&o->errors, 1);
    }
  }
  atomic_fetch_add(&o->checks, B);
}

/* count_stable counts live tokens never re-put during the test (ids from
 * REPUT on): a scan may miss a token re-put while it runs (its new record
 * lies past the scan's end mark), never one that is left alone. */
static tv_status count_stable(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)loc;
  char tok[32] = {0};
  memcpy(tok, put->token, put->token_len < 31 ? put->token_len : 31);
  if (strtoull(tok + 4, NULL, 10) >= REPUT) {
    (*(uint64_t *)ctx)++;
  }
  return TV_OK;
}

/* scan_round: a scan during compactions sees each stable token exactly
 * once: none lost to a swap, none seen in both old and new files. */
static void scan_round(online *o) {
  uint64_t floor = N - REPUT - DELETED + atomic_load(&o->acked_new), n = 0;
  tv_status st = tv_store_scan(o->s, count_stable, &n);
  uint64_t ceiling = N - REPUT - DELETED + atomic_load(&o->acked_new) + 50;
  if (st != TV_OK || n < floor || n > ceiling) {
    atomic_fetch_add(&o->errors, 1);
  }
  atomic_fetch_add(&o->scans, 1);
}

static void *checker(void *arg) {
  online *o = arg;
  tv_store_buf buf = {0};
  for (uint64_t round = 0; !atomic_load(&o->stop); round++) {
    check_round(o, &buf, round);
    if (round % 50 == 0) {
      scan_round(o);
    }
  }
  tv_store_buf_cleanup(&buf);
  return NULL;
}

static void test_online(void **state) {
  fixture *f = *state;
  static online o;
  memset(&o, 0, sizeof o);
  o.s = open_dir(f->dir, 500);
  fill(o.s);
  pthread_t th[4];
  pthread_create(&th[0], NULL, new_writer, &o);
  pthread_create(&th[1], NULL, reputter, &o);
  pthread_create(&th[2], NULL, checker, &o);
  pthread_create(&th[3], NULL, checker, &o);
  for (int round = 0; round < 4; round++) {
    usleep(150 * 1000);
    tv_store_compact_progress p;
    assert_int_equal(tv_store_compact(o.s, NULL, &p), TV_OK);
  }
  atomic_store(&o.stop, 1);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
  }
  assert_int_equal(atomic_load(&o.errors), 0);
  assert_true(atomic_load(&o.checks) > 0);
  assert_true(atomic_load(&o.scans) > 0);
  uint64_t acked = atomic_load(&o.acked_new);
  assert_true(acked > 0);
  assert_int_equal(test_check_ids(o.s, N, (size_t)acked, 1), acked);
  tv_store_close(o.s);
  /* Reopen (from the checkpoint written after the last swap). */
  o.s = open_dir(f->dir, 500);
  assert_int_equal(test_check_ids(o.s, N, (size_t)acked, 1), acked);
  tv_store_buf buf = {0};
  for (uint64_t id = 0; id < N; id++) {
    test_rec t;
    test_rec_make(&t, id, 1);
    tv_store_key k = test_rec_key(&t);
    tv_store_item it;
    assert_int_equal(tv_store_get_batch(o.s, &k, 1, &it, &buf), TV_OK);
    assert_true(check_one(&it, id, id < REPUT && atomic_load(&o.reput_done[id])));
  }
  tv_store_buf_cleanup(&buf);
  assert_int_equal(count_live(o.s), N - DELETED + acked);
  tv_store_close(o.s);
  check_dense(f->dir);
}

/* ---- cancel --------------------------------------------------------------- */

static int not_dot(const struct dirent *e) { return e->d_name[0] != '.'; }

/* listing writes the sorted names, sizes and CRCs of the files in |dir|. */
static void listing(const char *dir, char *out, size_t out_len) {
  struct dirent **names;
  int n = scandir(dir, &names, not_dot, name_cmp);
  assert_true(n > 0);
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint32_t crc = 0;
    size_t size = 0, got;
    uint8_t chunk[8192];
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) {
      crc = tv_crc32c_extend(crc, chunk, got);
      size += got;
    }
    fclose(fp);
    int w = snprintf(out + used, out_len - used, "%s:%zu:%08x ", names[i]->d_name, size, crc);
    assert_true(w > 0 && (size_t)w < out_len - used);
    used += (size_t)w;
    free(names[i]);
  }
  free(names);
}

typedef struct cancel_ctx {
  const char *dir;
  atomic_int flag;
  int at_copying; /* set the flag when the first output is half written */
  char rolled[4096]; /* the directory once the active segment was sealed */
  uint64_t rolled_bytes;
} cancel_ctx;

static void cancel_fault(void *ctx, tv_store_compact_step step) {
  cancel_ctx *c = ctx;
  if (step == TV_COMPACT_STEP_ROLLED) {
    listing(c->dir, c->rolled, sizeof c->rolled);
    c->rolled_bytes = seg_bytes(c->dir, NULL);
  } else if (step == TV_COMPACT_STEP_COPYING && c->at_copying) {
    atomic_store(&c->flag, 1);
  }
}

/* after_cancel: the old segments are as they were once the compaction
 * rolled (no output, no manifest), every record reads back (before and
 * after a reopen) and a later compaction completes. */
static void after_cancel(const fixture *f, tv_store *s, const cancel_ctx *c, const tv_store_compact_progress *p) {
  tv_store_compact_report r;
  tv_store_compact_progress_get(p, &r);
  assert_int_equal(r.phase, TV_COMPACT_FAILED);
  char after[4096];
  listing(f->dir, after, sizeof after);
  assert_string_equal(after, c->rolled);
  assert_false(file_exists(f->dir, "COMPACT"));
  check_fill(s);
  assert_int_equal(count_live(s), N - DELETED);
  tv_store_close(s);
  s = open_dir(f->dir, 0);
  check_fill(s);
  tv_store_compact_progress p2;
  atomic_int never = 0;
  tv_store_compact_options o = {.cancel = &never};
  assert_int_equal(tv_store_compact(s, &o, &p2), TV_OK);
  tv_store_compact_progress_get(&p2, &r);
  assert_int_equal(r.phase, TV_COMPACT_FINISHED);
  assert_int_equal(r.records_kept, N - DELETED);
  assert_true(seg_bytes(f->dir, NULL) < c->rolled_bytes);
  check_fill(s);
  tv_store_close(s);
  check_dense(f->dir);
}

/* Cancelled while the first output is half written. */
static void test_cancel_mid_copy(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  fill(s);
  cancel_ctx c = {.dir = f->dir, .at_copying = 1};
  tv_store_compact_options o = {.cancel = &c.flag, .fault = cancel_fault, .fault_ctx = &c};
  tv_store_compact_progress p;
  assert_int_equal(tv_store_compact(s, &o, &p), TV_E_STORE_COMPACT_CANCELLED);
  assert_string_equal(tv_status_name(TV_E_STORE_COMPACT_CANCELLED), "STORE_COMPACT_CANCELLED");
  tv_store_compact_report r;
  tv_store_compact_progress_get(&p, &r);
  assert_true(r.records_kept > 0 && r.records_kept < N - DELETED); /* stopped part way */
  after_cancel(f, s, &c, &p);
}

typedef struct canceller {
  atomic_int *flag;
  long after_ns;
} canceller;

static void *cancel_later(void *arg) {
  const canceller *c = arg;
  struct timespec ts = {0, c->after_ns};
  nanosleep(&ts, NULL);
  atomic_store(c->flag, 1);
  return NULL;
}

/* A throttled compaction (due to take ~60 s) is cancelled from another
 * thread, as a SIGTERM would: it returns cancelled, not after its work.
 * The 20 s bound is a hang guard a third of the throttled duration, so it
 * still proves the throttle's sleep is interrupted, whatever the load. */
static void test_cancel_throttled_is_prompt(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  fill(s);
  cancel_ctx c = {.dir = f->dir};
  tv_store_compact_options o = {
      .cancel = &c.flag, .fault = cancel_fault, .fault_ctx = &c, .bytes_per_s = seg_bytes(f->dir, NULL) / 60};
  canceller k = {&c.flag, 300 * 1000 * 1000};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, cancel_later, &k), 0);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  tv_store_compact_progress p;
  assert_int_equal(tv_store_compact(s, &o, &p), TV_E_STORE_COMPACT_CANCELLED);
  double secs = since(&t0);
  pthread_join(th, NULL);
  print_message("cancelled after %.3f s (cancel at 0.3 s, compaction due in ~60 s)\n", secs);
  assert_true(secs >= 0.25 && secs < 20.0);
  after_cancel(f, s, &c, &p);
}

/* Already set: nothing is started, not even the roll. */
static void test_cancel_before_start(void **state) {
  fixture *f = *state;
  tv_store *s = open_dir(f->dir, 0);
  fill(s);
  cancel_ctx c = {.dir = f->dir};
  listing(f->dir, c.rolled, sizeof c.rolled);
  c.rolled_bytes = seg_bytes(f->dir, NULL);
  atomic_store(&c.flag, 1);
  tv_store_compact_options o = {.cancel = &c.flag, .fault = cancel_fault, .fault_ctx = &c};
  tv_store_compact_progress p;
  assert_int_equal(tv_store_compact(s, &o, &p), TV_E_STORE_COMPACT_CANCELLED);
  after_cancel(f, s, &c, &p);
}

/* ---- a waiting swap holds new scans off ------------------------------------ */

/* Scan A holds the store (its callback waits for a go); a compaction then
 * waits for its swap; scan B starts after that. B must wait for the swap:
 * with a plain reader-preferring lock B would run at once, and scans that
 * keep overlapping would hold the swap off forever (seen as a 300 s hang
 * of test_online on a loaded machine). */
typedef struct gate_run {
  tv_store *s;
  tv_store_compact_progress p;
  atomic_int a_in_scan, a_go, compacted, b_done;
} gate_run;

static tv_status hold_scan(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)put, (void)loc;
  gate_run *g = ctx;
  atomic_store(&g->a_in_scan, 1);
  for (int i = 0; i < 20000 && !atomic_load(&g->a_go); i++) { /* 20 s hang guard */
    usleep(1000);
  }
  return TV_OK;
}

static tv_status count_scan(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)ctx, (void)put, (void)loc;
  return TV_OK;
}

static void *scan_a(void *arg) {
  gate_run *g = arg;
  (void)tv_store_scan(g->s, hold_scan, g);
  return NULL;
}

static void *compactor(void *arg) {
  gate_run *g = arg;
  atomic_store(&g->compacted, tv_store_compact(g->s, NULL, &g->p) == TV_OK ? 1 : -1);
  return NULL;
}

static void *scan_b(void *arg) {
  gate_run *g = arg;
  (void)tv_store_scan(g->s, count_scan, g);
  atomic_store(&g->b_done, 1);
  return NULL;
}

static void test_waiting_swap_holds_new_scans_off(void **state) {
  fixture *f = *state;
  static gate_run g;
  memset(&g, 0, sizeof g);
  g.s = open_dir(f->dir, 0);
  fill(g.s);
  pthread_t a, c, b;
  pthread_create(&a, NULL, scan_a, &g);
  for (int i = 0; i < 20000 && !atomic_load(&g.a_in_scan); i++) {
    usleep(1000);
  }
  assert_true(atomic_load(&g.a_in_scan));
  pthread_create(&c, NULL, compactor, &g);
  for (int i = 0; i < 20000 && atomic_load(&g.p.phase) != TV_COMPACT_SWAPPING; i++) {
    usleep(1000);
  }
  assert_int_equal(atomic_load(&g.p.phase), TV_COMPACT_SWAPPING);
  usleep(300 * 1000); /* the manifest is committed, then the swap waits for scan A */
  pthread_create(&b, NULL, scan_b, &g);
  usleep(300 * 1000);
  assert_int_equal(atomic_load(&g.b_done), 0); /* B waits at the gate, behind the swap */
  atomic_store(&g.a_go, 1);
  pthread_join(a, NULL);
  pthread_join(c, NULL);
  pthread_join(b, NULL);
  assert_int_equal(atomic_load(&g.compacted), 1); /* and nobody deadlocked */
  assert_int_equal(atomic_load(&g.b_done), 1);
  tv_store_close(g.s);
}

/* ---- crash at every step -------------------------------------------------- */

typedef struct kill_at {
  tv_store_compact_step step;
} kill_at;

static void kill_fault(void *ctx, tv_store_compact_step step) {
  if (step == ((kill_at *)ctx)->step) {
    raise(SIGKILL);
  }
}

static void run_child(const char *dir, tv_store_compact_step step) {
  alarm(30);
  tv_store_options o = test_store_options(dir, SEG);
  o.checkpoint_records = 500;
  tv_store *s;
  if (tv_store_open(NULL, &o, &s, NULL) != TV_OK) {
    _exit(2);
  }
  kill_at k = {step};
  tv_store_compact_options co = {.fault = kill_fault, .fault_ctx = &k};
  tv_store_compact(s, &co, NULL);
  _exit(3); /* the step was never reached */
}

static void test_crash_every_step(void **state) {
  fixture *f = *state;
  char tmpl[300];
  snprintf(tmpl, sizeof tmpl, "%s/template", f->dir);
  tv_store *s = open_dir(tmpl, 500);
  fill(s);
  tv_store_close(s); /* leaves a CHECKPOINT: it must not survive a swap */
  assert_true(file_exists(tmpl, "CHECKPOINT"));
  for (int step = TV_COMPACT_STEP_ROLLED; step <= TV_COMPACT_STEP_DONE; step++) {
    char dir[300], cmd[700];
    snprintf(dir, sizeof dir, "%s/step%d", f->dir, step);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", tmpl, dir);
    assert_int_equal(system(cmd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      run_child(dir, (tv_store_compact_step)step);
    }
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL) {
      fail_msg("step %d: child was not killed at the step (status %d)", step, ws);
    }
    s = open_dir(dir, 500);
    check_fill(s);
    assert_int_equal(count_live(s), N - DELETED);
    assert_false(file_exists(dir, "COMPACT"));
    /* The log goes on and compacts again; a second reopen agrees. */
    submit_many(s, TV_STORE_OP_PUT, N, 100, 1);
    assert_int_equal(tv_store_compact(s, NULL, NULL), TV_OK);
    tv_store_close(s);
    s = open_dir(dir, 500);
    check_fill(s);
    assert_int_equal(test_check_ids(s, N, 100, 1), 100);
    tv_store_close(s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reclaims_space, setup, teardown),
      cmocka_unit_test_setup_teardown(test_everything_deleted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keeps_tombstones, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired_become_stubs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_snapshot_after_compaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged_segment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_io_failures_named, setup, teardown),
      cmocka_unit_test_setup_teardown(test_direct_io_log, setup, teardown),
      cmocka_unit_test_setup_teardown(test_online, setup, teardown),
      cmocka_unit_test_setup_teardown(test_waiting_swap_holds_new_scans_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_every_step, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_mid_copy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_throttled_is_prompt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_before_start, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
