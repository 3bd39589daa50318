#include "format_test_util.h"
#include "vault/format/alphabet.h"

static void test_init_and_roundtrip(void **state) {
  (void)state;
  tv_alphabet a;
  assert_int_equal(alphabet_init(&a, "abcdefghij", 10), TV_OK);
  assert_int_equal(a.size, 10);
  uint8_t n[5];
  assert_int_equal(alphabet_to_numerals(&a, "jihaa", 5, n, NULL), TV_OK);
  const uint8_t expected[5] = {9, 8, 7, 0, 0};
  assert_memory_equal(n, expected, 5);
  char back[5];
  assert_int_equal(alphabet_to_text(&a, n, 5, back), TV_OK);
  assert_memory_equal(back, "jihaa", 5);
}

static void test_radix(void **state) {
  (void)state;
  tv_alphabet a;
  assert_int_equal(alphabet_init_radix(&a, 36), TV_OK);
  assert_int_equal(a.size, 36);
  assert_int_equal(a.chars[35], 'z');
  assert_int_equal(alphabet_init_radix(&a, 1), TV_E_FF1_RADIX);
  assert_int_equal(alphabet_init_radix(&a, 37), TV_E_FF1_RADIX);
}

static void test_full_256_alphabet(void **state) {
  (void)state;
  char all[256];
  for (int i = 0; i < 256; i++) {
    all[i] = (char)(255 - i);
  }
  tv_alphabet a;
  assert_int_equal(alphabet_init(&a, all, 256), TV_OK);
  uint8_t n[2];
  char text[2] = {(char)255, (char)0};
  assert_int_equal(alphabet_to_numerals(&a, text, 2, n, NULL), TV_OK);
  assert_int_equal(n[0], 0);
  assert_int_equal(n[1], 255);
}

static void test_errors(void **state) {
  (void)state;
  tv_alphabet a;
  assert_int_equal(alphabet_init(&a, "a", 1), TV_E_ALPHABET_SIZE);
  assert_int_equal(alphabet_init(&a, "abca", 4), TV_E_ALPHABET_DUPLICATE);
  assert_int_equal(alphabet_init(&a, "0123456789", 10), TV_OK);
  uint8_t n[4];
  size_t bad = 99;
  assert_int_equal(alphabet_to_numerals(&a, "12x4", 4, n, &bad), TV_E_ALPHABET_CHAR);
  assert_int_equal(bad, 2);
  const uint8_t big[1] = {10};
  char out[1];
  assert_int_equal(alphabet_to_text(&a, big, 1, out), TV_E_FF1_NUMERAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_and_roundtrip),
      cmocka_unit_test(test_radix),
      cmocka_unit_test(test_full_256_alphabet),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
