/* Crash safety: a child process runs a keyring change with a hook that
 * SIGKILLs it at step N (every step of the change, one N per child); the
 * parent then reopens and checks that every key still unwraps to the bytes
 * it had, and that the change either completed or left no trace. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/keyring/keyring_test_util.h"
#include "vault/keyring/kr_file.h"

/* More steps than any change has; reaching it means a step loop. */
#define KILL_STEPS_MAX 64

typedef enum crash_action {
  ACT_OPEN_ONLY,
  ACT_ROTATE_DATA,
  ACT_APPROVE,
  ACT_ADD_NAMESPACE,
  ACT_RESERVE,
} crash_action;

/* Reserve blocks in the crash tests: small, so a few reservations cross one. */
#define CRASH_RESERVE_BLOCK 8

static int kill_at_step;
static const char *kill_at_name;
static int steps_seen;

static void kill_hook(void *ctx, const char *step) {
  (void)ctx;
  steps_seen++;
  if (steps_seen == kill_at_step || (kill_at_name != NULL && strcmp(step, kill_at_name) == 0)) {
    raise(SIGKILL);
  }
}

static tv_status child_action(tv_keyring *kr, crash_action action, uint64_t id) {
  switch (action) {
    case ACT_OPEN_ONLY:
      return TV_OK;
    case ACT_ROTATE_DATA:
      return tv_keyring_rotate_data_key(kr, NULL, "pan");
    case ACT_APPROVE:
      return tv_keyring_approve(kr, id, "officer-b", 101);
    case ACT_ADD_NAMESPACE:
      return tv_keyring_add_namespace(kr, "added");
    case ACT_RESERVE: {
      tv_keyring_keys keys;
      return tv_keyring_reserve(kr, &keys, NULL, "iban", CRASH_RESERVE_BLOCK + 1);
    }
  }
  return TV_E_INTERNAL;
}

static void child_main(kr_fixture *fx, crash_action action, uint64_t id) {
  tv_hsm *hsm = NULL;
  if (tv_hsm_open(&hsm, &fx->hsm->config) != TV_OK) {
    _exit(3);
  }
  tv_keyring_options options = fx->options;
  options.step_hook = kill_hook;
  tv_keyring *kr = NULL;
  if (tv_keyring_open(&kr, hsm, &options) != TV_OK) {
    _exit(4);
  }
  tv_status status = child_action(kr, action, id);
  _exit(status == TV_OK ? 0 : 5);
}

/* Runs |action| in a child killed at step |step| (0: never) or at the step
 * named |name|. Returns 1 if it was killed, 0 if it finished. The parent's
 * keyring and HSM connection are closed around the fork (PKCS#11 state must
 * not be shared with a child) and reopened after it: the reopen is the
 * recovery under test. */
static int run_child_only(kr_fixture *fx, crash_action action, uint64_t id, int step,
                          const char *name) {
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  tv_hsm_free(fx->hsm->hsm);
  fx->hsm->hsm = NULL;
  fflush(NULL);
  kill_at_step = step;
  kill_at_name = name;
  steps_seen = 0;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    child_main(fx, action, id);
  }
  int wstatus = 0;
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  int killed = WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL;
  if (!killed) {
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), 0);
  }
  kr_check(tv_hsm_open(&fx->hsm->hsm, &fx->hsm->config), "hsm reopen");
  return killed;
}

static int run_child(kr_fixture *fx, crash_action action, uint64_t id, int step,
                     const char *name) {
  int killed = run_child_only(fx, action, id, step, name);
  kr_check(tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options), "keyring reopen after crash");
  return killed;
}

static const char *const names[] = {"pan", "iban"};

static void populate(kr_fixture *fx) {
  kr_check(tv_keyring_add_namespace(fx->kr, "pan"), "add");
  kr_check(tv_keyring_add_namespace(fx->kr, "iban"), "add");
  kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, "pan"), "rotate");
}

static size_t version_count(kr_fixture *fx, const char *name) {
  tv_keyring_version_info infos[KR_SNAP_VERSIONS_MAX];
  size_t count = 0;
  kr_check(tv_keyring_list_versions(fx->kr, infos, &count, KR_SNAP_VERSIONS_MAX, name), "list");
  return count;
}

/* The file itself: no rotation left half-done after an open. */
static void expect_no_pending(kr_fixture *fx) {
  size_t len = 0;
  uint8_t *buf = kr_read_file(fx->path, &len);
  kr_file file;
  kr_check(kr_file_parse(&file, buf, len - KR_MAC_LEN), "parse");
  assert_int_equal(file.pending, KR_PENDING_NONE);
  kr_file_free(&file);
  free(buf);
}

