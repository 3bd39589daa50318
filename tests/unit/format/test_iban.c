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

/* The example IBAN of each supported country (SWIFT IBAN registry and the
 * national banks' published examples) and its kept prefix length in the
 * canonical form (country + check digits + bank/branch identifier). */
typedef struct sample {
  const char *iban;
  size_t kept_prefix;
} sample;

static const sample samples[] = {
    {"AD1200012030200359100100", 12},     {"AE070331234567890123456", 7},
    {"AL47212110090000000235698741", 12}, {"AT611904300234573201", 9},
    {"BE68539007547034", 7},              {"BG80BNBG96611020345678", 12},
    {"CH9300762011623852957", 9},         {"CY17002001280000001200527600", 12},
    {"CZ6508000000192000145399", 8},      {"DE89370400440532013000", 12},
    {"DK5000400440116243", 8},            {"EE382200221020145685", 6},
    {"ES9121000418450200051332", 12},     {"FI2112345600000785", 7},
    {"FR1420041010050500013M02606", 14},  {"GB29NWBK60161331926819", 14},
    {"GB82WEST12345698765432", 14},       {"GI75NWBK000000007099453", 8},
    {"GR1601101250000000012300695", 11},  {"HR1210010051863000160", 11},
    {"HU42117730161111101800000000", 11}, {"IE29AIBK93115212345678", 14},
    {"IL620108000000099999999", 10},      {"IS140159260076545510730339", 8},
    {"IT60X0542811101000000123456", 15},  {"LI21088100002324013AA", 9},
    {"LT121000011101001000", 9},          {"LU280019400644750000", 7},
    {"LV80BANK0000435195001", 8},         {"MC5811222000010123456789030", 14},
    {"MD24AG000225100013104168", 6},      {"ME25505000012345678951", 7},
    {"MK07250120000058984", 7},           {"MT84MALT011000012345MTLCAST001S", 13},
    {"NL91ABNA0417164300", 8},            {"NO9386011117947", 8},
    {"PL61109010140000071219812874", 12}, {"PT50000201231234567890154", 12},
    {"RO49AAAA1B31007593840000", 8},      {"RS35260005601001611379", 7},
    {"SA0380000000608010167519", 6},      {"SE4550000000058398257466", 7},
    {"SI56263300012039086", 9},           {"SK3112000000198742637541", 8},
    {"SM86U0322509800000000270100", 15},  {"VA59001123000012345678", 7},
};

/* Country + check digits + bank id of the sample, without an IT/SM CIN. */
static void assert_kept(const sample *s, const char *token) {
  size_t prefix = s->kept_prefix;
  int cin = strncmp(s->iban, "IT", 2) == 0 || strncmp(s->iban, "SM", 2) == 0;
  assert_memory_equal(token, s->iban, 2);
  size_t bank_from = cin ? 5 : 4;
  assert_memory_equal(token + bank_from, s->iban + bank_from, prefix - bank_from);
}

static void test_every_country_sample_parses_and_tokenises(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_IBAN);
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
    const sample *s = &samples[i];
    format_value v;
    tv_status st = fmt_parse(&cfg, s->iban, &v);
    if (st != TV_OK) {
      print_error("sample %s: %s\n", s->iban, tv_status_name(st));
    }
    assert_int_equal(st, TV_OK);
    format_value_wipe(&v);
    format_token tokens[8];
    size_t made = fmt_candidates(&cfg, key, s->iban, " ", tokens, 8);
    assert_true(made >= 6);
    for (size_t k = 0; k < made; k++) {
      assert_kept(s, tokens[k].canon);
      /* A token passes the same validation as a real IBAN: mod-97 and the
       * national check digits were recomputed. */
      format_value again;
      st = fmt_parse(&cfg, tokens[k].text, &again);
      if (st != TV_OK) {
        print_error("token %s of %s: %s\n", tokens[k].text, s->iban, tv_status_name(st));
      }
      assert_int_equal(st, TV_OK);
      format_value_wipe(&again);
    }
  }
}

static void test_printed_and_lowercase_forms(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  char out[64];
  fmt_test_cfg(&cfg, FORMAT_IBAN);
  const char *printed = "DE89 3704 0044 0532 0130 00";
  format_token tokens[4];
  assert_int_equal(fmt_candidates(&cfg, key, printed, " ", tokens, 4), 4);
  assert_memory_equal(tokens[0].text, "DE", 2);
  assert_memory_equal(tokens[0].text + 4, " 3704 0044 ", 11);
  /* Lower case is accepted and normalised: same canonical form, same
   * token, rendered in upper case. */
  assert_int_equal(fmt_parse(&cfg, "de89 3704 0044 0532 0130 00", &v), TV_OK);
  assert_int_equal(format_canonical(&v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "DE89370400440532013000");
  format_token t;
  assert_int_equal(format_candidate(&cfg, key, &v, 0, &t), TV_OK);
  assert_string_equal(t.text, tokens[0].text);
  format_value_wipe(&v);
  assert_int_equal(fmt_parse(&cfg, "fr14 2004 1010 0505 0001 3m02 606", &v), TV_OK);
  assert_string_equal(v.canon, "FR1420041010050500013M02606");
  format_value_wipe(&v);
}

static void test_mask(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  char out[64];
  fmt_test_cfg(&cfg, FORMAT_IBAN);
  assert_int_equal(fmt_parse(&cfg, "DE89 3704 0044 0532 0130 00", &v), TV_OK);
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "DE89 3704 0044 **** **30 00");
  format_value_wipe(&v);
  assert_int_equal(fmt_parse(&cfg, "GB82WEST12345698765432", &v), TV_OK);
  assert_int_equal(format_mask(&cfg, &v, out, sizeof out, NULL), TV_OK);
  assert_string_equal(out, "GB82WEST123456****5432");
  format_value_wipe(&v);
}

