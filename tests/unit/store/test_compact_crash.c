/* Compaction under SIGKILL at random moments: a child appends and deletes
 * from several threads while another thread compacts in a loop, and
 * reports each acknowledged put and delete through a pipe; the parent
 * kills it at random moments, reopens, and checks that every acknowledged
 * put is present and exact, every acknowledged delete is gone, and the
 * log still compacts. (test_compact.c kills at each named step.) */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/store.h"

/* Ids per thread and round: CHILD_THREADS * THREAD_IDS <= ROUND_IDS. */
enum { KILLS = 25, CHILD_THREADS = 16, ROUND_IDS = 1000000, THREAD_IDS = 50000, DELETE_EVERY = 7 };

_Static_assert(CHILD_THREADS * THREAD_IDS <= ROUND_IDS, "rounds would reuse ids");

#define DELETED_BIT (UINT64_C(1) << 63)
#define DELETING_BIT (UINT64_C(1) << 62) /* submitted: gone or not, both fine */
#define COMPACTED_BIT (UINT64_C(1) << 61) /* a compaction completed */

typedef struct child_arg {
  tv_store *s;
  int fd;
  uint64_t base;
} child_arg;

static void report(int fd, uint64_t v) {
  /* 8 bytes < PIPE_BUF: each report is written atomically. */
  if (write(fd, &v, sizeof v) != (ssize_t)sizeof v) {
    _exit(4);
  }
}

static void *child_writer(void *arg) {
  child_arg *a = arg;
  for (uint64_t k = 0; k < THREAD_IDS; k++) {
    test_rec t;
    test_rec_make(&t, a->base + k, 1);
    if (tv_store_put(a->s, &t.put, NULL) != TV_OK) {
      _exit(3);
    }
    report(a->fd, a->base + k);
    if (k % DELETE_EVERY == DELETE_EVERY - 1) { /* one this thread put and saw acknowledged */
      test_rec d;
      test_rec_make(&d, a->base + k - 3, 1);
      tv_store_key key = test_rec_key(&d);
      report(a->fd, (a->base + k - 3) | DELETING_BIT);
      if (tv_store_delete(a->s, &key, 1) != TV_OK) {
        _exit(5);
      }
      report(a->fd, (a->base + k - 3) | DELETED_BIT);
    }
  }
  return NULL;
}

static void *child_compactor(void *arg) {
  child_arg *a = arg;
  for (;;) {
    tv_status st = tv_store_compact(a->s, NULL, NULL);
    if (st != TV_OK) {
      _exit(6);
    }
    report(a->fd, COMPACTED_BIT);
  }
  return NULL;
}

static void run_child(const char *dir, int fd, uint64_t base) {
  alarm(20); /* never outlive a crashed parent for long */
  tv_store_options o = test_store_options(dir, 64 * 1024);
  o.checkpoint_records = 300;
  tv_store *s;
  if (tv_store_open(NULL, &o, &s, NULL) != TV_OK) {
    _exit(2);
  }
  pthread_t th[CHILD_THREADS + 1];
  child_arg args[CHILD_THREADS];
  for (int i = 0; i < CHILD_THREADS; i++) {
    args[i] = (child_arg){s, fd, base + (uint64_t)i * THREAD_IDS};
    pthread_create(&th[i], NULL, child_writer, &args[i]);
  }
  child_arg comp = {s, fd, 0};
  pthread_create(&th[CHILD_THREADS], NULL, child_compactor, &comp);
  pause();
  _exit(0);
}

typedef struct acks {
  uint64_t compactions;
  uint64_t *ids;
  uint8_t *deleted;
  size_t num;
  size_t cap;
} acks;

/* find returns the index of |id| in |a| (ids arrive in no global order:
 * a linear search from the end, where recent puts are, is enough here). */
static size_t find(const acks *a, uint64_t id) {
  for (size_t i = a->num; i-- > 0;) {
    if (a->ids[i] == id) {
      return i;
    }
  }
  return SIZE_MAX;
}

