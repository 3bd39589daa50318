#include "format_test_util.h"
#include "vault/format/luhn.h"

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

/* Brands' published test numbers of 16 digits and more. */
static const char *const long_pans[] = {
    "4111111111111111", "4012888888881881", "5555555555554444",   "5105105105105100",
    "2221000000000009", "6011111111111117", "3530111333300000",   "6011000990139424",
    "4111 1111 1111 1111", "5555-5555-5555-4444", "6011 0009 9013 9424",
};

static void digits_only(const char *s, char *out) {
  size_t n = 0;
  for (; *s != '\0'; s++) {
    if (*s >= '0' && *s <= '9') {
      out[n++] = *s;
    }
  }
  out[n] = '\0';
}

static void check_tokens(const tv_format *cfg, const char *pan) {
  format_token tokens[24];
  size_t made = fmt_candidates(cfg, key, pan, " -", tokens, 24);
  assert_true(made >= 12);
  char in_digits[32];
  digits_only(pan, in_digits);
  size_t n = strlen(in_digits);
  for (size_t i = 0; i < made; i++) {
    const char *t = tokens[i].canon;
    assert_memory_equal(t, in_digits, cfg->pan.keep_first);
    assert_memory_equal(t + n - cfg->pan.keep_last, in_digits + n - cfg->pan.keep_last,
                        cfg->pan.keep_last);
    for (size_t k = 0; k < n; k++) {
      assert_true(t[k] >= '0' && t[k] <= '9');
    }
    if (cfg->pan.luhn == FORMAT_LUHN_INVALID) {
      assert_false(luhn_valid(t, n));
    } else if (cfg->pan.luhn == FORMAT_LUHN_VALID) {
      assert_true(luhn_valid(t, n));
    }
  }
}

static void test_published_pans_default_policy(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  for (size_t i = 0; i < sizeof long_pans / sizeof long_pans[0]; i++) {
    check_tokens(&cfg, long_pans[i]);
  }
}

static void test_luhn_valid_and_any_policies(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  cfg.pan.luhn = FORMAT_LUHN_VALID;
  check_tokens(&cfg, "4111111111111111");
  check_tokens(&cfg, "5105 1051 0510 5100");
  cfg.pan.luhn = FORMAT_LUHN_ANY;
  check_tokens(&cfg, "4012888888881881");
  /* Under "any" both states occur over many attempts. */
  format_value v;
  assert_int_equal(fmt_parse(&cfg, "4012888888881881", &v), TV_OK);
  int seen_valid = 0;
  int seen_invalid = 0;
  for (uint32_t a = 0; a < 200; a++) {
    format_token t;
    if (format_candidate(&cfg, key, &v, a, &t) == TV_OK) {
      if (luhn_valid(t.canon, t.canon_len)) {
        seen_valid = 1;
      } else {
        seen_invalid = 1;
      }
    }
  }
  assert_true(seen_valid && seen_invalid);
  format_value_wipe(&v);
}

static void test_keep_eight(void **state) {
  (void)state;
  tv_format cfg;
  char why[256];
  fmt_test_cfg(&cfg, FORMAT_PAN);
  cfg.pan.keep_first = 8;
  /* 8 + 4 leaves 4 digits at 16: refused, naming 16 and 18. */
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_DOMAIN_TOO_SMALL);
  assert_non_null(strstr(why, "length 16"));
  assert_non_null(strstr(why, "10000 values"));
  assert_non_null(strstr(why, ">= 18"));
  cfg.pan.length_min = 18;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_OK);
  check_tokens(&cfg, "6011000000000000001");
}

static void test_short_brands_need_a_fitting_config(void **state) {
  (void)state;
  tv_format cfg;
  char why[256];
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  /* Default (16..19) refuses Amex, Diners and 13-digit Visa by length. */
  assert_int_equal(fmt_parse(&cfg, "378282246310005", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "30569309025904", &v), TV_E_FORMAT_LENGTH);
  /* Accepting 15 with 6 + 4 kept leaves 10^5: the config is refused. */
  cfg.pan.length_min = 15;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_DOMAIN_TOO_SMALL);
  assert_non_null(strstr(why, "length 15"));
  assert_non_null(strstr(why, "100000 values"));
  assert_non_null(strstr(why, "at most 9 digits"));
  /* Keeping 4 + 4 works from 14 digits; 3 + 4 from 13. */
  cfg.pan.length_min = 13;
  cfg.pan.keep_first = 3;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_OK);
  check_tokens(&cfg, "378282246310005");
  check_tokens(&cfg, "3056 930902 5904");
  check_tokens(&cfg, "4222222222222");
}

