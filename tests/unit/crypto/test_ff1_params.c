/* Every parameter outside FF1's limits gets its own status, and nothing is
 * written to the output when a call fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/crypto/ff1_test_util.h"
#include "vault/crypto/ff1_internal.h"

static const uint8_t key_bytes[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                      17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static void test_key_lengths(void **state) {
  (void)state;
  static const size_t bad[] = {0, 1, 15, 17, 23, 25, 31};
  for (size_t m = 0; m < TEST_IMPL_COUNT; m++) {
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      ff1_key *k = NULL;
      assert_int_equal(ff1_key_new(&k, test_impls[m], key_bytes, bad[i]), TV_E_FF1_KEY_LENGTH);
      assert_null(k);
    }
  }
  ff1_key *k = NULL;
  assert_int_equal(ff1_key_new(&k, FF1_IMPL_AUTO, NULL, 16), TV_E_INVALID_ARGUMENT);
  assert_int_equal(ff1_key_new(NULL, FF1_IMPL_AUTO, key_bytes, 16), TV_E_INVALID_ARGUMENT);
  assert_int_equal(ff1_key_new(&k, (ff1_impl)7, key_bytes, 16), TV_E_INVALID_ARGUMENT);
  ff1_key_free(NULL);
}

static void test_check_params(void **state) {
  (void)state;
  assert_int_equal(ff1_check_params(1, 30, 0), TV_E_FF1_RADIX);
  assert_int_equal(ff1_check_params(257, 30, 0), TV_E_FF1_RADIX);
  assert_int_equal(ff1_check_params(0, 30, 0), TV_E_FF1_RADIX);
  /* The domain floor: 10^6 is the least allowed domain. */
  assert_int_equal(ff1_check_params(10, 5, 0), TV_E_FF1_DOMAIN_TOO_SMALL);
  assert_int_equal(ff1_check_params(10, 6, 0), TV_OK);
  assert_int_equal(ff1_check_params(2, 19, 0), TV_E_FF1_DOMAIN_TOO_SMALL);
  assert_int_equal(ff1_check_params(2, 20, 0), TV_OK);
  assert_int_equal(ff1_check_params(256, 2, 0), TV_E_FF1_DOMAIN_TOO_SMALL);
  assert_int_equal(ff1_check_params(256, 3, 0), TV_OK);
  assert_int_equal(ff1_check_params(36, 0, 0), TV_E_FF1_DOMAIN_TOO_SMALL);
  assert_int_equal(ff1_check_params(10, FF1_LENGTH_MAX, 0), TV_OK);
  assert_int_equal(ff1_check_params(10, FF1_LENGTH_MAX + 1, 0), TV_E_FF1_TOO_LONG);
  assert_int_equal(ff1_check_params(10, 10, FF1_TWEAK_MAX), TV_OK);
  assert_int_equal(ff1_check_params(10, 10, FF1_TWEAK_MAX + 1), TV_E_FF1_TWEAK_TOO_LONG);
}

static void test_b_bytes_exact(void **state) {
  (void)state;
  /* b = ceil(ceil(v*log2(radix))/8), checked at the edges where a float
   * computation goes wrong: exact powers of two and just past them. */
  assert_int_equal(ff1_b_bytes(2, 8), 1);
  assert_int_equal(ff1_b_bytes(2, 9), 2);
  assert_int_equal(ff1_b_bytes(16, 16), 8);
  assert_int_equal(ff1_b_bytes(256, 8), 8);
  assert_int_equal(ff1_b_bytes(10, 3), 2);   /* 10 bits */
  assert_int_equal(ff1_b_bytes(10, 5), 3);   /* 17 bits */
  assert_int_equal(ff1_b_bytes(10, 19), 8);  /* 64 bits: 10^19 < 2^64 */
  assert_int_equal(ff1_b_bytes(10, 20), 9);  /* 67 bits */
  assert_int_equal(ff1_b_bytes(36, 10), 7);  /* 52 bits */
  assert_int_equal(ff1_b_bytes(3, 1), 1);
}

