/* The attacker's guessing space per format (vault/format/guess_space.c):
 * the numbers the README and the metering defaults rest on. */
#include "format_test_util.h"
#include "vault/format/luhn.h"

static format_guess_space space_of(const tv_format *cfg) {
  format_guess_space g;
  assert_int_equal(format_guess_space_of(cfg, &g), TV_OK);
  return g;
}

static void test_pan_6_4_on_16_digits_is_1e5(void **state) {
  (void)state;
  tv_format cfg;
  assert_int_equal(format_config_init(&cfg, FORMAT_PAN, "pan"), TV_OK);
  cfg.pan.length_min = 16;
  cfg.pan.keep_first = 6;
  cfg.pan.keep_last = 4;
  format_guess_space g = space_of(&cfg);
  assert_int_equal(g.candidates, 100000u); /* 10^6 middles, one in 10 Luhn-valid */
  assert_int_equal(g.kept_chars, 10u);
  assert_non_null(strstr(g.why, "Luhn"));
  cfg.pan.length_min = 19; /* 9 tokenised digits: 10^8 */
  assert_int_equal(space_of(&cfg).candidates, 100000000u);
  cfg.pan.length_min = 18;
  cfg.pan.keep_first = 8; /* 8+4 of 18: 6 digits, 10^5 again */
  assert_int_equal(space_of(&cfg).candidates, 100000u);
}

/* Exhaustive check of the Luhn claim on a smaller scale: of all 10^4
 * middles between a fixed BIN and last 4, exactly 10^3 are Luhn-valid. */
static void test_luhn_keeps_one_middle_in_ten(void **state) {
  (void)state;
  char pan[] = "411111xxxx1111";
  unsigned valid = 0;
  for (unsigned m = 0; m < 10000u; m++) {
    for (unsigned i = 0, v = m; i < 4; i++, v /= 10) {
      pan[9 - i] = (char)('0' + v % 10);
    }
    valid += luhn_valid(pan, strlen(pan)) ? 1u : 0u;
  }
  assert_int_equal(valid, 1000u);
}

static void test_iban_is_the_smallest_country(void **state) {
  (void)state;
  tv_format cfg;
  assert_int_equal(format_config_init(&cfg, FORMAT_IBAN, "iban"), TV_OK);
  format_guess_space g = space_of(&cfg);
  /* The validator's floor is 6 tokenised characters per country. */
  assert_true(g.candidates >= 1000000u);
  assert_true(g.candidates < 1000000000u);
  assert_true(g.kept_chars >= 2u);
  assert_non_null(strstr(g.why, "per bank code"));
}

static void test_nothing_kept_and_fixed_formats(void **state) {
  (void)state;
  tv_format cfg;
  assert_int_equal(format_config_init(&cfg, FORMAT_US_SSN, "ssn"), TV_OK);
  format_guess_space g = space_of(&cfg);
  assert_int_equal(g.candidates, 1000000000u);
  assert_int_equal(g.kept_chars, 0u);
  assert_int_equal(format_config_init(&cfg, FORMAT_DE_TAX_ID, "de"), TV_OK);
  assert_int_equal(space_of(&cfg).kept_chars, 0u);
  assert_int_equal(format_config_init(&cfg, FORMAT_CN_RESIDENT_ID, "cn"), TV_OK);
  g = space_of(&cfg);
  assert_int_equal(g.candidates, 73049000u);
  assert_int_equal(g.kept_chars, 6u);
  assert_int_equal(format_config_init(&cfg, FORMAT_TW_NATIONAL_ID, "tw"), TV_OK);
  assert_int_equal(space_of(&cfg).candidates, 10000000u);
}

static void test_generic_and_bank_account(void **state) {
  (void)state;
  tv_format cfg;
  assert_int_equal(format_config_init(&cfg, FORMAT_BANK_ACCOUNT, "acct"), TV_OK);
  cfg.bank.length_min = 10;
  cfg.bank.keep_last = 4;
  format_guess_space g = space_of(&cfg);
  assert_int_equal(g.candidates, 1000000u);
  assert_int_equal(g.kept_chars, 4u);
  assert_int_equal(format_config_init(&cfg, FORMAT_GENERIC, "gen"), TV_OK);
  cfg.generic.length_min = 40; /* 10^40 saturates */
  cfg.generic.length_max = 40;
  g = space_of(&cfg);
  assert_true(g.candidates == UINT64_MAX);
  assert_int_equal(g.kept_chars, 0u);
  cfg.generic.length_min = 10;
  cfg.generic.keep_prefix = 2;
  cfg.generic.checksum = FORMAT_CHECKSUM_LUHN; /* recomputed: no division */
  g = space_of(&cfg);
  assert_int_equal(g.candidates, 10000000u);
  assert_int_equal(g.kept_chars, 2u);
}

static void test_invalid_config_refused(void **state) {
  (void)state;
  tv_format cfg;
  assert_int_equal(format_config_init(&cfg, FORMAT_PAN, "pan"), TV_OK);
  cfg.pan.length_min = 13; /* 6+4 of 13 leaves 3 digits */
  format_guess_space g;
  assert_int_equal(format_guess_space_of(&cfg, &g), TV_E_FORMAT_DOMAIN_TOO_SMALL);
  assert_int_equal(format_guess_space_of(NULL, &g), TV_E_INVALID_ARGUMENT);
}

/* Per value: an IBAN's own country decides (DE keeps an 8-digit bank code
 * and tokenises a 10-digit account; NO leaves 6 digits), a PAN's own length. */
static void test_per_value(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  assert_int_equal(format_config_init(&cfg, FORMAT_IBAN, "iban"), TV_OK);
  assert_int_equal(format_parse(&cfg, "DE89370400440532013000", 22, &v), TV_OK);
  assert_int_equal(format_value_guess_space(&cfg, &v), 10000000000u);
  format_value_wipe(&v);
  assert_int_equal(format_parse(&cfg, "NO9386011117947", 15, &v), TV_OK);
  assert_int_equal(format_value_guess_space(&cfg, &v), 1000000u);
  format_value_wipe(&v);
  assert_int_equal(format_config_init(&cfg, FORMAT_PAN, "pan"), TV_OK);
  assert_int_equal(format_parse(&cfg, "4111111111111111", 16, &v), TV_OK);
  assert_int_equal(format_value_guess_space(&cfg, &v), 100000u);
  format_value_wipe(&v);
  assert_int_equal(format_parse(&cfg, "4111111111111111003", 19, &v), TV_OK);
  assert_int_equal(format_value_guess_space(&cfg, &v), 100000000u);
  format_value_wipe(&v);
  assert_int_equal(format_value_guess_space(NULL, &v), 0u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pan_6_4_on_16_digits_is_1e5),
      cmocka_unit_test(test_luhn_keeps_one_middle_in_ten),
      cmocka_unit_test(test_iban_is_the_smallest_country),
      cmocka_unit_test(test_nothing_kept_and_fixed_formats),
      cmocka_unit_test(test_generic_and_bank_account),
      cmocka_unit_test(test_invalid_config_refused),
      cmocka_unit_test(test_per_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
