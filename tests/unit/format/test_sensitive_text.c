/* sensitive_text: card numbers and IBANs found in free text and redacted;
 * look-alikes that are not (Luhn or MOD 97 fails, too short, too long)
 * left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vault/format/sensitive_text.h"

static const char *redact(const char *in) {
  static char out[512];
  tv_sensitive_redact(out, sizeof out, in, strlen(in), NULL);
  return out;
}

static void test_card_numbers(void **state) {
  (void)state;
  assert_string_equal(redact("customer card 4111111111111111 refund"), "customer card [REDACTED-PAN] refund");
  assert_string_equal(redact("4111 1111 1111 1111"), "[REDACTED-PAN]");
  assert_string_equal(redact("4111-1111-1111-1111."), "[REDACTED-PAN].");
  assert_string_equal(redact("x4111111111111111y"), "x[REDACTED-PAN]y");
  assert_string_equal(redact("{\"card\":\"5555555555554444\"}"), "{\"card\":\"[REDACTED-PAN]\"}");
  assert_string_equal(redact("amex 378282246310005"), "amex [REDACTED-PAN]");            /* 15 digits */
  assert_string_equal(redact("13 digits 4222222222222"), "13 digits [REDACTED-PAN]");     /* 13 */
  assert_string_equal(redact("19 digits 6011000990139424000 x"), "19 digits 6011000990139424000 x"); /* Luhn fails */
  /* A card with a number glued on by a separator is still found. */
  assert_string_equal(redact("ref 12 4111111111111111 5"), "ref [REDACTED-PAN]");
  assert_string_equal(redact("two 4111111111111111 and 5555555555554444"), "two [REDACTED-PAN] and [REDACTED-PAN]");
}

static void test_card_look_alikes(void **state) {
  (void)state;
  const char *kept[] = {
      "4111111111111112",              /* Luhn fails */
      "411111111111",                  /* 12 digits */
      "41111111111111111111",          /* 20 digits: no card number */
      "4111  1111 1111 1111",          /* two separators: two chains, neither 13+ */
      "order 2026-12-05 id 12345",     /* dates and ids */
      "4111.1111.1111.1111",           /* dots are not card separators */
  };
  for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
    assert_string_equal(redact(kept[i]), kept[i]);
  }
}

static void test_ibans(void **state) {
  (void)state;
  assert_string_equal(redact("pay DE89370400440532013000 now"), "pay [REDACTED-IBAN] now");
  assert_string_equal(redact("pay DE89 3704 0044 0532 0130 00 now"), "pay [REDACTED-IBAN] now");
  assert_string_equal(redact("gb29nwbk60161331926819"), "[REDACTED-IBAN]");       /* lower case */
  assert_string_equal(redact("GB29 NWBK 6016 1331 9268 19"), "[REDACTED-IBAN]");
  assert_string_equal(redact("DE89370400440532013000DE89370400440532013000"), "[REDACTED-IBAN][REDACTED-IBAN]");
  assert_string_equal(redact("DE89370400440532013001"), "DE89370400440532013001"); /* check fails */
  assert_string_equal(redact("XDE89370400440532013000"), "XDE89370400440532013000"); /* not at a word start */
}

static void test_find_reports_span(void **state) {
  (void)state;
  const char *t = "a 4111 1111 1111 1111 b DE89370400440532013000";
  size_t s = 0, e = 0;
  assert_int_equal(tv_sensitive_find(t, strlen(t), 0, &s, &e), TV_SENSITIVE_PAN);
  assert_int_equal(s, 2);
  assert_int_equal(e, 21);
  assert_int_equal(tv_sensitive_find(t, strlen(t), e, &s, &e), TV_SENSITIVE_IBAN);
  assert_int_equal(s, 24);
  assert_int_equal(tv_sensitive_find(t, strlen(t), e, &s, &e), TV_SENSITIVE_NONE);
  assert_int_equal(tv_sensitive_find("", 0, 0, &s, &e), TV_SENSITIVE_NONE);
  assert_string_equal(tv_sensitive_name(TV_SENSITIVE_PAN), "a card number");
  assert_string_equal(tv_sensitive_name(TV_SENSITIVE_IBAN), "an IBAN");
}

/* Marks longer than what they replace: the output is cut, never past its
 * room, never in a way that leaves digits of a card number. */
static void test_redact_bounded(void **state) {
  (void)state;
  char in[300] = "";
  for (int i = 0; i < 18; i++) {
    strcat(in, "4222222222222;"); /* 13-digit cards: each mark is one byte longer */
  }
  char out[200];
  int cut = 0;
  size_t found = tv_sensitive_redact(out, sizeof out, in, strlen(in), &cut);
  assert_true(cut);
  assert_true(found > 0);
  assert_true(strlen(out) < sizeof out);
  assert_null(strpbrk(out, "0123456789"));
  char small[8];
  tv_sensitive_redact(small, sizeof small, "4111111111111111", 16, &cut);
  assert_true(cut);
  assert_string_equal(small, "["); /* "[REDACT" cut back to a safe place */
  tv_sensitive_redact(small, sizeof small, "abc", 3, &cut);
  assert_false(cut);
  assert_string_equal(small, "abc");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_card_numbers),     cmocka_unit_test(test_card_look_alikes),
      cmocka_unit_test(test_ibans),            cmocka_unit_test(test_find_reports_span),
      cmocka_unit_test(test_redact_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
