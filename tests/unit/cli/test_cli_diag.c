/* cli_diag: messages stay one printable line whatever the input, and the
 * tv_status -> exit code mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/cli_exit.h"

static void test_quote_replaces_unprintable_bytes(void **state) {
  (void)state;
  char out[CLI_QUOTE_MAX];
  assert_string_equal(cli_quote(out, sizeof out, "--colour"), "--colour");
  assert_string_equal(cli_quote(out, sizeof out, "a\nb\rc\x1b[2J\xff"), "a?b?c?[2J?");
  assert_string_equal(cli_quote(out, sizeof out, ""), "");
}

static void test_quote_cuts_long_text(void **state) {
  (void)state;
  char long_text[200];
  memset(long_text, 'k', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = '\0';
  char out[CLI_QUOTE_MAX];
  cli_quote(out, sizeof out, long_text);
  assert_int_equal(strlen(out), sizeof out - 1);
  assert_string_equal(out + sizeof out - 4, "...");
  /* Exactly fitting text is not cut. */
  long_text[sizeof out - 1] = '\0';
  cli_quote(out, sizeof out, long_text);
  assert_string_equal(out, long_text);
}

static void test_describe_byte(void **state) {
  (void)state;
  char out[CLI_BYTE_TEXT_MAX];
  assert_string_equal(cli_describe_byte(out, sizeof out, 'x'), "'x'");
  assert_string_equal(cli_describe_byte(out, sizeof out, ' '), "byte 0x20");
  assert_string_equal(cli_describe_byte(out, sizeof out, '\''), "byte 0x27");
  assert_string_equal(cli_describe_byte(out, sizeof out, 0xff), "byte 0xff");
}

static void test_fail_formats_and_returns_status(void **state) {
  (void)state;
  cli_diag diag;
  cli_diag_clear(&diag);
  assert_string_equal(diag.text, "");
  assert_int_equal(cli_fail(&diag, TV_E_IO, "line %d: %s", 7, "broken"), TV_E_IO);
  assert_string_equal(diag.text, "line 7: broken");
  char huge[600];
  memset(huge, 'z', sizeof huge - 1);
  huge[sizeof huge - 1] = '\0';
  cli_fail(&diag, TV_E_INTERNAL, "%s", huge);
  assert_int_equal(strlen(diag.text), CLI_DIAG_TEXT_MAX - 1);
}

static void test_exit_codes(void **state) {
  (void)state;
  assert_int_equal(cli_exit_code(TV_OK), CLI_EXIT_OK);
  assert_int_equal(cli_exit_code(TV_E_IO), CLI_EXIT_FAILURE);
  assert_int_equal(cli_exit_code(TV_E_NO_MEMORY), CLI_EXIT_FAILURE);
  assert_int_equal(cli_exit_code(TV_E_CRYPTO_BACKEND), CLI_EXIT_FAILURE);
  assert_int_equal(cli_exit_code(TV_E_INVALID_ARGUMENT), CLI_EXIT_USAGE);
  assert_int_equal(cli_exit_code(TV_E_ALPHABET_CHAR), CLI_EXIT_USAGE);
  assert_int_equal(cli_exit_code(TV_E_FF1_DOMAIN_TOO_SMALL), CLI_EXIT_USAGE);
  assert_int_equal(cli_exit_code(TV_E_FF1_KEY_LENGTH), CLI_EXIT_USAGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quote_replaces_unprintable_bytes),
      cmocka_unit_test(test_quote_cuts_long_text),
      cmocka_unit_test(test_describe_byte),
      cmocka_unit_test(test_fail_formats_and_returns_status),
      cmocka_unit_test(test_exit_codes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