static void test_invalid_check_policy(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_IBAN);
  cfg.iban.check = FORMAT_IBAN_CHECK_INVALID;
  format_token tokens[8];
  size_t made = fmt_candidates(&cfg, key, "NL91ABNA0417164300", " ", tokens, 8);
  assert_int_equal(made, 8);
  for (size_t i = 0; i < made; i++) {
    format_value v;
    assert_int_equal(fmt_parse(&cfg, tokens[i].text, &v), TV_E_FORMAT_IBAN_CHECK);
    /* Only the check digits are off: fixing them makes it valid. */
    char rotated[32];
    memcpy(rotated, tokens[i].canon + 4, 14);
    memcpy(rotated + 14, "NL", 2);
    int check = iso7064_mod97_10_check(rotated, 16);
    assert_int_not_equal(check, (tokens[i].canon[2] - '0') * 10 + (tokens[i].canon[3] - '0'));
  }
}

static void test_rejects_bad_input(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_IBAN);
  assert_int_equal(fmt_parse(&cfg, "DE88370400440532013000", &v), TV_E_FORMAT_IBAN_CHECK);
  assert_int_equal(fmt_parse(&cfg, "DE89370400440532013001", &v), TV_E_FORMAT_IBAN_CHECK);
  assert_int_equal(fmt_parse(&cfg, "XX89370400440532013000", &v), TV_E_FORMAT_COUNTRY);
  assert_int_equal(fmt_parse(&cfg, "US89370400440532013000", &v), TV_E_FORMAT_COUNTRY);
  assert_int_equal(fmt_parse(&cfg, "1289370400440532013000", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "DE8937040044053201300", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "DE893704004405320130000", &v), TV_E_FORMAT_LENGTH);
  assert_int_equal(fmt_parse(&cfg, "DE89370400440532O13000", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "DEX9370400440532013000", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "DE89-3704-0044-0532-0130-00", &v), TV_E_FORMAT_CHAR);
  assert_int_equal(fmt_parse(&cfg, "DE89  3704 0044 0532 0130 00", &v), TV_E_FORMAT_SEPARATOR);
  assert_int_equal(fmt_parse(&cfg, "", &v), TV_E_FORMAT_EMPTY);
  assert_int_equal(fmt_parse(&cfg, "D", &v), TV_E_FORMAT_CHAR);
  char longer[200];
  memset(longer, 'A', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  assert_int_equal(fmt_parse(&cfg, longer, &v), TV_E_FORMAT_TOO_LONG);
}

/* Re-does the IBAN check digits of |iban| (22..34 chars) in place. */
static void fix_iban_check(char *iban) {
  size_t n = strlen(iban);
  char rotated[40];
  memcpy(rotated, iban + 4, n - 4);
  memcpy(rotated + n - 4, iban, 2);
  int check = iso7064_mod97_10_check(rotated, n - 2);
  iban[2] = (char)('0' + check / 10);
  iban[3] = (char)('0' + check % 10);
}

static void test_national_check_digits_validated(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_IBAN);
  /* Each has a wrong national check but correct IBAN check digits. */
  char be[] = "BE00539007547035";
  char fr[] = "FR0020041010050500013M02607";
  char es[] = "ES0021000418460200051332";
  char it[] = "IT00Y0542811101000000123456";
  char no[] = "NO0086011117948";
  char pt[] = "PT00000201231234567890155";
  char *bad[] = {be, fr, es, it, no, pt};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fix_iban_check(bad[i]);
    assert_int_equal(fmt_parse(&cfg, bad[i], &v), TV_E_FORMAT_CHECKSUM);
  }
  /* A DE account has no national check we know of: same edit passes. */
  char de[] = "DE00370400440532013001";
  fix_iban_check(de);
  assert_int_equal(fmt_parse(&cfg, de, &v), TV_OK);
  format_value_wipe(&v);
}

static void test_alnum_account_uses_letters(void **state) {
  (void)state;
  tv_format cfg;
  fmt_test_cfg(&cfg, FORMAT_IBAN);
  /* An account part with letters is tokenised over A-Z0-9, one that is all
   * digits stays digits. */
  format_value v;
  assert_int_equal(fmt_parse(&cfg, "MT84MALT011000012345MTLCAST001S", &v), TV_OK);
  assert_int_equal(v.radix, 36);
  format_value_wipe(&v);
  assert_int_equal(fmt_parse(&cfg, "CH9300762011623852957", &v), TV_OK);
  assert_int_equal(v.radix, 10);
  format_value_wipe(&v);
  format_token tokens[16];
  size_t made = fmt_candidates(&cfg, key, "CH9300762011623852957", " ", tokens, 16);
  for (size_t i = 0; i < made; i++) {
    for (size_t k = 4; k < 21; k++) {
      assert_true(tokens[i].canon[k] >= '0' && tokens[i].canon[k] <= '9');
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_country_sample_parses_and_tokenises),
      cmocka_unit_test(test_printed_and_lowercase_forms),
      cmocka_unit_test(test_mask),
      cmocka_unit_test(test_invalid_check_policy),
      cmocka_unit_test(test_rejects_bad_input),
      cmocka_unit_test(test_national_check_digits_validated),
      cmocka_unit_test(test_alnum_account_uses_letters),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