/* deleted[i]: 0 live, 1 being deleted (either state is right), 2 gone. */
static void take(acks *a, uint64_t v) {
  if (v == COMPACTED_BIT) {
    a->compactions++;
    return;
  }
  if (v & (DELETED_BIT | DELETING_BIT)) {
    size_t i = find(a, v & ~(DELETED_BIT | DELETING_BIT));
    assert_true(i != SIZE_MAX); /* its put was acknowledged first */
    a->deleted[i] = (v & DELETED_BIT) ? 2 : 1;
    return;
  }
  if (a->num == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 4096;
    a->ids = realloc(a->ids, a->cap * sizeof *a->ids);
    a->deleted = realloc(a->deleted, a->cap);
    assert_non_null(a->ids);
    assert_non_null(a->deleted);
  }
  a->ids[a->num] = v;
  a->deleted[a->num++] = 0;
}

static void drain(int fd, acks *a) {
  uint64_t v;
  ssize_t n;
  while ((n = read(fd, &v, sizeof v)) == (ssize_t)sizeof v) {
    take(a, v);
  }
  assert_int_equal(n, 0);
}

/* check_all reads every acknowledged id back, 256 per submission. */
static void check_all(tv_store *s, const acks *a) {
  enum { B = 256 };
  static test_rec recs[B];
  tv_store_key keys[B];
  tv_store_item items[B];
  tv_store_buf buf = {0};
  for (size_t base = 0; base < a->num; base += B) {
    size_t n = a->num - base < B ? a->num - base : B;
    for (size_t i = 0; i < n; i++) {
      test_rec_make(&recs[i], a->ids[base + i], 1);
      keys[i] = test_rec_key(&recs[i]);
    }
    assert_int_equal(tv_store_get_batch(s, keys, n, items, &buf), TV_OK);
    for (size_t i = 0; i < n; i++) {
      if (a->deleted[base + i] == 2) {
        assert_int_equal(items[i].status, TV_E_STORE_NOT_FOUND);
      } else if (a->deleted[base + i] == 1 && items[i].status == TV_E_STORE_NOT_FOUND) {
        continue;
      } else if (items[i].status != TV_OK || !test_put_equal(&items[i].put, &recs[i].put)) {
        fail_msg("acknowledged id %llu lost (%s)", (unsigned long long)a->ids[base + i],
                 tv_status_name(items[i].status));
      }
    }
  }
  tv_store_buf_cleanup(&buf);
}

static void kill_round(const char *dir, acks *a, int round, unsigned *seed) {
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(pfd[0]);
    run_child(dir, pfd[1], (uint64_t)round * ROUND_IDS);
  }
  close(pfd[1]);
  /* Wait for the child's first compaction of this round (so slow builds
   * too kill among compactions), then kill at a random moment. */
  uint64_t seen = a->compactions;
  while (a->compactions == seen) {
    uint64_t v;
    assert_int_equal(read(pfd[0], &v, sizeof v), (ssize_t)sizeof v);
    take(a, v);
  }
  struct timespec nap = {0, (long)(rand_r(seed) % 200) * 1000000L};
  nanosleep(&nap, NULL);
  kill(pid, SIGKILL);
  int ws = 0;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL) { /* an early _exit names its failure */
    fail_msg("round %d: child ended by itself (status 0x%x)", round, (unsigned)ws);
  }
  drain(pfd[0], a);
  close(pfd[0]);
  tv_store_options o = test_store_options(dir, 64 * 1024);
  tv_store *s;
  tv_store_diag diag;
  tv_status st = tv_store_open(NULL, &o, &s, &diag);
  if (st != TV_OK) {
    fail_msg("round %d: reopen: %s (%s)", round, tv_status_name(st), diag.message);
  }
  check_all(s, a);
  tv_store_close(s);
}

static void test_kill_during_compaction(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  acks a = {0};
  unsigned seed = (unsigned)time(NULL);
  for (int round = 1; round <= KILLS; round++) {
    kill_round(dir, &a, round, &seed);
  }
  assert_true(a.num > 0);
  print_message("%zu acknowledged ids, %llu compactions completed, %d kills\n", a.num,
                (unsigned long long)a.compactions, KILLS);
  assert_true(a.compactions >= KILLS); /* at least one per round */
  /* Everything survived; the log still compacts and reopens. */
  tv_store_options o = test_store_options(dir, 64 * 1024);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  assert_int_equal(tv_store_compact(s, NULL, NULL), TV_OK);
  check_all(s, &a);
  tv_store_close(s);
  free(a.ids);
  free(a.deleted);
  test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kill_during_compaction),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
