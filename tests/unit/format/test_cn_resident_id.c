#include <stdio.h>

#include "format_test_util.h"
#include "vault/format/iso7064.h"

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

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Independent date check: YYYYMMDD is a real day of 1900..2099. */
static void assert_valid_date(const char *d) {
  int y = 0;
  int m = 0;
  int day = 0;
  assert_int_equal(sscanf(d, "%4d%2d%2d", &y, &m, &day), 3);
  static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  assert_true(y >= 1900 && y <= 2099);
  assert_true(m >= 1 && m <= 12);
  assert_true(day >= 1 && day <= len[m - 1] + (m == 2 && leap(y)));
}

static void test_samples_tokenise_to_valid_ids(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_CN_RESIDENT_ID);
  /* 11010519491231002X is the GB 11643 sample; the others are built with
   * correct check characters (leap day 2000-02-29, 1900-01-01). */
  const char *inputs[] = {"11010519491231002X", "440308199901010012", "310104200002291236",
                          "650102190001010016"};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    format_token tokens[16];
    size_t made = fmt_candidates(&cfg, key, inputs[i], "", tokens, 16);
    assert_int_equal(made, 16);
    for (size_t k = 0; k < made; k++) {
      const char *t = tokens[k].canon;
      assert_memory_equal(t, inputs[i], 6);
      assert_valid_date(t + 6);
      assert_int_equal(iso7064_mod11_2_check(t, 17), t[17]);
      format_value again;
      assert_int_equal(fmt_parse(&cfg, t, &again), TV_OK);
      format_value_wipe(&again);
    }
  }
}

static void test_rejects_bad_input(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_CN_RESIDENT_ID);
  assert_int_equal(fmt_parse(&cfg, "110105194912310021", &v), TV_E_FORMAT_CHECKSUM);
  assert_int_equal(fmt_parse(&cfg, "11010519491331002X", &v), TV_E_FORMAT_CN_ID_DATE);
  assert_int_equal(fmt_parse(&cfg, "11010519490230002X", &v), TV_E_FORMAT_CN_ID_DATE);
  assert_int_equal(fmt_parse(&cfg, "11010519000229002X", &v), TV_E_FORMAT_CN_ID_DATE);
  assert_int_equal(fmt_parse(&cfg, "11010518991231002X", &v), TV_E_FORMAT_CN_ID_DATE);
  assert_int_equal(fmt_parse(&cfg, "11010519490000002X", &v), TV_E_FORMAT_CN_ID_DATE);
  assert_int_equal(fmt_parse(&cfg, "99010519491231002X", &v), TV_E_FORMAT_CN_ID_REGION);
  assert_int_equal(fmt_parse(&cfg, "00010519491231002X", &v), TV_E_FORMAT_CN_ID_REGION);
  assert_int_equal(fmt_parse(&cfg, "11010519491231002", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "11010519491231002XX", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "1101051949123100X2", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "11010519491231002Y", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "", &v), TV_E_FORMAT_EMPTY);
}

static void test_lowercase_x_and_mask(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  char out[32];
  fmt_test_cfg(&cfg, FORMAT_CN_RESIDENT_ID);
  assert_int_equal(fmt_parse(&cfg, "11010519491231002x", &v), TV_OK);
  assert_int_equal(format_canonical(&v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "11010519491231002X");
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "110105********002X");
  format_value_wipe(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_samples_tokenise_to_valid_ids),
      cmocka_unit_test(test_rejects_bad_input),
      cmocka_unit_test(test_lowercase_x_and_mask),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
