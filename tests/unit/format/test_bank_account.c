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

static void test_accounts_keep_last_four(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_BANK_ACCOUNT);
  const char *inputs[] = {"0532013000", "1234-5678-9012", "12345678901234567", "0000000001"};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    format_token tokens[10];
    size_t made = fmt_candidates(&cfg, key, inputs[i], " -", tokens, 10);
    assert_int_equal(made, 10);
    size_t n = strlen(inputs[i]);
    for (size_t k = 0; k < made; k++) {
      assert_memory_equal(tokens[k].text + n - 4, inputs[i] + n - 4, 4);
    }
  }
}

static void test_routing_number_kept(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  char out[64];
  fmt_test_cfg(&cfg, FORMAT_BANK_ACCOUNT);
  /* 021000021 (JPMorgan Chase, NY) and 011000015 (Federal Reserve Bank of
   * Boston) pass the 3-7-1 checksum. */
  format_token tokens[6];
  assert_int_equal(fmt_candidates(&cfg, key, "021000021:123456789012", " -", tokens, 6), 6);
  for (size_t k = 0; k < 6; k++) {
    assert_memory_equal(tokens[k].text, "021000021:", 10);
    assert_memory_equal(tokens[k].text + 18, "9012", 4);
  }
  assert_int_equal(fmt_parse(&cfg, "011000015:0012345678", &v), TV_OK);
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "011000015:******5678");
  assert_int_equal(format_canonical(&v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "011000015:0012345678");
  format_value_wipe(&v);
}

static void test_rejects_bad_input(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_BANK_ACCOUNT);
  assert_int_equal(fmt_parse(&cfg, "021000022:123456789012", &v), TV_E_FORMAT_ROUTING);
  assert_int_equal(fmt_parse(&cfg, "000000000:123456789012", &v), TV_E_FORMAT_ROUTING);
  /* 990000000 passes 3-7-1 but 99 is no Federal Reserve prefix. */
  assert_int_equal(fmt_parse(&cfg, "990000000:123456789012", &v), TV_E_FORMAT_ROUTING);
  assert_int_equal(fmt_parse(&cfg, "02100002:123456789012", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "02100002A:123456789012", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "021000021:1234:56789012", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "123456789", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "123456789012345678", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "12345x7890", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "", &v), TV_E_FORMAT_EMPTY);
  assert_int_equal(fmt_parse(&cfg, "-1234567890", &v), TV_E_FORMAT_SEPARATOR);
  cfg.bank.routing_allowed = 0;
  assert_int_equal(fmt_parse(&cfg, "021000021:123456789012", &v), TV_E_FORMAT_CHAR);
}

static void test_config_domain_floor(void **state) {
  (void)state;
  tv_format cfg;
  char why[256];
  fmt_test_cfg(&cfg, FORMAT_BANK_ACCOUNT);
  cfg.bank.length_min = 6;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_DOMAIN_TOO_SMALL);
  assert_non_null(strstr(why, "leaves 2 tokenised digits = 100 values"));
  assert_non_null(strstr(why, "raise length_min to 10"));
  cfg.bank.keep_last = 0;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_OK);
  cfg.bank.length_max = 60;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_CONFIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accounts_keep_last_four),
      cmocka_unit_test(test_routing_number_kept),
      cmocka_unit_test(test_rejects_bad_input),
      cmocka_unit_test(test_config_domain_floor),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
