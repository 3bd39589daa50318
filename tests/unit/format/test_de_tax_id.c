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

/* Independent statement of the IdNr digit rules over the first 10. */
static void assert_rules(const char *t) {
  assert_int_not_equal(t[0], '0');
  int counts[10] = {0};
  for (int i = 0; i < 10; i++) {
    counts[t[i] - '0']++;
  }
  int multi = 0;
  for (int d = 0; d < 10; d++) {
    assert_true(counts[d] <= 3);
    multi += counts[d] >= 2;
  }
  assert_int_equal(multi, 1);
  for (int i = 0; i + 2 < 10; i++) {
    assert_false(t[i] == t[i + 1] && t[i + 1] == t[i + 2]);
  }
  assert_int_equal(iso7064_mod11_10_check(t, 10), t[10]);
}

static void test_samples_tokenise_to_valid_ids(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_DE_TAX_ID);
  /* Published examples, with a doubled digit (86095742719, 47036892816)
   * and a tripled one (65929970489, 57549285017, 25768131411). */
  const char *inputs[] = {"86095742719", "47036892816", "65929970489", "57549285017",
                          "25768131411", "86 095 742 719"};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    format_token tokens[16];
    size_t made = fmt_candidates(&cfg, key, inputs[i], " ", tokens, 16);
    assert_int_equal(made, 16);
    for (size_t k = 0; k < made; k++) {
      assert_rules(tokens[k].canon);
    }
  }
}

static void test_rejects_bad_input(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_DE_TAX_ID);
  assert_int_equal(fmt_parse(&cfg, "86095742718", &v), TV_E_FORMAT_CHECKSUM);
  assert_int_equal(fmt_parse(&cfg, "06095742719", &v), TV_E_FORMAT_DE_TAX_ID);
  /* All ten digits distinct: no repeated digit at all. */
  assert_int_equal(fmt_parse(&cfg, "12345678903", &v), TV_E_FORMAT_DE_TAX_ID);
  /* Two different digits repeated. */
  assert_int_equal(fmt_parse(&cfg, "11223456789", &v), TV_E_FORMAT_DE_TAX_ID);
  /* A digit four times. */
  assert_int_equal(fmt_parse(&cfg, "11213141567", &v), TV_E_FORMAT_DE_TAX_ID);
  /* Three in a row. */
  assert_int_equal(fmt_parse(&cfg, "11123456789", &v), TV_E_FORMAT_DE_TAX_ID);
  assert_int_equal(fmt_parse(&cfg, "8609574271", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "860957427190", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "8609574271A", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "86-095-742-719", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "", &v), TV_E_FORMAT_EMPTY);
}

static void test_mask(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  char out[32];
  fmt_test_cfg(&cfg, FORMAT_DE_TAX_ID);
  assert_int_equal(fmt_parse(&cfg, "86 095 742 719", &v), TV_OK);
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "** *** **2 719");
  assert_int_equal(format_canonical(&v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "86095742719");
  format_value_wipe(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_samples_tokenise_to_valid_ids),
      cmocka_unit_test(test_rejects_bad_input),
      cmocka_unit_test(test_mask),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
