/* cli_hex_decode: every byte value, both cases, and each way to fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/cli/cli_hex.h"

static void test_every_byte_both_cases(void **state) {
  (void)state;
  char lower[512 + 1];
  char upper[512 + 1];
  for (unsigned i = 0; i < 256; i++) {
    snprintf(lower + 2 * i, 3, "%02x", i);
    snprintf(upper + 2 * i, 3, "%02X", i);
  }
  uint8_t out[256];
  size_t bad = 0;
  for (int pass = 0; pass < 2; pass++) {
    memset(out, 0xaa, sizeof out);
    assert_int_equal(cli_hex_decode(out, sizeof out, pass ? upper : lower, 512, &bad), TV_OK);
    for (unsigned i = 0; i < 256; i++) {
      assert_int_equal(out[i], i);
    }
  }
}

/* Every byte that is not a hex digit is refused, at its exact position. */
static void test_every_non_digit_is_refused(void **state) {
  (void)state;
  for (unsigned c = 0; c < 256; c++) {
    int digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    char text[5] = {'a', '0', (char)c, '1', '\0'};
    uint8_t out[2];
    size_t bad = 0;
    tv_status status = cli_hex_decode(out, sizeof out, text, 4, &bad);
    if (digit) {
      assert_int_equal(status, TV_OK);
    } else {
      assert_int_equal(status, TV_E_INVALID_ARGUMENT);
      assert_int_equal(bad, 2);
    }
  }
}

static void test_length_errors(void **state) {
  (void)state;
  uint8_t out[2];
  size_t bad = 0;
  assert_int_equal(cli_hex_decode(out, sizeof out, "abc", 3, &bad), TV_E_INVALID_ARGUMENT);
  assert_int_equal(bad, 3);
  assert_int_equal(cli_hex_decode(out, sizeof out, "aabbcc", 6, &bad), TV_E_INVALID_ARGUMENT);
  assert_int_equal(bad, 6);
  assert_int_equal(cli_hex_decode(out, sizeof out, "", 0, &bad), TV_OK);
  /* The first bad digit is reported, not a later one. */
  assert_int_equal(cli_hex_decode(out, sizeof out, "0g0z", 4, &bad), TV_E_INVALID_ARGUMENT);
  assert_int_equal(bad, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_byte_both_cases),
      cmocka_unit_test(test_every_non_digit_is_refused),
      cmocka_unit_test(test_length_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
