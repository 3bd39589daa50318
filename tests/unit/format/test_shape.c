/* Reveals in the token's shape (shape.c: format_reshape, format_mask_like):
 * for every format, a value stored in one shape and a token minted from
 * the same value sent in another shape give back, revealed through that
 * token, exactly the second shape (the canonical value with the token's
 * separators). Plus the refusals: a shape with the wrong number of
 * characters, an output buffer too small. */
#include "format_test_util.h"

static ff1_key *key;

static int setup(void **state) {
  (void)state;
  key = fmt_test_key();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ff1_key_free(key);
  return 0;
}

/* The token |cfg| mints (first acceptable attempt) for |input|, as the
 * engine hands it to the caller who sent |input|. */
static void token_of(const tv_format *cfg, const char *input, format_token *out) {
  format_value v;
  assert_int_equal(fmt_parse(cfg, input, &v), TV_OK);
  assert_int_equal(format_generate(cfg, key, &v, NULL, NULL, out), TV_OK);
  format_value_wipe(&v);
}

/* |stored| is the value as the first caller sent it (what the vault keeps,
 * as format_parse normalised it); |second| the same value in another
 * shape; |want| what the second caller must get back in full (|second|
 * itself, up to the letter case the format folds). */
static void check_full(const tv_format *cfg, const char *stored, const char *second, const char *want) {
  format_value first;
  assert_int_equal(fmt_parse(cfg, stored, &first), TV_OK);
  format_token tok;
  token_of(cfg, second, &tok);
  char out[FORMAT_TEXT_LEN_MAX + 1];
  size_t written = 0;
  assert_int_equal(format_reshape(cfg, first.text, first.text_len, tok.text, tok.text_len, out, sizeof out,
                                  &written),
                   TV_OK);
  assert_string_equal(out, want);
  assert_int_equal(written, strlen(want));
  /* And the first caller, through its own token, gets its own shape. */
  format_token first_tok;
  token_of(cfg, stored, &first_tok);
  assert_int_equal(format_reshape(cfg, first.text, first.text_len, first_tok.text, first_tok.text_len, out,
                                  sizeof out, NULL),
                   TV_OK);
  assert_string_equal(out, first.text);
  format_value_wipe(&first);
}

/* The MASKED reveal of |stored| through the token of |second|. */
static void check_masked(const tv_format *cfg, const char *stored, const char *second, const char *want) {
  format_value v;
  assert_int_equal(fmt_parse(cfg, stored, &v), TV_OK);
  format_token tok;
  token_of(cfg, second, &tok);
  char out[FORMAT_TEXT_LEN_MAX + 1];
  size_t written = 0;
  assert_int_equal(format_mask_like(cfg, &v, tok.text, tok.text_len, out, sizeof out, &written), TV_OK);
  assert_string_equal(out, want);
  assert_int_equal(written, strlen(want));
  format_value_wipe(&v);
}

static void test_pan(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  /* The case: dashes first, then bare. */
  check_full(&cfg, "5105-1051-0510-5100", "5105105105105100", "5105105105105100");
  check_full(&cfg, "5105105105105100", "5105-1051-0510-5100", "5105-1051-0510-5100");
  check_full(&cfg, "5105 1051 0510 5100", "5105-1051 0510-5100", "5105-1051 0510-5100");
  check_masked(&cfg, "5105-1051-0510-5100", "5105105105105100", "510510******5100");
  check_masked(&cfg, "5105105105105100", "5105 1051 0510 5100", "5105 10** **** 5100");
}

static void test_iban(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_IBAN);
  check_full(&cfg, "DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00");
  check_full(&cfg, "DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "DE89370400440532013000");
  /* Lower case is the same value; the vault gives the canonical letters. */
  check_full(&cfg, "de89 3704 0044 0532 0130 00", "DE89370400440532013000", "DE89370400440532013000");
  check_masked(&cfg, "DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "DE89 3704 0044 **** **30 00");
}

static void test_bank_account(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_BANK_ACCOUNT);
  check_full(&cfg, "011000015:1234567890", "011000015:1234-567-890", "011000015:1234-567-890");
  check_full(&cfg, "1234 5678 90", "1234567890", "1234567890");
  check_masked(&cfg, "011000015:1234-567-890", "011000015:1234567890", "011000015:******7890");
}