static void test_bad_calls_write_nothing(void **state) {
  (void)state;
  for (size_t m = 0; m < TEST_IMPL_COUNT; m++) {
    if (!test_impl_usable(test_impls[m])) {
      print_message("%s not available on this CPU: not tested here\n", ff1_impl_name(test_impls[m]));
      continue;
    }
    ff1_key *k = NULL;
    assert_int_equal(ff1_key_new(&k, test_impls[m], key_bytes, 32), TV_OK);
    uint8_t in[FF1_LENGTH_MAX + 1] = {0}, out[FF1_LENGTH_MAX + 1];
    uint8_t tweak[FF1_TWEAK_MAX + 1] = {0};
    memset(out, 0xEE, sizeof out);
    in[3] = 10; /* not a decimal numeral */
    assert_int_equal(ff1_encrypt(k, 10, NULL, 0, in, 8, out), TV_E_FF1_NUMERAL);
    assert_int_equal(ff1_decrypt(k, 10, NULL, 0, in, 8, out), TV_E_FF1_NUMERAL);
    in[3] = 0;
    assert_int_equal(ff1_encrypt(k, 10, NULL, 0, in, 5, out), TV_E_FF1_DOMAIN_TOO_SMALL);
    assert_int_equal(ff1_encrypt(k, 10, NULL, 0, in, FF1_LENGTH_MAX + 1, out), TV_E_FF1_TOO_LONG);
    assert_int_equal(ff1_encrypt(k, 10, tweak, FF1_TWEAK_MAX + 1, in, 8, out),
                     TV_E_FF1_TWEAK_TOO_LONG);
    assert_int_equal(ff1_encrypt(k, 300, NULL, 0, in, 8, out), TV_E_FF1_RADIX);
    assert_int_equal(ff1_encrypt(k, 10, NULL, 3, in, 8, out), TV_E_INVALID_ARGUMENT);
    assert_int_equal(ff1_encrypt(k, 10, NULL, 0, NULL, 8, out), TV_E_INVALID_ARGUMENT);
    for (size_t i = 0; i < sizeof out; i++) {
      assert_int_equal(out[i], 0xEE);
    }
    ff1_key_free(k);
  }
}

static void test_batch_marks_bad_items(void **state) {
  (void)state;
  for (size_t m = 0; m < TEST_IMPL_COUNT; m++) {
    if (!test_impl_usable(test_impls[m])) {
      print_message("%s not available on this CPU: not tested here\n", ff1_impl_name(test_impls[m]));
      continue;
    }
    ff1_key *k = NULL;
    assert_int_equal(ff1_key_new(&k, test_impls[m], key_bytes, 16), TV_OK);
    uint8_t good[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0}, bad[10] = {1, 2, 11};
    uint8_t outs[5][10];
    ff1_batch_item items[5] = {
        {NULL, 0, good, outs[0], 10, TV_OK},
        {NULL, 0, bad, outs[1], 10, TV_OK},
        {NULL, 0, good, outs[2], 4, TV_OK},
        {NULL, 0, good, outs[3], 10, TV_OK},
        {NULL, 0, good, outs[4], 10, TV_OK},
    };
    assert_int_equal(ff1_encrypt_batch(k, 10, items, 5), TV_E_FF1_NUMERAL);
    assert_int_equal(items[0].status, TV_OK);
    assert_int_equal(items[1].status, TV_E_FF1_NUMERAL);
    assert_int_equal(items[2].status, TV_E_FF1_DOMAIN_TOO_SMALL);
    assert_int_equal(items[3].status, TV_OK);
    assert_int_equal(items[4].status, TV_OK);
    uint8_t single[10];
    assert_int_equal(ff1_encrypt(k, 10, NULL, 0, good, 10, single), TV_OK);
    assert_memory_equal(outs[0], single, 10);
    assert_memory_equal(outs[3], single, 10);
    assert_memory_equal(outs[4], single, 10);
    ff1_key_free(k);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key_lengths),
      cmocka_unit_test(test_check_params),
      cmocka_unit_test(test_b_bytes_exact),
      cmocka_unit_test(test_bad_calls_write_nothing),
      cmocka_unit_test(test_batch_marks_bad_items),
  };
  return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
