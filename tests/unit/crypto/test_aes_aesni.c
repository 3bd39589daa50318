/* The AES-NI key schedule and block function against OpenSSL's AES, and
 * the FIPS 197 appendix C examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tests/unit/crypto/ff1_test_util.h"
#include "vault/crypto/ff1_internal.h"

static void openssl_block(const uint8_t *key, size_t key_len, const uint8_t in[16],
                          uint8_t out[16]) {
  const EVP_CIPHER *c = key_len == 16 ? EVP_aes_128_ecb()
                        : key_len == 24 ? EVP_aes_192_ecb()
                                        : EVP_aes_256_ecb();
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  assert_int_equal(EVP_EncryptInit_ex(ctx, c, NULL, key, NULL), 1);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  assert_int_equal(EVP_EncryptUpdate(ctx, out, &len, in, 16), 1);
  assert_int_equal(len, 16);
  EVP_CIPHER_CTX_free(ctx);
}

static void aesni_block(const uint8_t *key, size_t key_len, const uint8_t in[16],
                        uint8_t out[16]) {
  ff1_key *k = NULL;
  assert_int_equal(ff1_key_new(&k, FF1_IMPL_AESNI, key, key_len), TV_OK);
  memcpy(out, in, 16);
  assert_int_equal(aesni_encrypt_block_cb(k, out), 0);
  ff1_key_free(k);
}

static void test_fips197_examples(void **state) {
  (void)state;
  if (!test_impl_usable(FF1_IMPL_AESNI)) {
    return; /* remembered: the program exits 77 */
  }
  static const char *key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  static const char *expected[3] = {"69c4e0d86a7b0430d8cdb78070b4c55a",
                                    "dda97ca4864cdfe06eaf70a0ec0d7191",
                                    "8ea2b7ca516745bfeafc49904b496089"};
  uint8_t key[32], in[16], want[16], out[16];
  test_hex_decode(key_hex, key);
  test_hex_decode("00112233445566778899aabbccddeeff", in);
  for (int i = 0; i < 3; i++) {
    test_hex_decode(expected[i], want);
    aesni_block(key, 16u + 8u * (size_t)i, in, out);
    assert_memory_equal(out, want, 16);
  }
}

static void test_random_keys_match_openssl(void **state) {
  (void)state;
  if (!test_impl_usable(FF1_IMPL_AESNI)) {
    return; /* remembered: the program exits 77 */
  }
  for (int trial = 0; trial < 300; trial++) {
    size_t key_len = 16u + 8u * (size_t)(trial % 3);
    uint8_t key[32], in[16], a[16], b[16];
    assert_int_equal(RAND_bytes(key, sizeof key), 1);
    assert_int_equal(RAND_bytes(in, sizeof in), 1);
    aesni_block(key, key_len, in, a);
    openssl_block(key, key_len, in, b);
    assert_memory_equal(a, b, 16);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fips197_examples),
      cmocka_unit_test(test_random_keys_match_openssl),
  };
  return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