static void test_us_ssn(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_US_SSN);
  check_full(&cfg, "123-45-6789", "123456789", "123456789");
  check_full(&cfg, "123456789", "123 45 6789", "123 45 6789");
  /* Masked SSNs keep the form people read them in, whatever the shape. */
  check_masked(&cfg, "123456789", "123 45 6789", "***-**-6789");
  check_masked(&cfg, "123-45-6789", "123456789", "***-**-6789");
}

static void test_tw_national_id(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_TW_NATIONAL_ID);
  check_full(&cfg, "a123456789", "A123456789", "A123456789");
  check_masked(&cfg, "A123456789", "A123456789", "A1*****789");
}

static void test_cn_resident_id(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_CN_RESIDENT_ID);
  check_full(&cfg, "11010519491231002x", "11010519491231002X", "11010519491231002X");
  check_masked(&cfg, "11010519491231002X", "11010519491231002x", "110105********002X");
}

static void test_de_tax_id(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_DE_TAX_ID);
  check_full(&cfg, "86095742719", "86 095 742 719", "86 095 742 719");
  check_full(&cfg, "86 095 742 719", "86095742719", "86095742719");
  check_masked(&cfg, "86095742719", "86 095 742 719", "** *** **2 719");
}

static void test_generic(void **state) {
  (void)state;
  tv_format cfg;
  assert_int_equal(format_config_init(&cfg, FORMAT_GENERIC, "test-ns"), TV_OK);
  strcpy(cfg.generic.separators, "/.");
  cfg.generic.keep_prefix = 2;
  cfg.generic.length_min = 10; /* 8 tokenised digits: above the domain floor */
  char why[256];
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_OK);
  check_full(&cfg, "12/3456/7890", "12.345.678.90", "12.345.678.90");
  check_full(&cfg, "1234567890", "12/3456/7890", "12/3456/7890");
  check_masked(&cfg, "1234567890", "12/3456/7890", "12/****/****");
  /* Space and dash are not this namespace's separators: they are not
   * characters it accepts either, so a shape with them is no token. */
  format_value v;
  assert_int_equal(fmt_parse(&cfg, "1234567890", &v), TV_OK);
  char out[FORMAT_TEXT_LEN_MAX + 1];
  assert_int_equal(format_reshape(&cfg, v.text, v.text_len, "12-3456-7890", 12, out, sizeof out, NULL),
                   TV_E_FORMAT_SEPARATOR);
  format_value_wipe(&v);
}

/* A shape with a different number of characters is not a token of the
 * value: refused, never padded or cut. The output buffer is checked. */
static void test_refusals(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  const char *value = "5105-1051-0510-5100";
  char out[FORMAT_TEXT_LEN_MAX + 1];
  assert_int_equal(format_reshape(&cfg, value, strlen(value), "510510999999510", 15, out, sizeof out, NULL),
                   TV_E_FORMAT_SEPARATOR);
  assert_int_equal(format_reshape(&cfg, value, strlen(value), "51051099999951000", 17, out, sizeof out, NULL),
                   TV_E_FORMAT_SEPARATOR);
  assert_int_equal(format_reshape(&cfg, value, strlen(value), "", 0, out, sizeof out, NULL),
                   TV_E_FORMAT_SEPARATOR);
  char small[16];
  assert_int_equal(format_reshape(&cfg, value, strlen(value), "5105109999995100", 16, small, sizeof small, NULL),
                   TV_E_FORMAT_TOO_LONG);
  assert_int_equal(format_reshape(&cfg, value, strlen(value), "5105-1099-9999-5100", 19, out, sizeof out, NULL),
                   TV_OK);
  assert_string_equal(out, "5105-1051-0510-5100");
  assert_int_equal(format_reshape(NULL, value, strlen(value), "5105109999995100", 16, out, sizeof out, NULL),
                   TV_E_INVALID_ARGUMENT);
  format_value v;
  assert_int_equal(fmt_parse(&cfg, value, &v), TV_OK);
  assert_int_equal(format_mask_like(&cfg, &v, "51051099999951", 14, out, sizeof out, NULL), TV_E_FORMAT_SEPARATOR);
  format_value_wipe(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pan),         cmocka_unit_test(test_iban),
      cmocka_unit_test(test_bank_account), cmocka_unit_test(test_us_ssn),
      cmocka_unit_test(test_tw_national_id), cmocka_unit_test(test_cn_resident_id),
      cmocka_unit_test(test_de_tax_id),   cmocka_unit_test(test_generic),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
