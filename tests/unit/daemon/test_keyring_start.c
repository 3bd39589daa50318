/* keyring_start (vault/daemon/keyring_start.h): a keyring is created only
 * for a new vault (--dev or --init, empty store, no keyring generation on
 * the HSM); a missing keyring with data or on a used HSM refuses the
 * start with restore advice; --init on a store with records is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/daemon/keyring_start.h"

static char why[1024];

static tv_keyring_start_action decide(int exists, int dev, int init, uint64_t records, int hsm_gen) {
  tv_keyring_start_facts f = {.data_dir = "/var/lib/tv", .keyring_exists = exists, .dev = dev, .init = init,
                              .store_records = records, .hsm_has_generation = hsm_gen, .hsm_generation = 7};
  return tv_keyring_start_decide(&f, why, sizeof why);
}

static void test_new_vault_is_created(void **state) {
  (void)state;
  assert_int_equal(decide(0, 1, 0, 0, 0), TV_KEYRING_START_CREATE);
  assert_int_equal(decide(0, 0, 1, 0, 0), TV_KEYRING_START_CREATE);
  assert_int_equal(decide(0, 1, 1, 0, 0), TV_KEYRING_START_CREATE);
}

static void test_existing_keyring_is_opened(void **state) {
  (void)state;
  assert_int_equal(decide(1, 0, 0, 0, 1), TV_KEYRING_START_OPEN);
  assert_int_equal(decide(1, 1, 0, 500, 1), TV_KEYRING_START_OPEN);
  assert_int_equal(decide(1, 0, 1, 0, 1), TV_KEYRING_START_OPEN); /* --init again before any data */
}

static void test_missing_keyring_with_data_is_refused(void **state) {
  (void)state;
  for (int dev = 0; dev <= 1; dev++) {
    for (int init = 0; init <= 1; init++) {
      assert_int_equal(decide(0, dev, init, 120, 1), TV_KEYRING_START_REFUSE);
      assert_non_null(strstr(why, "/var/lib/tv/keyring is missing but the store holds 120 record(s)"));
      assert_non_null(strstr(why, "backups/<time>/keyring"));
      assert_non_null(strstr(why, "tokenvault store backup"));
      assert_null(strstr(why, "--init to create"));
      assert_int_equal(decide(0, dev, init, 1, 0), TV_KEYRING_START_REFUSE); /* even without a counter */
    }
  }
}

static void test_missing_keyring_on_used_hsm_is_refused(void **state) {
  (void)state;
  assert_int_equal(decide(0, 1, 0, 0, 1), TV_KEYRING_START_REFUSE);
  assert_non_null(strstr(why, "HSM holds keyring generation 7"));
  assert_non_null(strstr(why, "a new --data-dir"));
  assert_int_equal(decide(0, 0, 1, 0, 1), TV_KEYRING_START_REFUSE);
  assert_non_null(strstr(why, "backups/<time>/keyring"));
  assert_null(strstr(why, "--data-dir"));
}

static void test_init_on_data_is_refused(void **state) {
  (void)state;
  assert_int_equal(decide(1, 0, 1, 3, 1), TV_KEYRING_START_REFUSE);
  assert_non_null(strstr(why, "start without --init"));
}

static void test_no_init_on_a_new_vault_says_init(void **state) {
  (void)state;
  assert_int_equal(decide(0, 0, 0, 0, 0), TV_KEYRING_START_REFUSE);
  assert_non_null(strstr(why, "--init"));
}

static tv_keyring_start_action decide_shared(int exists, int dev, int init, uint64_t tokens, int hsm_gen) {
  tv_keyring_start_facts f = {.data_dir = "/var/lib/tv", .keyring_exists = exists, .dev = dev, .init = init,
                              .store_records = tokens, .hsm_has_generation = hsm_gen, .hsm_generation = 7,
                              .shared = 1};
  return tv_keyring_start_decide(&f, why, sizeof why);
}

/* A fleet node (store.backend postgres): the keyring is the tv_keyring
 * row. The first node's --init creates it; --init again (a migration,
 * a second node started the same way) joins; without --init a missing
 * row refuses, saying --init; tokens or a used HSM without the row
 * refuse with the database restore advice. */
static void test_shared_keyring(void **state) {
  (void)state;
  assert_int_equal(decide_shared(0, 0, 1, 0, 0), TV_KEYRING_START_CREATE);
  assert_int_equal(decide_shared(0, 1, 0, 0, 0), TV_KEYRING_START_CREATE);
  assert_int_equal(decide_shared(1, 0, 1, 1, 1), TV_KEYRING_START_OPEN); /* --init joins a vault with data */
  assert_int_equal(decide_shared(1, 0, 0, 1, 1), TV_KEYRING_START_OPEN);
  assert_int_equal(decide_shared(0, 0, 0, 0, 0), TV_KEYRING_START_REFUSE);
  assert_non_null(strstr(why, "table tv_keyring is empty"));
  assert_non_null(strstr(why, "with --init"));
  assert_int_equal(decide_shared(0, 0, 1, 1, 0), TV_KEYRING_START_REFUSE);
  assert_non_null(strstr(why, "holds tokens but no keyring"));
  assert_non_null(strstr(why, "restore the tv_keyring row"));
  assert_null(strstr(why, "/var/lib/tv"));
  assert_int_equal(decide_shared(0, 1, 1, 0, 1), TV_KEYRING_START_REFUSE);
  assert_non_null(strstr(why, "HSM holds keyring generation 7"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_vault_is_created),
      cmocka_unit_test(test_shared_keyring),
      cmocka_unit_test(test_existing_keyring_is_opened),
      cmocka_unit_test(test_missing_keyring_with_data_is_refused),
      cmocka_unit_test(test_missing_keyring_on_used_hsm_is_refused),
      cmocka_unit_test(test_init_on_data_is_refused),
      cmocka_unit_test(test_no_init_on_a_new_vault_says_init),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
