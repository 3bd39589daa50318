/* hsm/counter.c: the monotonic generation counter in the HSM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hsm/counter.h"
#include "tests/unit/hsm/hsm_test_util.h"

static void test_counter_moves_only_up(void **state) {
  hsm_fixture *fx = *state;
  uint64_t value = 99;
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 5, 0), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 5, 1), TV_OK);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_OK);
  assert_int_equal(value, 5);
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 5, 0), TV_OK);
  /* Data objects are immutable: this creates a new one, drops the old. */
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", UINT64_C(1) << 40, 0), TV_OK);
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 6, 0), TV_E_HSM_OPERATION);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_OK);
  assert_int_equal(value, UINT64_C(1) << 40);
  /* Counters are independent by label. */
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "other", 1, 1), TV_OK);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "other"), TV_OK);
  assert_int_equal(value, 1);
  assert_int_equal(tv_hsm_counter_destroy(fx->hsm, "gen"), TV_OK);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_counter_destroy(fx->hsm, "gen"), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, ""), TV_E_INVALID_ARGUMENT);
}

static void test_counter_survives_reconnect(void **state) {
  hsm_fixture *fx = *state;
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 42, 1), TV_OK);
  tv_hsm_free(fx->hsm);
  fx->hsm = NULL;
  assert_int_equal(tv_hsm_open(&fx->hsm, &fx->config), TV_OK);
  uint64_t value = 0;
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_OK);
  assert_int_equal(value, 42);
}

enum { RACE_STEPS = 60 };

/* One "node" of the race (a process of its own, exec'd: a forked copy
 * would share the parent's PKCS#11 module state, with its own tv_hsm on
 * the same token): advances the counter to 2*i + |parity| for i =
 * 1..RACE_STEPS while the other does the same with the other parity, and
 * checks after each advance that the counter is at least its target (it
 * never moves back). Returns 0, or 1 with a message. */
static tv_status flock_lock(void *ctx) { return flock(*(int *)ctx, LOCK_EX) == 0 ? TV_OK : TV_E_IO; }
static void flock_unlock(void *ctx) { (void)flock(*(int *)ctx, LOCK_UN); }

static int race_child(const tv_hsm_config *config, int parity, const char *lock_path) {
  /* The guard a fleet gets from PostgreSQL (pg_counter_lock.h); on one
   * machine a file lock does the same. SoftHSM2 can fail an open that
   * runs while another process changes the token: held there too. */
  int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  tv_hsm *hsm = NULL;
  (void)flock_lock(&fd);
  tv_status ost = tv_hsm_open(&hsm, config);
  flock_unlock(&fd);
  if (ost != TV_OK) {
    fprintf(stderr, "child %d: tv_hsm_open: %s\n", parity, tv_status_name(ost));
    close(fd);
    return 1;
  }
  tv_hsm_counter_guard guard = {.lock = flock_lock, .unlock = flock_unlock, .ctx = &fd, .label = "gen"};
  tv_hsm_counter_guard_set(hsm, &guard);
  for (uint64_t i = 1; i <= RACE_STEPS; i++) {
    uint64_t target = 2 * i + (uint64_t)parity, now = 0;
    tv_status st = tv_hsm_counter_advance(hsm, "gen", target, 0);
    tv_status rst = tv_hsm_counter_read(hsm, &now, "gen");
    /* Refused only because the other process is ahead: fine. */
    int ok = st == TV_OK || (st == TV_E_HSM_OPERATION && now > target);
    if (!ok || rst != TV_OK || now < target) {
      fprintf(stderr, "child %d: advance to %llu: %s (%s), read %s: %llu\n", parity, (unsigned long long)target,
              tv_status_name(st), tv_hsm_error_detail(), tv_status_name(rst), (unsigned long long)now);
      tv_hsm_free(hsm);
      close(fd);
      return 1;
    }
  }
  tv_hsm_free(hsm);
  close(fd);
  return 0;
}

/* Two processes (two fleet nodes on one token) advance the counter at the
 * same time under a guard (tv_hsm_counter_guard): every advance leaves it
 * at least at its target, and it ends at the highest target, never
 * below. Without the guard SoftHSM2 fails this every time (a counter read
 * as missing after an advance, sessions that cannot be re-initialised). */
static void test_counter_advance_across_processes(void **state) {
  hsm_fixture *fx = *state;
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 1, 1), TV_OK);
  tv_hsm_free(fx->hsm); /* each process opens its own, as a node does */
  fx->hsm = NULL;
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    assert_true(kids[k] >= 0);
    if (kids[k] == 0) {
      char parity[2] = {(char)('0' + k), '\0'};
      char lock_path[PATH_MAX + 16];
      snprintf(lock_path, sizeof lock_path, "%s/counter.lock", fx->root);
      execl("/proc/self/exe", "test_hsm_counter", "--race-child", parity, fx->config.module_path,
            fx->config.token_label, fx->config.pin_source, lock_path, (char *)NULL);
      _exit(127);
    }
  }
  for (int k = 0; k < 2; k++) {
    int wst = 0;
    assert_int_equal(waitpid(kids[k], &wst, 0), kids[k]);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
  }
  assert_int_equal(tv_hsm_open(&fx->hsm, &fx->config), TV_OK);
  uint64_t value = 0;
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_OK);
  assert_int_equal(value, 2 * RACE_STEPS + 1);
}

int main(int argc, char **argv) {
  if (argc == 7 && strcmp(argv[1], "--race-child") == 0) {
    tv_hsm_config config = {.module_path = argv[3], .token_label = argv[4], .pin_kind = TV_HSM_PIN_FILE,
                            .pin_source = argv[5]};
    return race_child(&config, argv[2][0] == '1', argv[6]);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_counter_moves_only_up, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_counter_survives_reconnect, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_counter_advance_across_processes, hsm_setup, hsm_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
