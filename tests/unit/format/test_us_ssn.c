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

static void test_tokens_are_valid_ssns(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_US_SSN);
  const char *inputs[] = {"123-45-6789", "078-05-1120", "899999999", "001-01-0001", "665 99 9999"};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    format_token tokens[32];
    size_t made = fmt_candidates(&cfg, key, inputs[i], "- ", tokens, 32);
    assert_int_equal(made, 32);
    for (size_t k = 0; k < made; k++) {
      format_value again;
      /* Every token obeys the SSA rules: it parses like a real SSN. */
      assert_int_equal(fmt_parse(&cfg, tokens[k].text, &again), TV_OK);
      format_value_wipe(&again);
    }
  }
}

static void test_rejects_bad_input(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_US_SSN);
  assert_int_equal(fmt_parse(&cfg, "000-12-3456", &v), TV_E_FORMAT_SSN_AREA);
  assert_int_equal(fmt_parse(&cfg, "666-12-3456", &v), TV_E_FORMAT_SSN_AREA);
  assert_int_equal(fmt_parse(&cfg, "900-12-3456", &v), TV_E_FORMAT_SSN_AREA);
  assert_int_equal(fmt_parse(&cfg, "999-12-3456", &v), TV_E_FORMAT_SSN_AREA);
  assert_int_equal(fmt_parse(&cfg, "123-00-4567", &v), TV_E_FORMAT_SSN_GROUP);
  assert_int_equal(fmt_parse(&cfg, "123-45-0000", &v), TV_E_FORMAT_SSN_SERIAL);
  assert_int_equal(fmt_parse(&cfg, "123-456-789", &v), TV_E_FORMAT_SEPARATOR);
  assert_int_equal(fmt_parse(&cfg, "12-345-6789", &v), TV_E_FORMAT_SEPARATOR);
  assert_int_equal(fmt_parse(&cfg, "123-456789", &v), TV_E_FORMAT_SEPARATOR);
  assert_int_equal(fmt_parse(&cfg, "12345678", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "1234567890", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "123-45-678O", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "", &v), TV_E_FORMAT_EMPTY);
}

static void test_keep_last_four_refused(void **state) {
  (void)state;
  tv_format cfg;
  char why[256];
  fmt_test_cfg(&cfg, FORMAT_US_SSN);
  cfg.ssn.keep_last = 4;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_DOMAIN_TOO_SMALL);
  assert_non_null(strstr(why, "5 tokenised digits = 100000 values"));
  assert_non_null(strstr(why, "masked reveal"));
  cfg.ssn.keep_last = 3;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_OK);
  format_token tokens[8];
  size_t made = fmt_candidates(&cfg, key, "123-45-6789", "-", tokens, 8);
  assert_int_equal(made, 8);
  for (size_t k = 0; k < made; k++) {
    assert_memory_equal(tokens[k].text + 8, "789", 3);
  }
  cfg.ssn.keep_last = 10;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_CONFIG);
}

static void test_mask(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  char out[16];
  fmt_test_cfg(&cfg, FORMAT_US_SSN);
  assert_int_equal(fmt_parse(&cfg, "123-45-6789", &v), TV_OK);
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "***-**-6789");
  format_value_wipe(&v);
  assert_int_equal(fmt_parse(&cfg, "078051120", &v), TV_OK);
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "***-**-1120");
  assert_int_equal(format_canonical(&v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "078051120");
  format_value_wipe(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tokens_are_valid_ssns),
      cmocka_unit_test(test_rejects_bad_input),
      cmocka_unit_test(test_keep_last_four_refused),
      cmocka_unit_test(test_mask),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
