/* Crash safety: a child tokenizes continuously and reports every
 * ACKNOWLEDGED (token, value) pair through a pipe; the parent SIGKILLs it
 * at random moments, reopens the engine and checks that every acknowledged
 * token detokenizes to its value and that every live record decrypts
 * (nothing unacknowledged is half-present). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"

#define KILLS 50
#define CHILD_BATCH 16

/* One pipe message (well under PIPE_BUF, so each write is atomic). */
typedef struct ack_msg {
  char ns;                                  /* 'a' acct (convergent), 'p' pan_nc */
  char token[24];
  char value[24];
} ack_msg;

static void child_run(eng_fixture *fx, int fd, unsigned round) {
  if (eng_try_open(fx) != TV_OK) {
    _exit(3);
  }
  char values[CHILD_BATCH][24];
  tv_tokenize_item items[CHILD_BATCH];
  for (uint64_t n = 0;; n++) {
    const char *ns = (n & 1u) ? "pan_nc" : "acct";
    for (size_t k = 0; k < CHILD_BATCH; k++) {
      uint64_t id = (uint64_t)round * 1000000u + n * CHILD_BATCH + k;
      if (n & 1u) {
        eng_pan(values[k], id);
      } else {
        snprintf(values[k], sizeof values[k], "%012llu", (unsigned long long)(id * 7u + 3u));
      }
      items[k] = (tv_tokenize_item){.value = values[k], .value_len = strlen(values[k])};
    }
    if (tv_engine_tokenize(fx->engine, ns, items, CHILD_BATCH) != TV_OK) {
      _exit(4);
    }
    for (size_t k = 0; k < CHILD_BATCH; k++) {
      if (items[k].status != TV_OK) {
        _exit(5);
      }
      ack_msg m;
      memset(&m, 0, sizeof m);
      m.ns = (n & 1u) ? 'p' : 'a';
      memcpy(m.token, items[k].token, items[k].token_len);
      memcpy(m.value, values[k], strlen(values[k]));
      if (write(fd, &m, sizeof m) != (ssize_t)sizeof m) {
        _exit(6);
      }
    }
  }
}

typedef struct acked {
  ack_msg *msgs;
  size_t num, cap;
} acked;

/* acked_add keeps every acknowledgement: one dropped would go unchecked. */
static void acked_add(acked *a, const ack_msg *m) {
  if (a->num == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 65536;
    a->msgs = realloc(a->msgs, a->cap * sizeof *a->msgs);
    assert_non_null(a->msgs);
  }
  a->msgs[a->num++] = *m;
}

static void drain(int fd, acked *a, int until_eof, double wait_s) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (!until_eof && el >= wait_s) {
      return;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = poll(&pfd, 1, until_eof ? 1000 : 1);
    if (r <= 0) {
      continue;
    }
    ack_msg m;
    ssize_t got = read(fd, &m, sizeof m);
    if (got == 0) {
      return;
    }
    if (got < 0 && errno == EINTR) {
      continue;
    }
    assert_int_equal(got, (ssize_t)sizeof m);
    acked_add(a, &m);
  }
}

static void verify_acked(eng_fixture *fx, const acked *a) {
  static tv_detokenize_item items[TV_ENGINE_BATCH_ITEMS_MAX];
  size_t from = 0;
  while (from < a->num) {
    size_t n = 0;
    char ns = a->msgs[from].ns;
    while (from + n < a->num && n < TV_ENGINE_BATCH_ITEMS_MAX && a->msgs[from + n].ns == ns) {
      items[n] = (tv_detokenize_item){.token = a->msgs[from + n].token,
                                      .token_len = strlen(a->msgs[from + n].token)};
      n++;
    }
    eng_check(tv_engine_detokenize(fx->engine, ns == 'a' ? "acct" : "pan_nc", items, n, TV_REVEAL_FULL),
              "detok");
    for (size_t i = 0; i < n; i++) {
      if (items[i].status != TV_OK || strcmp(items[i].value, a->msgs[from + i].value) != 0) {
        fail_msg("acknowledged token %s lost: %s", a->msgs[from + i].token, tv_status_name(items[i].status));
      }
    }
    from += n;
  }
}

typedef struct live_check {
  eng_fixture *fx;
  size_t records;
  size_t bad;
} live_check;

static tv_status check_live(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)loc;
  live_check *c = ctx;
  char ns[16] = {0};
  char token[32] = {0};
  if (put->ns_len >= sizeof ns || put->token_len >= sizeof token) {
    c->bad++;
    return TV_OK;
  }
  memcpy(ns, put->ns, put->ns_len);
  memcpy(token, put->token, put->token_len);
  tv_detokenize_item d = {.token = token, .token_len = put->token_len};
  tv_status st = tv_engine_detokenize(c->fx->engine, ns, &d, 1, TV_REVEAL_FULL);
  c->records++;
  c->bad += st != TV_OK || d.status != TV_OK;
  return TV_OK;
}

static void test_kill_and_recover(void **state) {
  eng_fixture *fx = *state;
  acked a = {0};
  eng_close(fx);
  srand((unsigned)time(NULL));
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  size_t last = 0;
  for (unsigned round = 0; round < KILLS; round++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      child_run(fx, fds[1], round);
      _exit(7);
    }
    close(fds[1]);
    /* Kill only once the child is up (first acknowledgement), then at a
     * random moment 0..40 ms later. */
    size_t before = a.num;
    while (a.num == before) {
      drain(fds[0], &a, 0, 0.005);
      int status;
      assert_int_equal(waitpid(pid, &status, WNOHANG), 0); /* child must not exit by itself */
    }
    drain(fds[0], &a, 0, (double)(rand() % 40) / 1000.0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    drain(fds[0], &a, 1, 0);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    eng_open(fx);
    /* This round's acknowledgements, then every live record. */
    assert_true(a.num > last); /* the round acknowledged something, checked here */
    acked round_acks = {a.msgs + last, a.num - last, 0};
    verify_acked(fx, &round_acks);
    last = a.num;
    if (round % 10 == 9 || round == KILLS - 1) {
      live_check lc = {fx, 0, 0};
      eng_check(tv_store_scan(fx->store, check_live, &lc), "scan");
      assert_int_equal(lc.bad, 0);
      assert_true(lc.records >= a.num);
    }
    eng_close(fx);
  }
  eng_open(fx);
  verify_acked(fx, &a);
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  print_message("%d kills, %zu acknowledged tokens, %.1f s\n", KILLS, a.num, el);
  assert_true(a.num >= KILLS); /* no time bound: ctest's timeout is the hang guard */
  free(a.msgs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_kill_and_recover, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
