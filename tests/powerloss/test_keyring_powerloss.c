/* The keyring against power loss. Its file lives on a lossyfs mount (the
 * HSM token does not: an HSM keeps what it was told). A child runs a
 * keyring change and is SIGKILLed at step N of it (every step, one N per
 * child: temp file written, synced, renamed, directory synced, HSM
 * calls); then the power is cut, dropping whatever was not fsynced, and
 * the keyring is reopened. Every key must unwrap to the bytes it had, a
 * change the child finished (was answered TV_OK) must be there, and one
 * cut short must have completed or left no trace. Also: a keyring just
 * created survives a power cut. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lossyfs_client.h"
#include "tests/unit/keyring/keyring_test_util.h"

/* More steps than any change has; reaching it means a step loop. */
#define KILL_STEPS_MAX 64
#define RESERVE_BLOCK 8

typedef enum action { ACT_ROTATE_DATA, ACT_APPROVE, ACT_RESERVE, ACT_ADD_NAMESPACE } action;

static lf_mount g_mount;
static int g_test_no;
static int kill_at_step;
static int steps_seen;

static void kill_hook(void *ctx, const char *step) {
  (void)ctx;
  (void)step;
  if (++steps_seen == kill_at_step) {
    raise(SIGKILL);
  }
}

static void power_loss(void) { assert_int_equal(lf_mount_power_loss(&g_mount), 0); }

/* dir_sync makes a name in |dir| durable (test set-up, not under test). */
static void dir_sync(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  assert_int_equal(fsync(fd), 0);
  close(fd);
}

/* setup: the usual fixture, its keyring moved to a new directory on the
 * mount, created there, then a power cut: an acknowledged create stays. */
static int setup(void **state) {
  kr_fixture *fx = kr_fixture_new(0);
  snprintf(fx->data_dir, sizeof fx->data_dir, "%.*s/test-%d", PATH_MAX - 32, g_mount.path, ++g_test_no);
  assert_int_equal(mkdir(fx->data_dir, 0700), 0);
  dir_sync(g_mount.path);
  snprintf(fx->path, sizeof fx->path, "%.*s/keyring", PATH_MAX - 16, fx->data_dir);
  kr_check(tv_keyring_create(&fx->kr, fx->hsm->hsm, &fx->options), "keyring create");
  kr_check(tv_keyring_add_namespace(fx->kr, "pan"), "add");
  kr_check(tv_keyring_add_namespace(fx->kr, "iban"), "add");
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  power_loss();
  kr_check(tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options), "open after a power cut following create");
  *state = fx;
  return 0;
}

static tv_status child_action(tv_keyring *kr, action act, uint64_t id) {
  tv_keyring_keys keys;
  switch (act) {
    case ACT_ROTATE_DATA:
      return tv_keyring_rotate_data_key(kr, NULL, "pan");
    case ACT_APPROVE:
      return tv_keyring_approve(kr, id, "officer-b", 101);
    case ACT_RESERVE:
      return tv_keyring_reserve(kr, &keys, NULL, "iban", RESERVE_BLOCK + 1);
    case ACT_ADD_NAMESPACE:
      return tv_keyring_add_namespace(kr, "added");
  }
  return TV_E_INTERNAL;
}

static void child_main(kr_fixture *fx, action act, uint64_t id) {
  tv_hsm *hsm = NULL;
  tv_keyring *kr = NULL;
  tv_keyring_options options = fx->options;
  options.step_hook = kill_hook;
  if (tv_hsm_open(&hsm, &fx->hsm->config) != TV_OK || tv_keyring_open(&kr, hsm, &options) != TV_OK) {
    _exit(3);
  }
  _exit(child_action(kr, act, id) == TV_OK ? 0 : 5);
}

/* run_child runs |act| in a child killed at step |step|, cuts the power,
 * and reopens (the recovery under test). Returns 1 if it was killed, 0 if
 * it finished: its change was acknowledged. The parent's keyring and HSM
 * session are closed around the fork (PKCS#11 state is not shared). */
