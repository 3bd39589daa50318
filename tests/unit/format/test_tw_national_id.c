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

static void test_samples_tokenise_to_valid_ids(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_TW_NATIONAL_ID);
  /* A123456789 is the customary sample; F131104093 and the resident
   * certificate A800000014 are checksum-correct too. */
  const char *inputs[] = {"A123456789", "F131104093", "A800000014", "Z299999992"};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    format_value v;
    assert_int_equal(fmt_parse(&cfg, inputs[i], &v), TV_OK);
    format_value_wipe(&v);
    format_token tokens[16];
    size_t made = fmt_candidates(&cfg, key, inputs[i], "", tokens, 16);
    assert_int_equal(made, 16);
    for (size_t k = 0; k < made; k++) {
      assert_memory_equal(tokens[k].text, inputs[i], 2);
      format_value again;
      assert_int_equal(fmt_parse(&cfg, tokens[k].text, &again), TV_OK);
      format_value_wipe(&again);
    }
  }
}

static void test_rejects_bad_input(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_TW_NATIONAL_ID);
  assert_int_equal(fmt_parse(&cfg, "A123456788", &v), TV_E_FORMAT_CHECKSUM);
  assert_int_equal(fmt_parse(&cfg, "B123456789", &v), TV_E_FORMAT_CHECKSUM);
  assert_int_equal(fmt_parse(&cfg, "A323456789", &v), TV_E_FORMAT_TW_ID);
  assert_int_equal(fmt_parse(&cfg, "1123456789", &v), TV_E_FORMAT_TW_ID);
  assert_int_equal(fmt_parse(&cfg, "AB23456789", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "A12345678", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "A1234567890", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "A 23456789", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "", &v), TV_E_FORMAT_EMPTY);
  cfg.tw.resident_allowed = 0;
  assert_int_equal(fmt_parse(&cfg, "A800000014", &v), TV_E_FORMAT_TW_ID);
}

static void test_lowercase_and_mask(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  char out[16];
  fmt_test_cfg(&cfg, FORMAT_TW_NATIONAL_ID);
  assert_int_equal(fmt_parse(&cfg, "a123456789", &v), TV_OK);
  assert_int_equal(format_canonical(&v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "A123456789");
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "A1*****789");
  format_value_wipe(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_samples_tokenise_to_valid_ids),
      cmocka_unit_test(test_rejects_bad_input),
      cmocka_unit_test(test_lowercase_and_mask),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
