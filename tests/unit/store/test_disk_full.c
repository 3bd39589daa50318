/* Disk full and write errors: callers get a clear status, nothing
 * acknowledged is lost, a failed batch leaves no trace, and the store
 * carries on once space returns. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/store.h"

enum { ROUND = 256, IDS_MAX = 60000 };

typedef struct round_op {
  tv_store_op op;
  test_rec rec;
  tv_status status;
  atomic_int *done;
} round_op;

static void round_done(tv_store_op *op, tv_status st) {
  round_op *r = op->user;
  r->status = st;
  atomic_fetch_add(r->done, 1);
}

/* put_round writes ids [first, first+n) with all of them in flight at
 * once (a few fsyncs, not n) and records each one's status. */
static void put_round(tv_store *s, uint64_t first, size_t n, tv_status *status) {
  static round_op ops[ROUND];
  atomic_int done = 0;
  for (size_t i = 0; i < n; i++) {
    test_rec_make(&ops[i].rec, first + i, 1);
    memset(&ops[i].op, 0, sizeof ops[i].op);
    ops[i].op.kind = TV_STORE_OP_PUT;
    ops[i].op.put = ops[i].rec.put;
    ops[i].op.done = round_done;
    ops[i].op.user = &ops[i];
    ops[i].done = &done;
    tv_status st = tv_store_submit(s, &ops[i].op);
    if (st != TV_OK) {
      ops[i].status = st;
      atomic_fetch_add(&done, 1);
    }
  }
  while ((size_t)atomic_load(&done) < n) {
    struct timespec nap = {0, 100000};
    nanosleep(&nap, NULL);
  }
  for (size_t i = 0; i < n; i++) {
    status[i] = ops[i].status;
  }
}

/* verify returns 1 if exactly the ids acknowledged OK are in the store. */
static int verify(tv_store *s, const tv_status *status, uint64_t num) {
  tv_store_buf buf = {0};
  int good = 1;
  for (uint64_t base = 0; base < num && good; base += ROUND) {
    size_t n = num - base < ROUND ? (size_t)(num - base) : ROUND;
    static test_rec recs[ROUND];
    tv_store_key keys[ROUND];
    tv_store_item items[ROUND];
    for (size_t i = 0; i < n; i++) {
      test_rec_make(&recs[i], base + i, 1);
      keys[i] = test_rec_key(&recs[i]);
    }
    good = tv_store_get_batch(s, keys, n, items, &buf) == TV_OK;
    for (size_t i = 0; i < n && good; i++) {
      int present = items[i].status == TV_OK && test_put_equal(&items[i].put, &recs[i].put);
      int absent = items[i].status == TV_E_STORE_NOT_FOUND;
      good = status[base + i] == TV_OK ? present : absent;
    }
  }
  tv_store_buf_cleanup(&buf);
  return good;
}

/* Child steps report failure through distinct exit codes. */
static int fsize_child(const char *dir) {
  static tv_status status[IDS_MAX + 1024];
  tv_store_options o = test_store_options(dir, 8u << 20);
  tv_store *s;
  if (tv_store_open(NULL, &o, &s, NULL) != TV_OK) {
    return 10;
  }
  signal(SIGXFSZ, SIG_IGN); /* get EFBIG instead of dying */
  struct rlimit lim;
  getrlimit(RLIMIT_FSIZE, &lim);
  struct rlimit small = {.rlim_cur = 1536 * 1024, .rlim_max = lim.rlim_max};
  if (setrlimit(RLIMIT_FSIZE, &small) != 0) {
    return 11;
  }
  uint64_t next = 0;
  size_t acked = 0, full = 0, other = 0;
  while (next < IDS_MAX && full == 0) {
    put_round(s, next, ROUND, status + next);
    for (size_t i = 0; i < ROUND; i++) {
      acked += status[next + i] == TV_OK;
      full += status[next + i] == TV_E_STORE_NO_SPACE;
      other += status[next + i] != TV_OK && status[next + i] != TV_E_STORE_NO_SPACE;
    }
    next += ROUND;
  }
  if (full == 0 || other != 0 || acked < 1000) {
    return 12; /* the limit must be hit, with a clear status, after real work */
  }
  /* Small batches may still fit in the last bytes under the limit; once
   * those are used every put is refused, each with the same clear status. */
  int refused_round = 0;
  for (int round = 0; round < 200 && !refused_round; round++) {
    put_round(s, next, 3, status + next);
    refused_round = 1;
    for (size_t i = 0; i < 3; i++) {
      acked += status[next + i] == TV_OK;
      refused_round &= status[next + i] == TV_E_STORE_NO_SPACE;
      if (status[next + i] != TV_OK && status[next + i] != TV_E_STORE_NO_SPACE) {
        return 13;
      }
    }
    next += 3;
  }
  if (!refused_round) {
    return 13;
  }
  if (!verify(s, status, next)) {
    return 14;
  }
  if (setrlimit(RLIMIT_FSIZE, &lim) != 0) { /* space returns */
    return 15;
  }
  put_round(s, next, ROUND, status + next);
  for (size_t i = 0; i < ROUND; i++) {
    if (status[next + i] != TV_OK) {
      return 16;
    }
  }
  next += ROUND;
  tv_store_close(s);
  if (tv_store_open(NULL, &o, &s, NULL) != TV_OK) {
    return 17;
  }
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  int ok = verify(s, status, next) && st.index.tokens == acked + ROUND;
  tv_store_close(s);
  return ok ? 0 : 18;
}

