/* A keyring file that is not exactly the one we last wrote is refused at
 * open, each case with its own status: a flipped byte anywhere, a
 * truncation, an appended byte, another vault's keyring, an older copy
 * (rollback), a missing HSM counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hsm/counter.h"
#include "tests/unit/keyring/keyring_test_util.h"

static void populate(kr_fixture *fx) {
  kr_check(tv_keyring_add_namespace(fx->kr, "pan"), "add");
  kr_check(tv_keyring_add_namespace(fx->kr, "iban"), "add");
  kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, "pan"), "rotate");
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
}

static tv_status open_status(kr_fixture *fx) {
  tv_keyring *kr = NULL;
  tv_status status = tv_keyring_open(&kr, fx->hsm->hsm, &fx->options);
  assert_true((status == TV_OK) == (kr != NULL));
  tv_keyring_free(kr);
  return status;
}

static void test_flip_any_byte(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  size_t len = 0;
  uint8_t *good = kr_read_file(fx->path, &len);
  assert_true(len > 200);
  for (size_t i = 0; i < len; i++) {
    good[i] ^= 0x01;
    kr_write_file(fx->path, good, len);
    good[i] ^= 0x01;
    /* Only the magic is looked at before the MAC. */
    assert_int_equal(open_status(fx), i < 4 ? TV_E_KEYRING_CORRUPT : TV_E_KEYRING_MAC);
  }
  kr_write_file(fx->path, good, len);
  assert_int_equal(open_status(fx), TV_OK);
  free(good);
}

static void test_truncate_and_append(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  size_t len = 0;
  uint8_t *good = kr_read_file(fx->path, &len);
  for (size_t cut = 0; cut < len; cut++) {
    kr_write_file(fx->path, good, cut);
    assert_int_equal(open_status(fx), cut < 40 ? TV_E_KEYRING_CORRUPT : TV_E_KEYRING_MAC);
  }
  uint8_t *longer = malloc(len + 1);
  assert_non_null(longer);
  memcpy(longer, good, len);
  longer[len] = 0;
  kr_write_file(fx->path, longer, len + 1);
  assert_int_equal(open_status(fx), TV_E_KEYRING_MAC);
  kr_write_file(fx->path, good, len);
  assert_int_equal(open_status(fx), TV_OK);
  free(longer);
  free(good);
}

static void test_older_copy_is_rollback(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  size_t old_len = 0;
  uint8_t *old = kr_read_file(fx->path, &old_len);
  kr_check(tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options), "open");
  kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, "iban"), "rotate");
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  size_t new_len = 0;
  uint8_t *current = kr_read_file(fx->path, &new_len);
  /* The old copy is genuine (valid MAC) but older than the HSM counter. */
  kr_write_file(fx->path, old, old_len);
  assert_int_equal(open_status(fx), TV_E_KEYRING_ROLLBACK);
  kr_write_file(fx->path, current, new_len);
  assert_int_equal(open_status(fx), TV_OK);
  free(old);
  free(current);
}

static void test_other_vaults_keyring(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  /* Another vault: its own MAC key and counter (same token, for the test). */
  kr_check(tv_hsm_mac_key_ensure(fx->hsm->hsm, "other-vault-mac", 1), "mac key");
  char other_path[PATH_MAX + 16];
  snprintf(other_path, sizeof other_path, "%s/other", fx->data_dir);
  tv_keyring_options other = fx->options;
  other.path = other_path;
  other.mac_label = "other-vault-mac";
  other.counter_label = "other-vault-generation";
  tv_keyring *kr = NULL;
  kr_check(tv_keyring_create(&kr, fx->hsm->hsm, &other), "create other");
  kr_check(tv_keyring_add_namespace(kr, "pan"), "add");
  tv_keyring_free(kr);
  size_t len = 0;
  uint8_t *foreign = kr_read_file(other_path, &len);
  kr_write_file(fx->path, foreign, len);
  assert_int_equal(open_status(fx), TV_E_KEYRING_MAC);
  free(foreign);
}

static void test_counter_missing_and_leftover_temp(void **state) {
  kr_fixture *fx = *state;
  populate(fx);
  /* A temp file from a write that never got renamed is ignored. */
  char tmp[PATH_MAX + 16];
  snprintf(tmp, sizeof tmp, "%s.tmp", fx->path);
  kr_write_file(tmp, (const uint8_t *)"garbage", 7);
  assert_int_equal(open_status(fx), TV_OK);
  kr_check(tv_hsm_counter_destroy(fx->hsm->hsm, TV_KEYRING_COUNTER_LABEL_DEFAULT), "destroy");
  assert_int_equal(open_status(fx), TV_E_KEYRING_COUNTER_MISSING);
  /* Not a keyring at all. */
  kr_write_file(fx->path, (const uint8_t *)"hello", 5);
  assert_int_equal(open_status(fx), TV_E_KEYRING_CORRUPT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_flip_any_byte, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_truncate_and_append, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_older_copy_is_rollback, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_other_vaults_keyring, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_counter_missing_and_leftover_temp, kr_setup,
                                      kr_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
