#include "format_test_util.h"
#include "vault/format/luhn.h"

static const char *const published_pans[] = {
    "4111111111111111", "4012888888881881", "5555555555554444", "5105105105105100",
    "2221000000000009", "378282246310005",  "6011111111111117", "3530111333300000",
    "30569309025904",   "4222222222222",    "6011000990139424", "371449635398431",
};

static void test_published_pans_pass(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof published_pans / sizeof published_pans[0]; i++) {
    const char *p = published_pans[i];
    assert_true(luhn_valid(p, strlen(p)));
    assert_int_equal(luhn_sum(p, strlen(p)), 0);
    assert_int_equal(luhn_check_digit(p, strlen(p) - 1), p[strlen(p) - 1]);
  }
}

static void test_every_single_digit_change_fails(void **state) {
  (void)state;
  char p[] = "4111111111111111";
  for (size_t i = 0; i < 16; i++) {
    char saved = p[i];
    for (char d = '0'; d <= '9'; d++) {
      p[i] = d;
      assert_int_equal(luhn_valid(p, 16), d == saved);
    }
    p[i] = saved;
  }
}

static void test_adjacent_swap_detected(void **state) {
  (void)state;
  char p[] = "4012888888881881";
  /* 1 and 2 swapped: Luhn catches every adjacent swap except 09/90. */
  p[1] = '1';
  p[2] = '0';
  assert_false(luhn_valid(p, 16));
}

static void test_rejects_non_digits_and_empty(void **state) {
  (void)state;
  assert_false(luhn_valid("", 0));
  assert_false(luhn_valid("4111a11111111111", 16));
  assert_false(luhn_valid("4111 1111", 9));
}

static void test_check_digit_makes_valid(void **state) {
  (void)state;
  char buf[20] = "79927398710";
  buf[10] = luhn_check_digit(buf, 10);
  assert_int_equal(buf[10], '3'); /* the classic 7992739871-3 example */
  assert_true(luhn_valid(buf, 11));
  assert_int_equal(luhn_check_digit("", 0), '0');
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_published_pans_pass),
      cmocka_unit_test(test_every_single_digit_change_fails),
      cmocka_unit_test(test_adjacent_swap_detected),
      cmocka_unit_test(test_rejects_non_digits_and_empty),
      cmocka_unit_test(test_check_digit_makes_valid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