/* Runs |child| in a forked process on a fresh directory (it changes
 * process-wide limits) and expects it to exit 0; its other exit codes
 * name the check that failed. */
static void run_child_in_tmpdir(int (*child)(const char *dir)) {
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    _exit(child(dir));
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  test_rmdir(dir);
}

static void test_file_size_limit(void **state) {
  (void)state;
  run_child_in_tmpdir(fsize_child);
}

typedef struct fault_ctx {
  atomic_int fail_with; /* negative errno for the next batch, or 0 */
  atomic_int injected;
} fault_ctx;

static int fault_hook(void *ctx, uint64_t batch_no) {
  (void)batch_no;
  fault_ctx *f = ctx;
  int err = atomic_exchange(&f->fail_with, 0);
  if (err != 0) {
    atomic_fetch_add(&f->injected, 1);
  }
  return err;
}

static void test_injected_write_errors(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  fault_ctx f = {0};
  tv_store_options o = test_store_options(dir, 0);
  o.fault = fault_hook;
  o.fault_ctx = &f;
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  uint64_t id = 0;
  for (; id < 50; id++) {
    test_rec t;
    test_rec_make(&t, id, 1);
    assert_int_equal(tv_store_put(s, &t.put, NULL), TV_OK);
  }
  /* A failed batch: half of it reaches the file before the error. */
  test_rec lost;
  test_rec_make(&lost, 9999, 1);
  atomic_store(&f.fail_with, -ENOSPC);
  assert_int_equal(tv_store_put(s, &lost.put, NULL), TV_E_STORE_NO_SPACE);
  atomic_store(&f.fail_with, -EIO);
  assert_int_equal(tv_store_put(s, &lost.put, NULL), TV_E_STORE_WRITE_FAILED);
  assert_int_equal(atomic_load(&f.injected), 2);
  /* The same token can be written afterwards: nothing of it was kept. */
  for (; id < 100; id++) {
    test_rec t;
    test_rec_make(&t, id, 1);
    assert_int_equal(tv_store_put(s, &t.put, NULL), TV_OK);
  }
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_true(st.failed_batches == 2);
  assert_int_equal(test_check_ids(s, 9999, 1, 1), 0);
  tv_store_close(s);

  o.fault = NULL;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  tv_store_get_stats(s, &st);
  assert_true(st.torn_bytes_cut == 0); /* the partial write was cut at once */
  assert_int_equal(st.index.tokens, 100);
  assert_int_equal(test_check_ids(s, 0, 100, 1), 100);
  assert_int_equal(test_check_ids(s, 9999, 1, 1), 0);
  assert_int_equal(tv_store_put(s, &lost.put, NULL), TV_OK);
  tv_store_close(s);
  test_rmdir(dir);
}

/* open_fails_child opens a new store with no room to create its first
 * segment; the failure must name the call and the errno, not only a
 * status. Exit 0 if it does. */
static int open_fails_child(const char *dir) {
  signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of a signal */
  struct rlimit none;
  getrlimit(RLIMIT_FSIZE, &none);
  none.rlim_cur = 0;
  if (setrlimit(RLIMIT_FSIZE, &none) != 0) {
    return 10;
  }
  tv_store_options o = test_store_options(dir, 0);
  tv_store *s;
  tv_store_diag d;
  tv_status st = tv_store_open(NULL, &o, &s, &d);
  if (st != TV_E_STORE_NO_SPACE) {
    return 11;
  }
  fprintf(stderr, "diag: %s: %s\n", d.path, d.message);
  if (strcmp(d.path, dir) != 0 || strstr(d.message, "fallocate of seg-00000001.log failed") == NULL ||
      strstr(d.message, "(errno 27)") == NULL) {
    return 12;
  }
  if (!d.io_failure) { /* tokenvaultd then prints no meaningless offset */
    return 13;
  }
  return 0;
}

static void test_open_failure_names_call_and_errno(void **state) {
  (void)state;
  run_child_in_tmpdir(open_fails_child);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file_size_limit),
      cmocka_unit_test(test_injected_write_errors),
      cmocka_unit_test(test_open_failure_names_call_and_errno),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