static int run_child(kr_fixture *fx, action act, uint64_t id, int step) {
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  tv_hsm_free(fx->hsm->hsm);
  fx->hsm->hsm = NULL;
  fflush(NULL);
  kill_at_step = step;
  steps_seen = 0;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    child_main(fx, act, id);
  }
  int wstatus = 0;
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  int killed = WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL;
  if (!killed) {
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
  }
  power_loss();
  kr_check(tv_hsm_open(&fx->hsm->hsm, &fx->hsm->config), "hsm reopen");
  kr_check(tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options), "keyring open after kill and power cut");
  return killed;
}

static const char *const names[] = {"pan", "iban"};

static void versions_of(kr_fixture *fx, const char *name, size_t *out_count, uint64_t *out_encryptions) {
  tv_keyring_version_info infos[KR_SNAP_VERSIONS_MAX];
  size_t count = 0;
  kr_check(tv_keyring_list_versions(fx->kr, infos, &count, KR_SNAP_VERSIONS_MAX, name), "list");
  *out_count = count;
  *out_encryptions = infos[count - 1].encryptions;
}

static void test_data_key_rotation(void **state) {
  kr_fixture *fx = *state;
  int step = 1;
  for (; step < KILL_STEPS_MAX; step++) {
    kr_snapshot before;
    kr_snapshot_take(&before, fx->kr, names, 2);
    size_t versions, now;
    uint64_t unused;
    versions_of(fx, "pan", &versions, &unused);
    int killed = run_child(fx, ACT_ROTATE_DATA, 0, step);
    kr_snapshot_expect_keys(&before, fx->kr);
    versions_of(fx, "pan", &now, &unused);
    assert_true(now == versions || now == versions + 1);
    assert_true(killed || now == versions + 1); /* acknowledged: durable */
    if (!killed) {
      break;
    }
  }
  assert_true(step > 4);
  assert_true(step < KILL_STEPS_MAX);
}

/* A reservation answered must never be handed out again after a power
 * cut: that would reuse a nonce budget. */
static void test_reservation(void **state) {
  kr_fixture *fx = *state;
  int step = 1;
  for (; step < KILL_STEPS_MAX; step++) {
    kr_snapshot before;
    kr_snapshot_take(&before, fx->kr, names, 2);
    size_t count;
    uint64_t counted, now;
    versions_of(fx, "iban", &count, &counted);
    int killed = run_child(fx, ACT_RESERVE, 0, step);
    kr_snapshot_expect_keys(&before, fx->kr);
    versions_of(fx, "iban", &count, &now);
    assert_true(now >= counted);
    assert_true(killed || now >= counted + RESERVE_BLOCK + 1);
    if (!killed) {
      break;
    }
  }
  assert_true(step > 2);
  assert_true(step < KILL_STEPS_MAX);
}

static void test_add_namespace(void **state) {
  kr_fixture *fx = *state;
  tv_keyring_keys keys;
  int step = 1;
  for (; step < KILL_STEPS_MAX; step++) {
    kr_snapshot before;
    kr_snapshot_take(&before, fx->kr, names, 2);
    int killed = run_child(fx, ACT_ADD_NAMESPACE, 0, step);
    kr_snapshot_expect_keys(&before, fx->kr);
    tv_status status = tv_keyring_active(fx->kr, &keys, "added");
    assert_true(status == TV_OK || (killed && status == TV_E_KEYRING_NAMESPACE));
    if (status == TV_OK) {
      break;
    }
  }
  assert_true(step < KILL_STEPS_MAX);
}

/* KEK rotation (an approved proposal): the HSM's state and the file's
 * must agree after the cut, whichever way the rotation went. */
