/* The NIST SP 800-38G FF1 samples (FF1samples.pdf, samples 1-9), against
 * every implementation, single calls and the batch API, both directions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/crypto/ff1_test_util.h"

typedef struct nist_sample {
  const char *key_hex;
  const char *tweak_hex;
  unsigned radix;
  const char *plaintext;
  const char *ciphertext;
} nist_sample;

#define KEY128 "2B7E151628AED2A6ABF7158809CF4F3C"
#define KEY192 KEY128 "EF4359D8D580AA4F"
#define KEY256 KEY192 "7F036D6F04FC6A94"
#define TWEAK10 "39383736353433323130"
#define TWEAK11 "3737373770717273373737"

static const nist_sample samples[] = {
    {KEY128, "", 10, "0123456789", "2433477484"},
    {KEY128, TWEAK10, 10, "0123456789", "6124200773"},
    {KEY128, TWEAK11, 36, "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
    {KEY192, "", 10, "0123456789", "2830668132"},
    {KEY192, TWEAK10, 10, "0123456789", "2496655549"},
    {KEY192, TWEAK11, 36, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
    {KEY256, "", 10, "0123456789", "6657667009"},
    {KEY256, TWEAK10, 10, "0123456789", "1001623463"},
    {KEY256, TWEAK11, 36, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
};
#define SAMPLE_COUNT (sizeof samples / sizeof samples[0])

typedef struct decoded {
  uint8_t key[32], tweak[16], pt[32], ct[32];
  size_t key_len, tweak_len, len;
} decoded;

static void decode(const nist_sample *s, decoded *d) {
  d->key_len = test_hex_decode(s->key_hex, d->key);
  d->tweak_len = test_hex_decode(s->tweak_hex, d->tweak);
  d->len = test_text_to_numerals(s->plaintext, d->pt);
  assert_int_equal(test_text_to_numerals(s->ciphertext, d->ct), d->len);
}

static ff1_key *key_for(ff1_impl impl, const decoded *d) {
  ff1_key *key = NULL;
  assert_int_equal(ff1_key_new(&key, impl, d->key, d->key_len), TV_OK);
  assert_int_equal(ff1_key_impl(key), impl);
  return key;
}

static void test_samples_single(void **state) {
  (void)state;
  for (size_t m = 0; m < TEST_IMPL_COUNT; m++) {
    if (!test_impl_usable(test_impls[m])) {
      print_message("%s not available on this CPU: not tested here\n", ff1_impl_name(test_impls[m]));
      continue;
    }
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
      decoded d;
      decode(&samples[i], &d);
      ff1_key *key = key_for(test_impls[m], &d);
      uint8_t out[32];
      char text[40];
      /* Twice: the second call takes CIPH(P) from the shape cache. */
      for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(ff1_encrypt(key, samples[i].radix, d.tweak, d.tweak_len, d.pt, d.len, out),
                         TV_OK);
        test_numerals_to_text(out, d.len, text);
        assert_string_equal(text, samples[i].ciphertext);
        assert_int_equal(ff1_decrypt(key, samples[i].radix, d.tweak, d.tweak_len, d.ct, d.len, out),
                         TV_OK);
        test_numerals_to_text(out, d.len, text);
        assert_string_equal(text, samples[i].plaintext);
      }
      ff1_key_free(key);
    }
  }
}

/* Each sample repeated in a batch of 11 (one full lane group of 8 and a
 * partial one of 3), in place, both directions. */
static void test_samples_batch(void **state) {
  (void)state;
  enum { COPIES = 11 };
  for (size_t m = 0; m < TEST_IMPL_COUNT; m++) {
    if (!test_impl_usable(test_impls[m])) {
      print_message("%s not available on this CPU: not tested here\n", ff1_impl_name(test_impls[m]));
      continue;
    }
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
      decoded d;
      decode(&samples[i], &d);
      ff1_key *key = key_for(test_impls[m], &d);
      uint8_t buf[COPIES][32];
      ff1_batch_item items[COPIES];
      for (int c = 0; c < COPIES; c++) {
        memcpy(buf[c], d.pt, d.len);
        items[c] = (ff1_batch_item){d.tweak, d.tweak_len, buf[c], buf[c], d.len, TV_E_INTERNAL};
      }
      assert_int_equal(ff1_encrypt_batch(key, samples[i].radix, items, COPIES), TV_OK);
      for (int c = 0; c < COPIES; c++) {
        assert_int_equal(items[c].status, TV_OK);
        assert_memory_equal(buf[c], d.ct, d.len);
      }
      assert_int_equal(ff1_decrypt_batch(key, samples[i].radix, items, COPIES), TV_OK);
      for (int c = 0; c < COPIES; c++) {
        assert_memory_equal(buf[c], d.pt, d.len);
      }
      ff1_key_free(key);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_samples_single),
      cmocka_unit_test(test_samples_batch),
  };
  return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
