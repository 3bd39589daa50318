#include "format_test_util.h"
#include "vault/format/iso7064.h"

static void test_mod97_iban_rotation(void **state) {
  (void)state;
  /* DE89 3704 0044 0532 0130 00 rotated: BBAN, then "DE89". */
  const char *rotated = "370400440532013000DE89";
  assert_int_equal(iso7064_mod97_remainder(rotated, strlen(rotated)), 1);
  const char *lower = "370400440532013000de89";
  assert_int_equal(iso7064_mod97_remainder(lower, strlen(lower)), 1);
  assert_int_equal(iso7064_mod97_remainder("12-3", 4), -1);
  assert_int_equal(iso7064_mod97_remainder("", 0), 0);
}

static void test_mod97_10_check(void **state) {
  (void)state;
  /* Check digits of DE89...: computed over BBAN + "DE" (their position is
   * then the end). */
  const char *body = "370400440532013000DE";
  assert_int_equal(iso7064_mod97_10_check(body, strlen(body)), 89);
  /* ISO 7064 example for MOD 97-10: 794 -> 44. */
  assert_int_equal(iso7064_mod97_10_check("794", 3), 44);
  assert_int_equal(iso7064_mod97_10_check("7*4", 3), -1);
}

static void test_mod11_2(void **state) {
  (void)state;
  /* PRC resident ID sample 11010519491231002X and the ISO 7064 example
   * 079 -> X. */
  assert_int_equal(iso7064_mod11_2_check("11010519491231002", 17), 'X');
  assert_int_equal(iso7064_mod11_2_check("079", 3), 'X');
  assert_int_equal(iso7064_mod11_2_check("0794", 4), '0');
  assert_int_not_equal(iso7064_mod11_2_check("11010519491231003", 17), 'X');
}

static void test_mod11_10(void **state) {
  (void)state;
  /* German tax ID 86095742719: check digit 9 over the first ten. */
  assert_int_equal(iso7064_mod11_10_check("8609574271", 10), '9');
  assert_int_not_equal(iso7064_mod11_10_check("8609574272", 10), '9');
  /* Every single-digit change moves the check digit (MOD 11,10 detects
   * all single substitutions). */
  char body[] = "8609574271";
  for (size_t i = 0; i < 10; i++) {
    char saved = body[i];
    for (char d = '0'; d <= '9'; d++) {
      body[i] = d;
      if (d != saved) {
        assert_int_not_equal(iso7064_mod11_10_check(body, 10), '9');
      }
    }
    body[i] = saved;
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mod97_iban_rotation),
      cmocka_unit_test(test_mod97_10_check),
      cmocka_unit_test(test_mod11_2),
      cmocka_unit_test(test_mod11_10),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