static void test_kek_rotation(void **state) {
  kr_fixture *fx = *state;
  int step = 1;
  for (; step < KILL_STEPS_MAX; step++) {
    kr_snapshot before;
    kr_snapshot_take(&before, fx->kr, names, 2);
    char old_label[TV_HSM_LABEL_MAX + 1], label[TV_HSM_LABEL_MAX + 1];
    kr_check(tv_keyring_kek_label(fx->kr, old_label), "label");
    tv_keyring_proposal p = {.action = TV_KEYRING_ROTATE_KEK};
    snprintf(p.label, sizeof p.label, "kek-pl-%d", step);
    uint64_t id = 0;
    kr_check(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 100), "propose");
    int killed = run_child(fx, ACT_APPROVE, id, step);
    kr_snapshot_expect_keys(&before, fx->kr);
    kr_check(tv_keyring_kek_label(fx->kr, label), "label");
    assert_true(strcmp(label, p.label) == 0 || (killed && strcmp(label, old_label) == 0));
    kr_reconnect(fx); /* a fresh process unwraps everything under it too */
    kr_snapshot_expect_keys(&before, fx->kr);
    if (!killed) {
      break;
    }
    if (strcmp(label, old_label) != 0) { /* retired KEKs are bounded */
      tv_keyring_proposal d = {.action = TV_KEYRING_DESTROY_OLD_KEK};
      snprintf(d.label, sizeof d.label, "%s", old_label);
      kr_check(tv_keyring_propose(fx->kr, &id, &d, "officer-a", 100), "propose destroy");
      kr_check(tv_keyring_approve(fx->kr, id, "officer-c", 101), "approve destroy");
    }
  }
  assert_true(step > 10);
  assert_true(step < KILL_STEPS_MAX);
}

/* The negative control, built against the keyring without its directory
 * fsync (TV_EXPECT_LOSS): acknowledged changes must be found lost, or
 * this harness could not tell a keyring that loses them. */
static void test_acknowledged_changes_lost(void **state) {
  (void)state;
  kr_fixture *fx = kr_fixture_new(0);
  snprintf(fx->data_dir, sizeof fx->data_dir, "%.*s/lossy-%d", PATH_MAX - 32, g_mount.path, ++g_test_no);
  assert_int_equal(mkdir(fx->data_dir, 0700), 0);
  dir_sync(g_mount.path);
  snprintf(fx->path, sizeof fx->path, "%.*s/keyring", PATH_MAX - 16, fx->data_dir);
  kr_check(tv_keyring_create(&fx->kr, fx->hsm->hsm, &fx->options), "keyring create");
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  power_loss();
  assert_int_not_equal(tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options), TV_OK); /* create lost */

  kr_check(tv_keyring_create(&fx->kr, fx->hsm->hsm, &fx->options), "keyring create again");
  kr_check(tv_keyring_add_namespace(fx->kr, "pan"), "add");
  assert_int_equal(lf_mount_sync_all(&g_mount), 0);
  size_t before, after;
  uint64_t unused;
  versions_of(fx, "pan", &before, &unused);
  kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, "pan"), "rotate (acknowledged)");
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  power_loss();
  /* The rotation is gone: either the file is back to before it (the HSM's
   * generation counter, which did move, then refuses it as a rollback) or
   * the open finds the old versions. */
  tv_status status = tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options);
  if (status == TV_OK) {
    versions_of(fx, "pan", &after, &unused);
    assert_int_equal(after, before);
  } else {
    assert_int_equal(status, TV_E_KEYRING_ROLLBACK);
  }
  kr_fixture_free(fx);
}

int main(void) {
  if (lf_mount_start(&g_mount) != 0) {
    return 1; /* a failure, not a skip: tests/run.sh installs FUSE */
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_data_key_rotation, setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_reservation, setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_add_namespace, setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_kek_rotation, setup, kr_teardown),
  };
  const struct CMUnitTest loss_tests[] = {
      cmocka_unit_test(test_acknowledged_changes_lost),
  };
#ifdef TV_EXPECT_LOSS
  const int expect_loss = 1;
#else
  const int expect_loss = 0;
#endif
  int rc = expect_loss ? cmocka_run_group_tests_name("negative control", loss_tests, NULL, NULL)
                       : cmocka_run_group_tests_name("keyring power loss", tests, NULL, NULL);
  lf_mount_stop(&g_mount);
  return rc;
}