static void test_crash_data_key_rotation(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  int step = 1;
  for (; step < KILL_STEPS_MAX; step++) {
    kr_snapshot before;
    kr_snapshot_take(&before, fx->kr, names, 2);
    size_t versions = version_count(fx, "pan");
    int killed = run_child(fx, ACT_ROTATE_DATA, 0, step, NULL);
    kr_snapshot_expect_keys(&before, fx->kr);
    size_t now = version_count(fx, "pan");
    assert_true(now == versions || now == versions + 1);
    assert_true(killed || now == versions + 1);
    tv_keyring_keys active;
    kr_check(tv_keyring_active(fx->kr, &active, "pan"), "active");
    assert_int_equal(active.version, before.ns[0].versions[versions - 1] + (now - versions));
    if (!killed) {
      break;
    }
  }
  assert_true(step > 4); /* the rotation has several steps, each was hit */
  assert_true(step < KILL_STEPS_MAX);
}

static void expect_kek_outcome(kr_fixture *fx, const char *old_label, const char *new_label,
                               int completed_required) {
  char label[TV_HSM_LABEL_MAX + 1];
  kr_check(tv_keyring_kek_label(fx->kr, label), "label");
  int enabled = -1;
  if (strcmp(label, new_label) == 0) {
    kr_check(tv_hsm_kek_is_enabled(fx->hsm->hsm, &enabled, old_label), "old enabled?");
    assert_int_equal(enabled, 0);
    kr_check(tv_hsm_kek_is_enabled(fx->hsm->hsm, &enabled, new_label), "new enabled?");
    assert_int_equal(enabled, 1);
  } else {
    assert_false(completed_required);
    assert_string_equal(label, old_label); /* rolled back: nothing happened */
    assert_int_equal(tv_hsm_kek_ensure(fx->hsm->hsm, new_label, 0), TV_E_HSM_KEY_NOT_FOUND);
  }
  expect_no_pending(fx);
}

static uint64_t propose_kek(kr_fixture *fx, const char *label) {
  tv_keyring_proposal p = {.action = TV_KEYRING_ROTATE_KEK};
  snprintf(p.label, sizeof p.label, "%s", label);
  uint64_t id = 0;
  kr_check(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 100), "propose");
  return id;
}

/* Retired KEKs are bounded (TV_KEYRING_OLD_KEKS_MAX): destroy the one a
 * completed rotation left behind, as officers would. */
static void destroy_old_kek(kr_fixture *fx, const char *old_label) {
  char label[TV_HSM_LABEL_MAX + 1];
  kr_check(tv_keyring_kek_label(fx->kr, label), "label");
  if (strcmp(label, old_label) == 0) {
    return;
  }
  tv_keyring_proposal p = {.action = TV_KEYRING_DESTROY_OLD_KEK};
  snprintf(p.label, sizeof p.label, "%s", old_label);
  uint64_t id = 0;
  kr_check(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 100), "propose destroy");
  kr_check(tv_keyring_approve(fx->kr, id, "officer-c", 101), "approve destroy");
}

static void test_crash_kek_rotation(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  int step = 1;
  for (; step < KILL_STEPS_MAX; step++) {
    kr_snapshot before;
    kr_snapshot_take(&before, fx->kr, names, 2);
    char old_label[TV_HSM_LABEL_MAX + 1];
    char new_label[32];
    kr_check(tv_keyring_kek_label(fx->kr, old_label), "label");
    snprintf(new_label, sizeof new_label, "kek-step-%d", step);
    uint64_t id = propose_kek(fx, new_label);
    int killed = run_child(fx, ACT_APPROVE, id, step, NULL);
    kr_snapshot_expect_keys(&before, fx->kr);
    expect_kek_outcome(fx, old_label, new_label, !killed);
    if (!killed) {
      break;
    }
    destroy_old_kek(fx, old_label);
  }
  assert_true(step > 10);
  assert_true(step < KILL_STEPS_MAX);
}

/* A crash during the open that resumes an interrupted rotation. */
static void test_crash_during_resume(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  static const char *const interrupt_at[] = {"kek.pending_recorded", "kek.created",
                                             "kek.rewrapped", "kek.switched"};
  for (size_t k = 0; k < sizeof interrupt_at / sizeof interrupt_at[0]; k++) {
    int step = 1;
    for (; step < KILL_STEPS_MAX; step++) {
      kr_snapshot before;
      kr_snapshot_take(&before, fx->kr, names, 2);
      char old_label[TV_HSM_LABEL_MAX + 1];
      char new_label[32];
      kr_check(tv_keyring_kek_label(fx->kr, old_label), "label");
      snprintf(new_label, sizeof new_label, "kek-%zu-%d", k, step);
      uint64_t id = propose_kek(fx, new_label);
      /* The parent's own open would resume: stop the child twice instead,
       * so the second child's open is the resume, killed at |step|. */
      assert_true(run_child(fx, ACT_APPROVE, id, 0, interrupt_at[k]) == 1);
      int killed = run_child(fx, ACT_OPEN_ONLY, 0, step, NULL);
      kr_snapshot_expect_keys(&before, fx->kr);
      expect_kek_outcome(fx, old_label, new_label, 1);
      destroy_old_kek(fx, old_label);
      if (!killed) {
        break;
      }
    }
    assert_true(step < KILL_STEPS_MAX);
  }
}

