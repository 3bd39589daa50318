#include "format_test_util.h"
#include "vault/format/iso7064.h"
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

static void generic_cfg(tv_format *cfg, const char *alphabet, unsigned min, unsigned max,
                        unsigned prefix, unsigned suffix, tv_checksum checksum,
                        const char *separators) {
  char why[256];
  assert_int_equal(format_config_init(cfg, FORMAT_GENERIC, "generic-ns"), TV_OK);
  assert_int_equal(alphabet_init(&cfg->generic.alphabet, alphabet, strlen(alphabet)), TV_OK);
  cfg->generic.length_min = min;
  cfg->generic.length_max = max;
  cfg->generic.keep_prefix = prefix;
  cfg->generic.keep_suffix = suffix;
  cfg->generic.checksum = checksum;
  strcpy(cfg->generic.separators, separators);
  tv_status s = format_config_validate(cfg, why, sizeof why);
  if (s != TV_OK) {
    print_error("%s\n", why);
  }
  assert_int_equal(s, TV_OK);
}

static void test_customer_number_with_luhn(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  generic_cfg(&cfg, "0123456789", 11, 13, 2, 2, FORMAT_CHECKSUM_LUHN, "-");
  format_token tokens[10];
  size_t made = fmt_candidates(&cfg, key, "79-9273-9871-3", "-", tokens, 10);
  assert_int_equal(made, 10);
  for (size_t i = 0; i < made; i++) {
    assert_true(luhn_valid(tokens[i].canon, tokens[i].canon_len));
    assert_memory_equal(tokens[i].canon, "79", 2);
    assert_memory_equal(tokens[i].canon + 8, "71", 2);
  }
  char out[32];
  assert_int_equal(fmt_parse(&cfg, "79-9273-9871-3", &v), TV_OK);
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "79-****-**71-*");
  format_value_wipe(&v);
  assert_int_equal(fmt_parse(&cfg, "79-9273-9871-4", &v), TV_E_FORMAT_CHECKSUM);
  assert_int_equal(fmt_parse(&cfg, "7992739871", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "7992739A713", &v), TV_E_FORMAT_CHAR);
}

static void test_phone_number_separators_anywhere(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  char out[64];
  generic_cfg(&cfg, "0123456789", 9, 15, 2, 0, FORMAT_CHECKSUM_NONE, "+ ()-");
  format_token tokens[10];
  assert_int_equal(fmt_candidates(&cfg, key, "+49 (30) 1234-5678", "+ ()-", tokens, 10), 10);
  for (size_t i = 0; i < 10; i++) {
    assert_memory_equal(tokens[i].text, "+49 (", 5);
  }
  assert_int_equal(fmt_parse(&cfg, "+49 (30) 1234-5678", &v), TV_OK);
  assert_int_equal(format_canonical(&v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "493012345678");
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "+49 (**) ****-****");
  format_value_wipe(&v);
}

static void test_email_local_part(void **state) {
  (void)state;
  tv_format cfg;
  generic_cfg(&cfg, "abcdefghijklmnopqrstuvwxyz0123456789", 5, 64, 1, 0, FORMAT_CHECKSUM_NONE,
              "._");
  format_token tokens[10];
  size_t made = fmt_candidates(&cfg, key, "jane.doe_1984", "._", tokens, 10);
  assert_int_equal(made, 10);
  for (size_t i = 0; i < made; i++) {
    assert_int_equal(tokens[i].text[0], 'j');
    assert_int_equal(tokens[i].text[4], '.');
    assert_int_equal(tokens[i].text[8], '_');
  }
  format_value v;
  assert_int_equal(fmt_parse(&cfg, "Jane.doe", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "ab", &v), TV_E_FORMAT_LENGTH);
}

static void test_mod97_and_mod11_2(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  generic_cfg(&cfg, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 8, 20, 0, 0,
              FORMAT_CHECKSUM_MOD97_10, "");
  char value[16] = "CUST4711";
  int check = iso7064_mod97_10_check(value, 8);
  value[8] = (char)('0' + check / 10);
  value[9] = (char)('0' + check % 10);
  value[10] = '\0';
  format_token tokens[8];
  assert_int_equal(fmt_candidates(&cfg, key, value, "", tokens, 8), 8);
  for (size_t i = 0; i < 8; i++) {
    assert_int_equal(iso7064_mod97_remainder(tokens[i].canon, 10), 1);
  }
  value[9] = value[9] == '9' ? '0' : (char)(value[9] + 1);
  assert_int_equal(fmt_parse(&cfg, value, &v), TV_E_FORMAT_CHECKSUM);

  generic_cfg(&cfg, "0123456789", 8, 20, 0, 0, FORMAT_CHECKSUM_MOD11_2, "");
  /* 079 -> X extended: any 8+ digits with the right MOD 11-2 check. */
  assert_int_equal(fmt_candidates(&cfg, key, "1101051949123100" "2X", "", tokens, 8), 8);
  for (size_t i = 0; i < 8; i++) {
    assert_int_equal(iso7064_mod11_2_check(tokens[i].canon, 17), tokens[i].canon[17]);
  }
  assert_int_equal(fmt_parse(&cfg, "110105194912310021", &v), TV_E_FORMAT_CHECKSUM);
}

static void test_config_refusals(void **state) {
  (void)state;
  tv_format cfg;
  char why[256];
  generic_cfg(&cfg, "0123456789", 10, 12, 2, 2, FORMAT_CHECKSUM_NONE, "");
  cfg.generic.length_min = 8;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_DOMAIN_TOO_SMALL);
  assert_non_null(strstr(why, "4 tokenised characters of a 10-character alphabet = 10000"));
  /* Same length but 36 characters: 36^4 = 1,679,616 is enough. */
  assert_int_equal(alphabet_init(&cfg.generic.alphabet, "0123456789abcdefghijklmnopqrstuvwxyz",
                                 36), TV_OK);
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_OK);
  strcpy(cfg.generic.separators, "a");
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_CONFIG);
  assert_non_null(strstr(why, "'a'"));
  strcpy(cfg.generic.separators, "");
  cfg.generic.checksum = FORMAT_CHECKSUM_LUHN;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_CONFIG);
  cfg.generic.checksum = FORMAT_CHECKSUM_NONE;
  cfg.generic.length_max = 65;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_CONFIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_customer_number_with_luhn),
      cmocka_unit_test(test_phone_number_separators_anywhere),
      cmocka_unit_test(test_email_local_part),
      cmocka_unit_test(test_mod97_and_mod11_2),
      cmocka_unit_test(test_config_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
