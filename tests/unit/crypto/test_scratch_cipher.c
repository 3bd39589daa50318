/* The scratch cipher (vault/crypto/scratch_cipher.h): what it writes is
 * not the input, it reads back after a rewind whatever the chunking, and
 * two ciphers never share a key stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/crypto/scratch_cipher.h"

#define TEXT_LEN 1000

static void fill(unsigned char *buf, size_t len) {
  for (size_t i = 0; i < len; i++) {
    buf[i] = (unsigned char)('a' + i % 26);
  }
}

static void test_round_trip_in_chunks(void **state) {
  (void)state;
  unsigned char plain[TEXT_LEN], sealed[TEXT_LEN], back[TEXT_LEN];
  fill(plain, sizeof plain);
  tv_scratch_cipher *c = NULL;
  assert_int_equal(tv_scratch_cipher_new(&c), TV_OK);
  assert_int_equal(tv_scratch_cipher_apply(c, sealed, plain, 7), TV_OK);
  assert_int_equal(tv_scratch_cipher_apply(c, sealed + 7, plain + 7, sizeof plain - 7), TV_OK);
  assert_memory_not_equal(sealed, plain, sizeof plain);
  assert_int_equal(tv_scratch_cipher_rewind(c), TV_OK);
  memcpy(back, sealed, sizeof back);
  assert_int_equal(tv_scratch_cipher_apply(c, back, back, 500), TV_OK); /* in place */
  assert_int_equal(tv_scratch_cipher_apply(c, back + 500, back + 500, sizeof back - 500), TV_OK);
  assert_memory_equal(back, plain, sizeof plain);
  tv_scratch_cipher_free(c);
}

static void test_each_cipher_its_own_stream(void **state) {
  (void)state;
  unsigned char plain[64] = {0}, one[64], two[64];
  tv_scratch_cipher *a = NULL, *b = NULL;
  assert_int_equal(tv_scratch_cipher_new(&a), TV_OK);
  assert_int_equal(tv_scratch_cipher_new(&b), TV_OK);
  assert_int_equal(tv_scratch_cipher_apply(a, one, plain, sizeof plain), TV_OK);
  assert_int_equal(tv_scratch_cipher_apply(b, two, plain, sizeof plain), TV_OK);
  assert_memory_not_equal(one, two, sizeof one);
  tv_scratch_cipher_free(a);
  tv_scratch_cipher_free(b);
  tv_scratch_cipher_free(NULL);
}

static void test_bad_arguments(void **state) {
  (void)state;
  unsigned char buf[4] = {0};
  assert_int_equal(tv_scratch_cipher_new(NULL), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_scratch_cipher_apply(NULL, buf, buf, sizeof buf), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_scratch_cipher_rewind(NULL), TV_E_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_in_chunks),
      cmocka_unit_test(test_each_cipher_its_own_stream),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