/* Interrupted after creating the new KEK, which is then disabled behind
 * our back: the open cannot finish the rotation, so it rolls it back (the
 * old KEK still wraps everything) instead of refusing to start. */
static void test_resume_rolls_back_unusable_kek(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  kr_snapshot before;
  kr_snapshot_take(&before, fx->kr, names, 2);
  uint64_t id = propose_kek(fx, "kek-unusable");
  assert_true(run_child_only(fx, ACT_APPROVE, id, 0, "kek.created") == 1);
  kr_check(tv_hsm_kek_disable(fx->hsm->hsm, "kek-unusable"), "disable new KEK");
  kr_check(tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options), "open rolls back");
  char label[TV_HSM_LABEL_MAX + 1];
  kr_check(tv_keyring_kek_label(fx->kr, label), "label");
  assert_string_equal(label, fx->hsm->token.kek_label);
  expect_no_pending(fx);
  kr_snapshot_expect_keys(&before, fx->kr);
  kr_reconnect(fx);
  kr_snapshot_expect_keys(&before, fx->kr);
}

static void test_crash_add_namespace_and_destroy(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  tv_keyring_keys keys;
  for (int step = 1; step < KILL_STEPS_MAX; step++) {
    kr_snapshot before;
    kr_snapshot_take(&before, fx->kr, names, 2);
    int killed = run_child(fx, ACT_ADD_NAMESPACE, 0, step, NULL);
    kr_snapshot_expect_keys(&before, fx->kr);
    tv_status status = tv_keyring_active(fx->kr, &keys, "added");
    assert_true(status == TV_OK || (killed && status == TV_E_KEYRING_NAMESPACE));
    if (status == TV_OK) {
      break; /* added durably, possibly by a child killed after its commit */
    }
  }
  kr_check(tv_keyring_mark_reencrypted(fx->kr, "pan", 1), "retire");
  for (int step = 1; step < KILL_STEPS_MAX; step++) {
    kr_snapshot before;
    kr_snapshot_take(&before, fx->kr, names, 2);
    tv_keyring_proposal p = {.action = TV_KEYRING_DESTROY_VERSION, .name = "pan", .version = 1};
    uint64_t id = 0;
    kr_check(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 100), "propose");
    int killed = run_child(fx, ACT_APPROVE, id, step, NULL);
    kr_snapshot_expect_keys(&before, fx->kr);
    tv_status status = tv_keyring_version(fx->kr, &keys, "pan", 1);
    assert_true(status == TV_E_KEYRING_KEY_VERSION || (killed && status == TV_E_KEYRING_KEY_STATE));
    if (status == TV_E_KEYRING_KEY_VERSION) {
      break;
    }
  }
}

static uint64_t encryptions_of(kr_fixture *fx, const char *name) {
  tv_keyring_version_info infos[KR_SNAP_VERSIONS_MAX];
  size_t count = 0;
  kr_check(tv_keyring_list_versions(fx->kr, infos, &count, KR_SNAP_VERSIONS_MAX, name), "list");
  return infos[count - 1].encryptions;
}

/* A crash while a reservation is made durable: the count after restart
 * never goes back (so no nonce budget is reused), and keys are intact. */
static void test_crash_reservation(void **state) {
  kr_fixture *fx = *state;
  fx->options.reserve_block = CRASH_RESERVE_BLOCK;
  populate(fx);
  kr_reopen(fx);
  int step = 1;
  for (; step < KILL_STEPS_MAX; step++) {
    kr_snapshot before;
    kr_snapshot_take(&before, fx->kr, names, 2);
    uint64_t counted = encryptions_of(fx, "iban");
    int killed = run_child(fx, ACT_RESERVE, 0, step, NULL);
    kr_snapshot_expect_keys(&before, fx->kr);
    uint64_t now = encryptions_of(fx, "iban");
    assert_true(now >= counted);
    /* Finished: the child's reservation is durable and counted. */
    assert_true(killed || now >= counted + CRASH_RESERVE_BLOCK + 1);
    if (!killed) {
      break;
    }
  }
  assert_true(step > 4);
  assert_true(step < KILL_STEPS_MAX);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_crash_data_key_rotation, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_crash_kek_rotation, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_crash_during_resume, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_crash_add_namespace_and_destroy, kr_setup,
                                      kr_teardown),
      cmocka_unit_test_setup_teardown(test_crash_reservation, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_resume_rolls_back_unusable_kek, kr_setup,
                                      kr_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
