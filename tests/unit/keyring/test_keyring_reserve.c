/* Encryption counting: a value key refuses to go past its bound, warns
 * before it, and after a crash never hands out a count twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/keyring/keyring_test_util.h"

static int low_bound_setup(void **state) {
  kr_fixture *fx = kr_fixture_new(0);
  fx->options.encryptions_max = 100;
  fx->options.encryptions_warn = 80;
  fx->options.reserve_block = 16;
  kr_check(tv_keyring_create(&fx->kr, fx->hsm->hsm, &fx->options), "create");
  kr_check(tv_keyring_add_namespace(fx->kr, "pan"), "add");
  *state = fx;
  return 0;
}

static void test_bound_refused(void **state) {
  kr_fixture *fx = *state;
  tv_keyring_keys keys;
  int due = -1;
  for (int i = 1; i <= 100; i++) {
    kr_check(tv_keyring_reserve(fx->kr, &keys, &due, "pan", 1), "reserve");
    assert_int_equal(keys.version, 1);
    assert_int_equal(due, i >= 80);
  }
  assert_int_equal(tv_keyring_reserve(fx->kr, &keys, &due, "pan", 1), TV_E_KEYRING_KEY_EXHAUSTED);
  assert_int_equal(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 1), TV_E_KEYRING_KEY_EXHAUSTED);
  /* Decryption under the exhausted key still works; rotation gives a
   * fresh budget. */
  kr_check(tv_keyring_version(fx->kr, &keys, "pan", 1), "decrypt lookup");
  kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, "pan"), "rotate");
  kr_check(tv_keyring_reserve(fx->kr, &keys, &due, "pan", 1), "reserve after rotation");
  assert_int_equal(keys.version, 2);
  assert_int_equal(due, 0);
  assert_int_equal(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 0), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_keyring_reserve(fx->kr, &keys, NULL, "none", 1), TV_E_KEYRING_NAMESPACE);
}

static void test_big_request_refused_whole(void **state) {
  kr_fixture *fx = *state;
  tv_keyring_keys keys;
  kr_check(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 60), "reserve 60");
  assert_int_equal(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 41), TV_E_KEYRING_KEY_EXHAUSTED);
  /* The refused request took nothing: 40 are still there. */
  kr_check(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 40), "reserve 40");
  assert_int_equal(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 1), TV_E_KEYRING_KEY_EXHAUSTED);
}

static uint64_t encryptions_of(kr_fixture *fx, uint32_t version) {
  tv_keyring_version_info infos[8];
  size_t count = 0;
  kr_check(tv_keyring_list_versions(fx->kr, infos, &count, 8, "pan"), "list");
  for (size_t i = 0; i < count; i++) {
    if (infos[i].version == version) {
      return infos[i].encryptions;
    }
  }
  fail_msg("version %u not listed", version);
  return 0;
}

static void test_no_reuse_after_restart(void **state) {
  kr_fixture *fx = *state;
  tv_keyring_keys keys;
  kr_check(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 5), "reserve 5");
  assert_int_equal(encryptions_of(fx, 1), 5);
  uint64_t generation = tv_keyring_generation(fx->kr);
  /* Within the first block: no keyring write per value. */
  kr_check(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 5), "reserve 5 more");
  assert_int_equal(tv_keyring_generation(fx->kr), generation);
  /* A restart (as after a crash) resumes after the whole reserved block. */
  kr_reopen(fx);
  assert_int_equal(encryptions_of(fx, 1), 16);
  kr_check(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 1), "reserve");
  assert_int_equal(encryptions_of(fx, 1), 17);
  assert_true(tv_keyring_generation(fx->kr) > generation); /* a block was persisted */
  /* Across restarts the total never exceeds the bound. */
  uint64_t handed = 17;
  for (int restart = 0; restart < 10; restart++) {
    while (tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 3) == TV_OK) {
      handed += 3;
    }
    kr_reopen(fx);
  }
  assert_true(handed <= 100);
  assert_int_equal(tv_keyring_reserve(fx->kr, &keys, NULL, "pan", 1), TV_E_KEYRING_KEY_EXHAUSTED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bound_refused, low_bound_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_big_request_refused_whole, low_bound_setup,
                                      kr_teardown),
      cmocka_unit_test_setup_teardown(test_no_reuse_after_restart, low_bound_setup, kr_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
