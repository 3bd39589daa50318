/* US Social Security numbers, AAA-GG-SSSS. By default all 9 digits are
 * tokenised and the token is cycle-walked until it is a valid-looking SSN
 * (keeping the last 4 would leave 10^5 values, under the domain floor; the
 * MASKED reveal shows the real last 4 anyway). */
#include <assert.h>
#include <string.h>

#include "vault/format/format_internal.h"

#define SSN_DIGITS 9u
#define SSN_TOKEN_DIGITS_MIN 6u

static tv_status ssn_validate(const tv_format *cfg, char *why, size_t why_len) {
  unsigned keep = cfg->ssn.keep_last;
  if (keep > SSN_DIGITS) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "ssn keep_last %u exceeds 9 digits", keep);
  }
  if (SSN_DIGITS - keep < SSN_TOKEN_DIGITS_MIN) {
    unsigned long long values = 1;
    for (unsigned i = 0; i < SSN_DIGITS - keep; i++) {
      values *= 10;
    }
    return format_why(TV_E_FORMAT_DOMAIN_TOO_SMALL, why, why_len,
                      "ssn keep_last %u leaves %u tokenised digits = %llu values, fewer than "
                      "1000000; use keep_last 0 (the default: all 9 digits tokenised, the "
                      "masked reveal still shows the real last 4) or at most 3",
                      keep, SSN_DIGITS - keep, values);
  }
  return TV_OK;
}

static unsigned num3(const char *s) {
  return (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
}

/* ssn_rule_status names the SSA rule |digits| breaks, or TV_OK. */
static tv_status ssn_rule_status(const char *digits) {
  unsigned area = num3(digits);
  TV_ENSURE(area != 0 && area != 666 && area < 900, TV_E_FORMAT_SSN_AREA);
  TV_ENSURE(digits[3] != '0' || digits[4] != '0', TV_E_FORMAT_SSN_GROUP);
  TV_ENSURE(memcmp(digits + 5, "0000", 4) != 0, TV_E_FORMAT_SSN_SERIAL);
  return TV_OK;
}

static tv_status ssn_parse(const tv_format *cfg, const char *text, size_t len, format_value *v) {
  TV_TRY(format_split(v, text, len, "- ", 1, 0));
  TV_ENSURE(format_all_in(v->canon, v->canon_len, FORMAT_DIGITS), TV_E_FORMAT_CHAR);
  TV_ENSURE(v->canon_len == SSN_DIGITS, TV_E_FORMAT_LENGTH);
  /* Separators, if any, must be exactly the two of AAA-GG-SSSS. */
  if (v->text_len != SSN_DIGITS) {
    TV_ENSURE(v->text_len == SSN_DIGITS + 2, TV_E_FORMAT_SEPARATOR);
    TV_ENSURE(v->separator_bits[0] == ((1u << 3) | (1u << 6)), TV_E_FORMAT_SEPARATOR);
  }
  TV_TRY(ssn_rule_status(v->canon));
  unsigned keep = cfg->ssn.keep_last;
  format_keep_range(v, SSN_DIGITS - keep, keep);
  return format_tokenise_range(v, 0, SSN_DIGITS - keep, alphabet_digits());
}

static int ssn_build(const tv_format *cfg, const format_value *v, const uint8_t *numerals,
                     char *cand) {
  (void)cfg;
  assert(v->canon_len == SSN_DIGITS && v->numerals_len + v->kept_len == SSN_DIGITS);
  format_place(v, numerals, cand);
  return ssn_rule_status(cand) == TV_OK;
}

static void ssn_mask(const tv_format *cfg, const format_value *v, char *masked) {
  (void)cfg;
  (void)v;
  format_mask_range(masked, 0, 5);
}

const format_ops format_us_ssn_ops = {
    .validate = ssn_validate, .parse = ssn_parse, .build = ssn_build, .mask = ssn_mask};
