/* Payment card numbers: 13..19 digits, Luhn-valid, first 6 (or 8) and last
 * 4 kept, the middle tokenised, the token's Luhn state set by policy. */
#include <assert.h>
#include <string.h>

#include "vault/format/format_internal.h"
#include "vault/format/luhn.h"

#define PAN_LENGTH_MIN 13u
#define PAN_LENGTH_MAX 19u
#define PAN_KEEP_FIRST_MAX 8u
#define PAN_KEEP_LAST_MAX 4u
/* Digits the tokenised part needs: 10^6 = FF1_DOMAIN_MIN. */
#define PAN_TOKEN_DIGITS_MIN 6u

static tv_status pan_validate(const tv_format *cfg, char *why, size_t why_len) {
  const tv_format_pan *p = &cfg->pan;
  if (p->length_min < PAN_LENGTH_MIN || p->length_max > PAN_LENGTH_MAX ||
      p->length_min > p->length_max) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len,
                      "pan length range %u..%u must lie within 13..19", p->length_min,
                      p->length_max);
  }
  if (p->keep_first > PAN_KEEP_FIRST_MAX || p->keep_last > PAN_KEEP_LAST_MAX) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len,
                      "pan keep_first %u / keep_last %u: at most 8 first and 4 last digits",
                      p->keep_first, p->keep_last);
  }
  if (p->luhn != FORMAT_LUHN_INVALID && p->luhn != FORMAT_LUHN_VALID &&
      p->luhn != FORMAT_LUHN_ANY) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "pan luhn policy must be invalid, valid or any");
  }
  /* Every accepted length must leave enough digits, not just the usual
   * one: the shortest length is the binding one. */
  unsigned kept = p->keep_first + p->keep_last;
  for (unsigned n = p->length_min; n <= p->length_max; n++) {
    unsigned tokenised = n - kept;
    if (n < kept + PAN_TOKEN_DIGITS_MIN) {
      unsigned long long values = 1;
      for (unsigned i = 0; i < tokenised; i++) {
        values *= 10;
      }
      return format_why(TV_E_FORMAT_DOMAIN_TOO_SMALL, why, why_len,
                        "pan length %u with keep %u+%u leaves %u tokenised digits = %llu values, "
                        "fewer than 1000000; accept only lengths >= %u (length_min), or keep "
                        "at most %u digits in total for length %u",
                        n, p->keep_first, p->keep_last, tokenised, values,
                        kept + PAN_TOKEN_DIGITS_MIN, n - PAN_TOKEN_DIGITS_MIN, n);
    }
  }
  return TV_OK;
}

static tv_status pan_parse(const tv_format *cfg, const char *text, size_t len, format_value *v) {
  const tv_format_pan *p = &cfg->pan;
  TV_TRY(format_split(v, text, len, " -", 1, 0));
  TV_ENSURE(format_all_in(v->canon, v->canon_len, FORMAT_DIGITS), TV_E_FORMAT_CHAR);
  TV_ENSURE(v->canon_len >= p->length_min && v->canon_len <= p->length_max, TV_E_FORMAT_LENGTH);
  TV_ENSURE(luhn_valid(v->canon, v->canon_len), TV_E_FORMAT_LUHN);
  size_t middle = v->canon_len - p->keep_first - p->keep_last;
  assert(middle >= PAN_TOKEN_DIGITS_MIN);
  format_keep_range(v, 0, p->keep_first);
  format_keep_range(v, v->canon_len - p->keep_last, p->keep_last);
  return format_tokenise_range(v, p->keep_first, middle, alphabet_digits());
}

static int pan_build(const tv_format *cfg, const format_value *v, const uint8_t *numerals,
                     char *cand) {
  format_place(v, numerals, cand);
  unsigned sum = luhn_sum(cand, v->canon_len);
  switch (cfg->pan.luhn) {
    case FORMAT_LUHN_INVALID: return sum != 0;
    case FORMAT_LUHN_VALID: return sum == 0;
    case FORMAT_LUHN_ANY: return 1;
  }
  return 0;
}

static void pan_mask(const tv_format *cfg, const format_value *v, char *masked) {
  (void)cfg;
  /* First 6 + last 4, whatever the namespace keeps for tokens. */
  assert(v->canon_len >= PAN_LENGTH_MIN);
  format_mask_range(masked, 6, v->canon_len - 10);
}

const format_ops format_pan_ops = {
    .validate = pan_validate, .parse = pan_parse, .build = pan_build, .mask = pan_mask};