static void test_rejects_bad_input(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  assert_int_equal(fmt_parse(&cfg, "4111111111111112", &v), TV_E_FORMAT_LUHN);
  assert_int_equal(fmt_parse(&cfg, "4111111111111121", &v), TV_E_FORMAT_LUHN);
  assert_int_equal(fmt_parse(&cfg, "41111111111111a1", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "4111.1111.1111.1111", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "411111111111111", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "41111111111111111111", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "", &v), TV_E_FORMAT_EMPTY);
  assert_int_equal(fmt_parse(&cfg, " 4111111111111111", &v), TV_E_FORMAT_SEPARATOR);
  assert_int_equal(fmt_parse(&cfg, "4111111111111111-", &v), TV_E_FORMAT_SEPARATOR);
  assert_int_equal(fmt_parse(&cfg, "4111  1111 1111 1111", &v), TV_E_FORMAT_SEPARATOR);
  assert_int_equal(format_parse(&cfg, "4111\0" "111111111111", 16, &v), TV_E_FORMAT_CHAR);
  char longer[300];
  memset(longer, '4', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  assert_int_equal(fmt_parse(&cfg, longer, &v), TV_E_FORMAT_TOO_LONG);
  /* A failed parse leaves nothing of the value behind. */
  const format_value zero = {0};
  assert_memory_equal(&v, &zero, sizeof v);
}

static void test_config_errors(void **state) {
  (void)state;
  tv_format cfg;
  char why[256];
  fmt_test_cfg(&cfg, FORMAT_PAN);
  cfg.pan.keep_first = 9;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_CONFIG);
  assert_non_null(strstr(why, "keep_first 9"));
  fmt_test_cfg(&cfg, FORMAT_PAN);
  cfg.pan.length_max = 20;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_CONFIG);
  fmt_test_cfg(&cfg, FORMAT_PAN);
  cfg.pan.luhn = (tv_luhn_policy)7;
  assert_int_equal(format_config_validate(&cfg, NULL, 0), TV_E_FORMAT_CONFIG);
}

static void test_mask_and_canonical(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  char out[64];
  size_t n = 0;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  assert_int_equal(fmt_parse(&cfg, "4111 1111 1111 1111", &v), TV_OK);
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, &n), TV_OK);
  assert_string_equal(out, "4111 11** **** 1111");
  assert_int_equal(n, 19);
  assert_int_equal(format_canonical(&v, out, sizeof out, &n), TV_OK);
  assert_string_equal(out, "4111111111111111");
  assert_int_equal(format_mask(&cfg, &v, out, 19, NULL), TV_E_FORMAT_TOO_LONG);
  format_value_wipe(&v);
  assert_int_equal(fmt_parse(&cfg, "6011000000000000001", &v), TV_OK);
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "601100*********0001");
  format_value_wipe(&v);
}

static void test_tweak_binds_kept_digits_and_namespace(void **state) {
  (void)state;
  tv_format cfg;
  format_value a;
  format_value b;
  format_token ta;
  format_token tb;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  cfg.pan.luhn = FORMAT_LUHN_ANY;
  /* Same middle digits, different BIN: unrelated middles. */
  assert_int_equal(fmt_parse(&cfg, "4111111111111111", &a), TV_OK);
  assert_int_equal(fmt_parse(&cfg, "5111111111111118", &b), TV_OK);
  assert_int_equal(format_candidate(&cfg, key, &a, 0, &ta), TV_OK);
  assert_int_equal(format_candidate(&cfg, key, &b, 0, &tb), TV_OK);
  assert_memory_not_equal(ta.canon + 6, tb.canon + 6, 6);
  /* Another namespace, another token. */
  tv_format other = cfg;
  strcpy(other.namespace_name, "other-ns");
  format_value in_other;
  assert_int_equal(fmt_parse(&other, "4111111111111111", &in_other), TV_OK);
  assert_int_equal(format_candidate(&other, key, &in_other, 0, &tb), TV_OK);
  assert_string_not_equal(ta.canon, tb.canon);
  format_value_wipe(&in_other);
  /* Separators do not change the token's digits. */
  format_value spaced;
  assert_int_equal(fmt_parse(&cfg, "4111 1111 1111 1111", &spaced), TV_OK);
  assert_int_equal(format_candidate(&cfg, key, &spaced, 0, &tb), TV_OK);
  assert_string_equal(ta.canon, tb.canon);
  assert_int_equal(tb.text[4], ' ');
  format_value_wipe(&a);
  format_value_wipe(&b);
  format_value_wipe(&spaced);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_published_pans_default_policy),
      cmocka_unit_test(test_luhn_valid_and_any_policies),
      cmocka_unit_test(test_keep_eight),
      cmocka_unit_test(test_short_brands_need_a_fitting_config),
      cmocka_unit_test(test_rejects_bad_input),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_mask_and_canonical),
      cmocka_unit_test(test_tweak_binds_kept_digits_and_namespace),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
