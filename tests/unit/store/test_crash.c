/* Crash safety: a child appends continuously from several threads and
 * reports each acknowledged id through a pipe; the parent waits for the
 * child's first acknowledgement, SIGKILLs it at a random moment after it,
 * reopens, and checks that every acknowledged record (at least one per
 * round) is present and intact and that every record present decodes
 * completely. */
#include <errno.h>
#include <poll.h>
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

enum { KILLS = 60, CHILD_THREADS = 8, ID_SPACE = 1000000 };

typedef struct child_arg {
  tv_store *s;
  int fd;
  uint64_t base;
} child_arg;

static void *child_thread(void *arg) {
  child_arg *a = arg;
  for (uint64_t k = 0; k < ID_SPACE / CHILD_THREADS; k++) {
    uint64_t id = a->base + k;
    test_rec t;
    test_rec_make(&t, id, 1);
    if (tv_store_put(a->s, &t.put, NULL) != TV_OK) {
      _exit(3);
    }
    /* 8 bytes < PIPE_BUF: each report is written atomically. */
    if (write(a->fd, &id, sizeof id) != (ssize_t)sizeof id) {
      _exit(4);
    }
  }
  return NULL;
}

static void run_child(const tv_store_options *o, int fd, uint64_t base) {
  alarm(20); /* never outlive a crashed parent for long */
  tv_store *s;
  if (tv_store_open(NULL, o, &s, NULL) != TV_OK) {
    _exit(2);
  }
  pthread_t th[CHILD_THREADS];
  child_arg args[CHILD_THREADS];
  for (int i = 0; i < CHILD_THREADS; i++) {
    args[i] = (child_arg){s, fd, base + (uint64_t)i * (ID_SPACE / CHILD_THREADS)};
    pthread_create(&th[i], NULL, child_thread, &args[i]);
  }
  for (int i = 0; i < CHILD_THREADS; i++) {
    pthread_join(th[i], NULL);
  }
  _exit(0);
}

typedef struct acked {
  uint64_t *ids;
  size_t num, cap;
} acked;

static void acked_add(acked *a, uint64_t id) {
  if (a->num == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 4096;
    a->ids = realloc(a->ids, a->cap * sizeof *a->ids);
    assert_non_null(a->ids);
  }
  a->ids[a->num++] = id;
}

typedef struct scan_check {
  size_t live;
  size_t bad;
} scan_check;

/* Every record present must be exactly what some producer wrote. */
static tv_status check_record(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)loc;
  scan_check *c = ctx;
  char token[40];
  if (put->token_len < 5 || put->token_len >= sizeof token) {
    c->bad++;
    return TV_OK;
  }
  memcpy(token, put->token, put->token_len);
  token[put->token_len] = '\0';
  test_rec want;
  test_rec_make(&want, strtoull(token + 4, NULL, 10), 1);
  c->bad += !test_put_equal(put, &want.put);
  c->live++;
  return TV_OK;
}

static size_t check_acked(tv_store *s, const acked *a) {
  size_t ok = 0;
  tv_store_buf buf = {0};
  for (size_t i = 0; i < a->num; i += 256) {
    size_t n = a->num - i < 256 ? a->num - i : 256;
    test_rec recs[256];
    tv_store_key keys[256];
    tv_store_item items[256];
    for (size_t j = 0; j < n; j++) {
      test_rec_make(&recs[j], a->ids[i + j], 1);
      keys[j] = test_rec_key(&recs[j]);
    }
    assert_int_equal(tv_store_get_batch(s, keys, n, items, &buf), TV_OK);
    for (size_t j = 0; j < n; j++) {
      ok += items[j].status == TV_OK && test_put_equal(&items[j].put, &recs[j].put);
    }
  }
  tv_store_buf_cleanup(&buf);
  return ok;
}

static void drain_pipe(int fd, acked *a) {
  uint64_t ids[512];
  ssize_t n;
  size_t carry = 0;
  uint8_t *raw = (uint8_t *)ids;
  while ((n = read(fd, raw + carry, sizeof ids - carry)) > 0 || (n < 0 && errno == EINTR)) {
    if (n < 0) {
      continue;
    }
    size_t have = carry + (size_t)n;
    for (size_t i = 0; i + 8 <= have; i += 8) {
      uint64_t id;
      memcpy(&id, raw + i, 8);
      acked_add(a, id);
    }
    carry = have % 8;
    memmove(raw, raw + have - carry, carry);
  }
  assert_int_equal(carry, 0); /* reports are never torn */
}

/* wait_first_ack reads the child's first report (8 bytes, so the stream
 * stays aligned for drain_pipe). The 60 s poll is a hang guard only. */
static void wait_first_ack(int fd, pid_t pid, acked *a) {
  uint8_t raw[8];
  size_t got = 0;
  while (got < sizeof raw) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = poll(&pfd, 1, 60000);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      kill(pid, SIGKILL);
      fail_msg("the child acknowledged nothing within 60 s");
    }
    ssize_t n = read(fd, raw + got, sizeof raw - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      fail_msg("the child exited before its first acknowledgement");
    }
    got += (size_t)n;
  }
  uint64_t id;
  memcpy(&id, raw, sizeof id);
  acked_add(a, id);
}

static void test_sigkill_at_random_moments(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 256 * 1024);
  acked a = {0};
  srand((unsigned)time(NULL));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  size_t cuts = 0;
  for (int round = 0; round < KILLS; round++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      run_child(&o, fds[1], (uint64_t)round * ID_SPACE);
    }
    close(fds[1]);
    size_t before = a.num;
    wait_first_ack(fds[0], pid, &a);
    struct timespec nap = {0, (rand() % 50) * 1000000L};
    nanosleep(&nap, NULL);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* not a failure exit */
    drain_pipe(fds[0], &a);
    close(fds[0]);
    assert_true(a.num > before); /* every round has acknowledgements to check */

    tv_store *s;
    tv_store_diag d;
    tv_status st = tv_store_open(NULL, &o, &s, &d);
    if (st != TV_OK) {
      print_message("open failed: %s: %s\n", tv_status_name(st), d.message);
    }
    assert_int_equal(st, TV_OK);
    tv_store_stats stats;
    tv_store_get_stats(s, &stats);
    cuts += stats.torn_bytes_cut > 0;
    acked this_round = {a.ids + before, a.num - before, 0};
    assert_int_equal(check_acked(s, &this_round), this_round.num); /* this round's, then all of them */
    assert_int_equal(check_acked(s, &a), a.num);
    scan_check c = {0};
    assert_int_equal(tv_store_scan(s, check_record, &c), TV_OK);
    assert_int_equal(c.bad, 0);
    assert_true(c.live >= a.num); /* written-but-unreported records may exist, whole */
    assert_int_equal(c.live, stats.index.tokens);
    tv_store_close(s);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  print_message("%d kills, %zu acknowledged records checked, %zu torn tails cut, %.1f s\n", KILLS, a.num, cuts,
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  assert_true(a.num > 0);
  free(a.ids);
  test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sigkill_at_random_moments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
