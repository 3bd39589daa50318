/* Taiwan national ID: a letter (the issuing area), a digit for the holder
 * (1 male, 2 female; 8 and 9 on the new-style resident certificates when
 * allowed), 7 serial digits and a check digit. The letter and the second
 * digit are kept, the 7 serial digits (10^7 values) tokenised, the check
 * digit recomputed. */
#include <assert.h>

#include "vault/format/format_internal.h"

#define TW_ID_LENGTH 10u

/* Two-digit codes of the area letters (I, O, W, X, Y, Z came later and so
 * are out of order). */
static const unsigned tw_letter_codes[26] = {10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21,
                                             22, 35, 23, 24, 25, 26, 27, 28, 29, 32, 30, 31, 33};

/* tw_check_digit returns the digit that makes the weighted sum of the ID
 * (letter code tens x1, units x9, digits x8..x1, check x1) a multiple of
 * 10; |id| is the first 9 characters. */
static char tw_check_digit(const char *id) {
  unsigned code = tw_letter_codes[id[0] - 'A'];
  unsigned sum = code / 10 + (code % 10) * 9;
  for (unsigned i = 1; i <= 8; i++) {
    sum += (unsigned)(id[i] - '0') * (9 - i);
  }
  return (char)('0' + (10 - sum % 10) % 10);
}

static tv_status tw_validate(const tv_format *cfg, char *why, size_t why_len) {
  (void)cfg;
  (void)why;
  (void)why_len;
  return TV_OK; /* 7 tokenised digits: 10^7 values in every case */
}

static tv_status tw_parse(const tv_format *cfg, const char *text, size_t len, format_value *v) {
  TV_TRY(format_split(v, text, len, "", 1, 1));
  TV_ENSURE(v->canon_len == TW_ID_LENGTH, TV_E_FORMAT_LENGTH);
  TV_ENSURE(format_all_in(v->canon, 1, FORMAT_UPPER), TV_E_FORMAT_TW_ID);
  TV_ENSURE(format_all_in(v->canon + 1, TW_ID_LENGTH - 1, FORMAT_DIGITS), TV_E_FORMAT_CHAR);
  char holder = v->canon[1];
  int resident = cfg->tw.resident_allowed && (holder == '8' || holder == '9');
  TV_ENSURE(holder == '1' || holder == '2' || resident, TV_E_FORMAT_TW_ID);
  TV_ENSURE(tw_check_digit(v->canon) == v->canon[9], TV_E_FORMAT_CHECKSUM);
  format_keep_range(v, 0, 2);
  return format_tokenise_range(v, 2, 7, alphabet_digits());
}

static int tw_build(const tv_format *cfg, const format_value *v, const uint8_t *numerals,
                    char *cand) {
  (void)cfg;
  assert(v->canon_len == TW_ID_LENGTH && cand[0] >= 'A' && cand[0] <= 'Z');
  format_place(v, numerals, cand);
  cand[9] = tw_check_digit(cand);
  return 1;
}

static void tw_mask(const tv_format *cfg, const format_value *v, char *masked) {
  (void)cfg;
  (void)v;
  /* Letter and holder digit (kept in tokens too) and the last 3. */
  format_mask_range(masked, 2, 5);
}

const format_ops format_tw_national_id_ops = {
    .validate = tw_validate, .parse = tw_parse, .build = tw_build, .mask = tw_mask};
