/* The session pool under concurrency (hsm/client.c): many threads wrap,
 * unwrap and MAC at once through a pool smaller than the thread count,
 * also while the HSM drops every session under them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/hsm/hsm_test_util.h"

#define THREADS 8
#define ROUNDS 60
#define DROPS 5

static _Atomic int keep_going; /* workers go past ROUNDS while it is set */

typedef struct worker {
  tv_hsm *hsm;
  unsigned id;
  unsigned rounds;
  unsigned ok;
  unsigned unavailable; /* allowed only when |tolerate_loss| */
  unsigned wrong;       /* must stay 0: a wrong key or MAC is never returned */
  int tolerate_loss;
} worker;

static void one_round(worker *w, unsigned round) {
  unsigned char key[32], blob[TV_HSM_WRAPPED_MAX], out[TV_HSM_DATA_KEY_MAX];
  unsigned char mac[TV_HSM_MAC_LEN];
  size_t blob_len = 0, out_len = 0;
  hsm_fill(key, sizeof key, w->id * 1000 + round);
  tv_status st = tv_hsm_wrap(w->hsm, blob, &blob_len, sizeof blob, TV_HSM_DEV_KEK_LABEL, key, 32);
  if (st == TV_OK) {
    st = tv_hsm_unwrap(w->hsm, out, &out_len, sizeof out, TV_HSM_DEV_KEK_LABEL, blob, blob_len);
    if (st == TV_OK && (out_len != 32 || memcmp(out, key, 32) != 0)) {
      w->wrong++;
    }
  }
  if (st == TV_OK) {
    st = tv_hsm_mac_sign(w->hsm, mac, TV_HSM_DEV_MAC_LABEL, key, sizeof key);
  }
  if (st == TV_OK) {
    st = tv_hsm_mac_verify(w->hsm, TV_HSM_DEV_MAC_LABEL, key, sizeof key, mac, sizeof mac);
  }
  if (st == TV_OK) {
    w->ok++;
  } else if (st == TV_E_HSM_UNAVAILABLE && w->tolerate_loss) {
    w->unavailable++;
  } else {
    fprintf(stderr, "worker %u: %s (%s)\n", w->id, tv_status_name(st), tv_hsm_error_detail());
    w->wrong++;
  }
}

static void *work(void *arg) {
  worker *w = arg;
  for (unsigned round = 0; round < ROUNDS || keep_going; round++) {
    one_round(w, round);
    w->rounds++;
  }
  return NULL;
}

static void run_workers(tv_hsm *hsm, worker *workers, int tolerate_loss, void (*during)(void *),
                        void *during_arg) {
  pthread_t threads[THREADS];
  for (unsigned i = 0; i < THREADS; i++) {
    workers[i] = (worker){.hsm = hsm, .id = i, .tolerate_loss = tolerate_loss};
    assert_int_equal(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
  }
  if (during != NULL) {
    during(during_arg);
  }
  for (unsigned i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_join(threads[i], NULL), 0);
  }
}

static void test_concurrent_wrap_unwrap_mac(void **state) {
  hsm_fixture *fx = *state;
  tv_hsm_config config = fx->config;
  config.sessions_max = 3; /* fewer sessions than threads: callers wait */
  tv_hsm_free(fx->hsm);
  fx->hsm = NULL;
  assert_int_equal(tv_hsm_open(&fx->hsm, &config), TV_OK);
  worker workers[THREADS];
  run_workers(fx->hsm, workers, 0, NULL, NULL);
  for (unsigned i = 0; i < THREADS; i++) {
    assert_int_equal(workers[i].wrong, 0);
    assert_int_equal(workers[i].ok, workers[i].rounds);
    assert_int_equal(workers[i].rounds, ROUNDS);
  }
}

/* Drops every session DROPS times while the workers run, each time waiting
 * until the fault module has acted (it deletes the control file). */
static unsigned drops_done;

static void drop_sessions(void *arg) {
  const char *control = arg;
  drops_done = 0;
  for (int i = 0; i < DROPS; i++) {
    usleep(5 * 1000);
    FILE *f = fopen(control, "w");
    assert_non_null(f);
    fputs("session\n", f);
    fclose(f);
    for (int waited = 0; waited < 5000 && access(control, F_OK) == 0; waited++) {
      usleep(1000);
    }
    drops_done += access(control, F_OK) != 0;
  }
  keep_going = 0;
}

static void test_concurrent_callers_survive_lost_sessions(void **state) {
  hsm_fixture *fx = *state;
  char control[PATH_MAX + 16];
  snprintf(control, sizeof control, "%s/fault", fx->root);
  setenv("TV_P11_FAULT_CONTROL", control, 1);
  setenv("TV_P11_FAULT_TARGET", fx->module, 1);
  tv_hsm_config config = fx->config;
  config.module_path = TV_P11_FAULT_PATH;
  config.sessions_max = 4;
  tv_hsm_free(fx->hsm);
  fx->hsm = NULL;
  assert_int_equal(tv_hsm_open(&fx->hsm, &config), TV_OK);
  worker workers[THREADS];
  keep_going = 1;
  run_workers(fx->hsm, workers, 1, drop_sessions, control);
  assert_int_equal(drops_done, DROPS);
  unsigned ok = 0, unavailable = 0, rounds = 0;
  for (unsigned i = 0; i < THREADS; i++) {
    assert_int_equal(workers[i].wrong, 0);
    ok += workers[i].ok;
    unavailable += workers[i].unavailable;
    rounds += workers[i].rounds;
  }
  print_message("ok %u, unavailable %u of %u rounds, %u session drops\n", ok, unavailable,
                rounds, drops_done);
  assert_int_equal(ok + unavailable, rounds);
  assert_true(ok > rounds / 2);
  /* Afterwards everything works again without intervention. */
  worker after;
  after = (worker){.hsm = fx->hsm, .id = 99};
  one_round(&after, 0);
  assert_int_equal(after.ok, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_concurrent_wrap_unwrap_mac, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_callers_survive_lost_sessions, hsm_setup,
                                      hsm_teardown),
  };
  return cmocka_run_group_tests_name("hsm_pool", tests, NULL, NULL);
}
