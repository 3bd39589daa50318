/* A reveal comes back in the shape of the token sent (issue 14, point 2):
 * in a convergent namespace the vault keeps the value as its first caller
 * sent it, yet every caller's round trip gives back what that caller
 * sent — the canonical value with its own token's separators — in full
 * and masked. Across restarts too (the shape comes from the token, not
 * from anything kept in memory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"

/* |token| without the characters in |separators|. */
static void strip(const char *token, const char *separators, char *out) {
  size_t n = 0;
  for (const char *p = token; *p != '\0'; p++) {
    if (strchr(separators, *p) == NULL) {
      out[n++] = *p;
    }
  }
  out[n] = '\0';
}

static void expect_reveal(eng_fixture *fx, const char *ns, const char *token, tv_reveal reveal, const char *want) {
  tv_detokenize_item d = eng_detok1(fx, ns, token, reveal);
  eng_check(d.status, token);
  assert_string_equal(d.value, want);
  assert_int_equal(d.value_len, strlen(want));
}

/* Two callers, two shapes of one value: one token (same characters), each
 * revealed in the shape its caller got. */
static void two_shapes(eng_fixture *fx, const char *ns, const char *first, const char *second,
                       const char *second_masked) {
  tv_tokenize_item a = eng_tokenize1(fx, ns, first);
  tv_tokenize_item b = eng_tokenize1(fx, ns, second);
  eng_check(a.status, first);
  eng_check(b.status, second);
  assert_int_equal(b.existing, 1);
  char bare_a[TV_ENGINE_TEXT_LEN_MAX + 1];
  char bare_b[TV_ENGINE_TEXT_LEN_MAX + 1];
  strip(a.token, " -", bare_a);
  strip(b.token, " -", bare_b);
  assert_string_equal(bare_a, bare_b); /* convergent: the same token */
  expect_reveal(fx, ns, a.token, TV_REVEAL_FULL, first);
  expect_reveal(fx, ns, b.token, TV_REVEAL_FULL, second);
  expect_reveal(fx, ns, b.token, TV_REVEAL_MASKED, second_masked);
}

static void test_pan_dashes_then_bare(void **state) {
  eng_fixture *fx = *state;
  /* The report: the bare caller used to get the dashes back. */
  two_shapes(fx, "pan", "5105-1051-0510-5100", "5105105105105100", "510510******5100");
  two_shapes(fx, "pan", "4111111111111111", "4111 1111 1111 1111", "4111 11** **** 1111");
  /* A caller may strip a token's separators (or add its own): the reveal
   * follows what it sent. */
  tv_tokenize_item a = eng_tokenize1(fx, "pan", "5105-1051-0510-5100");
  eng_check(a.status, "a");
  char bare[TV_ENGINE_TEXT_LEN_MAX + 1];
  strip(a.token, "-", bare);
  expect_reveal(fx, "pan", bare, TV_REVEAL_FULL, "5105105105105100");
  expect_reveal(fx, "pan", bare, TV_REVEAL_MASKED, "510510******5100");
}

static void test_iban_groups_then_bare(void **state) {
  eng_fixture *fx = *state;
  two_shapes(fx, "iban", "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "GB82WEST123456****5432");
  /* Lower case is the same value: the reveal has the canonical letters. */
  tv_tokenize_item c = eng_tokenize1(fx, "iban", "gb82 west 1234 5698 7654 32");
  eng_check(c.status, "c");
  assert_int_equal(c.existing, 1);
  expect_reveal(fx, "iban", c.token, TV_REVEAL_FULL, "GB82 WEST 1234 5698 7654 32");
}

static void test_shapes_after_reopen(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item a = eng_tokenize1(fx, "pan", "5555-5555-5555-4444");
  eng_check(a.status, "a");
  eng_close(fx);
  eng_open(fx);
  tv_tokenize_item b = eng_tokenize1(fx, "pan", "5555 5555 5555 4444");
  eng_check(b.status, "b");
  assert_int_equal(b.existing, 1);
  expect_reveal(fx, "pan", b.token, TV_REVEAL_FULL, "5555 5555 5555 4444");
  expect_reveal(fx, "pan", a.token, TV_REVEAL_FULL, "5555-5555-5555-4444");
}

/* Non-convergent namespaces and SSNs: each token is its own caller's. */
static void test_not_convergent_and_ssn(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item a = eng_tokenize1(fx, "ssn", "123-45-6789");
  eng_check(a.status, "ssn");
  char bare[TV_ENGINE_TEXT_LEN_MAX + 1];
  strip(a.token, "-", bare);
  expect_reveal(fx, "ssn", a.token, TV_REVEAL_FULL, "123-45-6789");
  expect_reveal(fx, "ssn", bare, TV_REVEAL_FULL, "123456789");
  expect_reveal(fx, "ssn", bare, TV_REVEAL_MASKED, "***-**-6789");
  tv_tokenize_item g = eng_tokenize1(fx, "pan_nc", "4012 8888 8888 1881");
  eng_check(g.status, "pan_nc");
  strip(g.token, " ", bare);
  expect_reveal(fx, "pan_nc", bare, TV_REVEAL_FULL, "4012888888881881");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pan_dashes_then_bare, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_iban_groups_then_bare, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_shapes_after_reopen, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_not_convergent_and_ssn, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
