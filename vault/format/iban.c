/* IBANs: country code and bank (+ branch) identifier kept, the account
 * part tokenised, national check digits and the ISO 7064 mod-97 check
 * digits recomputed. Input may be printed in groups of four and in lower
 * case; the canonical form and tokens are upper case. */
#include <assert.h>
#include <string.h>

#include "vault/format/format_internal.h"
#include "vault/format/iban_countries.h"
#include "vault/format/iso7064.h"
#include "vault/util/secure_mem.h"

#define IBAN_TOKEN_CHARS_MIN 6u /* 10^6 even when the account is digits */

/* Whether BBAN offset |i| of |c| is kept, a national check, or tokenised. */
static int iban_is_kept(const iban_country *c, size_t i) {
  return i >= c->keep_off && i < (size_t)c->keep_off + c->keep_len;
}

static int iban_is_national(const uint8_t *pos, size_t count, size_t i) {
  for (size_t k = 0; k < count; k++) {
    if (pos[k] == i) {
      return 1;
    }
  }
  return 0;
}

static size_t iban_token_chars(const iban_country *c) {
  uint8_t pos[IBAN_NATIONAL_CHECK_MAX];
  return (size_t)c->length - 4 - c->keep_len - iban_national_positions(c, pos);
}

static tv_status iban_validate(const tv_format *cfg, char *why, size_t why_len) {
  if (cfg->iban.check != FORMAT_IBAN_CHECK_VALID && cfg->iban.check != FORMAT_IBAN_CHECK_INVALID) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "iban check policy must be valid or invalid");
  }
  for (size_t i = 0; i < iban_country_count(); i++) {
    const iban_country *c = iban_country_at(i);
    size_t n = iban_token_chars(c);
    if (n < IBAN_TOKEN_CHARS_MIN) {
      return format_why(TV_E_FORMAT_DOMAIN_TOO_SMALL, why, why_len,
                        "iban country %s leaves %zu tokenised digits, fewer than 6 (1000000 "
                        "values)", c->code, n);
    }
  }
  return TV_OK;
}

/* The mod-97 remainder of the IBAN with its first four characters moved to
 * the end. */
static int iban_remainder(const char *iban, size_t len) {
  char rotated[IBAN_LENGTH_MAX];
  assert(len >= 4 && len <= IBAN_LENGTH_MAX);
  memcpy(rotated, iban + 4, len - 4);
  memcpy(rotated + len - 4, iban, 4);
  int r = iso7064_mod97_remainder(rotated, len);
  tv_wipe(rotated, sizeof rotated);
  return r;
}

static tv_status iban_check_chars(const iban_country *c, const char *bban, int *out_digits) {
  uint8_t pos[IBAN_NATIONAL_CHECK_MAX];
  size_t checks = iban_national_positions(c, pos);
  size_t bban_len = (size_t)c->length - 4;
  int digits = 1;
  for (size_t i = 0; i < bban_len; i++) {
    TV_ENSURE(format_all_in(bban + i, 1, FORMAT_DIGITS FORMAT_UPPER), TV_E_FORMAT_CHAR);
    int is_digit = bban[i] >= '0' && bban[i] <= '9';
    if (iban_is_national(pos, checks, i)) {
      /* The Italian CIN is a letter; every other national check a digit. */
      TV_ENSURE(c->national == IBAN_NATIONAL_IT ? !is_digit : is_digit, TV_E_FORMAT_CHAR);
    } else if (!iban_is_kept(c, i)) {
      TV_ENSURE(is_digit || c->alnum, TV_E_FORMAT_CHAR);
      digits &= is_digit;
    }
  }
  *out_digits = digits;
  return TV_OK;
}

static tv_status iban_check_national(const iban_country *c, const char *bban) {
  char copy[IBAN_LENGTH_MAX];
  size_t bban_len = (size_t)c->length - 4;
  memcpy(copy, bban, bban_len);
  int ok = iban_national_compute(c, copy) && memcmp(copy, bban, bban_len) == 0;
  tv_wipe(copy, sizeof copy);
  return ok ? TV_OK : TV_E_FORMAT_CHECKSUM;
}

static tv_status iban_parse(const tv_format *cfg, const char *text, size_t len, format_value *v) {
  (void)cfg;
  TV_TRY(format_split(v, text, len, " ", 1, 1));
  TV_ENSURE(v->canon_len >= 2 && format_all_in(v->canon, 2, FORMAT_UPPER), TV_E_FORMAT_CHAR);
  int index = iban_country_find(v->canon);
  TV_ENSURE(index >= 0, TV_E_FORMAT_COUNTRY);
  const iban_country *c = iban_country_at((size_t)index);
  /* A stray character is the more useful complaint than the length it
   * causes. */
  TV_ENSURE(format_all_in(v->canon, v->canon_len, FORMAT_DIGITS FORMAT_UPPER), TV_E_FORMAT_CHAR);
  TV_ENSURE(v->canon_len == c->length, TV_E_FORMAT_LENGTH);
  TV_ENSURE(format_all_in(v->canon + 2, 2, FORMAT_DIGITS), TV_E_FORMAT_CHAR);
  int digits;
  TV_TRY(iban_check_chars(c, v->canon + 4, &digits));
  TV_ENSURE(iban_remainder(v->canon, v->canon_len) == 1, TV_E_FORMAT_IBAN_CHECK);
  TV_TRY(iban_check_national(c, v->canon + 4));
  v->country = (unsigned)index;
  format_keep_range(v, 0, 2);
  format_keep_range(v, 4 + c->keep_off, c->keep_len);
  uint8_t pos[IBAN_NATIONAL_CHECK_MAX];
  size_t checks = iban_national_positions(c, pos);
  const tv_alphabet *alphabet = digits ? alphabet_digits() : alphabet_alnum_upper();
  for (size_t i = 0; i < (size_t)c->length - 4; i++) {
    if (!iban_is_kept(c, i) && !iban_is_national(pos, checks, i)) {
      TV_TRY(format_tokenise_range(v, 4 + i, 1, alphabet));
    }
  }
  assert(v->numerals_len == iban_token_chars(c));
  return TV_OK;
}

static int iban_build(const tv_format *cfg, const format_value *v, const uint8_t *numerals,
                      char *cand) {
  const iban_country *c = iban_country_at(v->country);
  format_place(v, numerals, cand);
  if (!iban_national_compute(c, cand + 4)) {
    return 0;
  }
  cand[2] = '0';
  cand[3] = '0';
  int r = iban_remainder(cand, v->canon_len);
  assert(r >= 0);
  unsigned check = (unsigned)(98 - r);
  if (cfg->iban.check == FORMAT_IBAN_CHECK_INVALID) {
    /* Any other value of 02..98 fails validation; 48 steps away keeps it
     * in range and never equal. */
    check = 2 + (check - 2 + 48) % 97;
  }
  cand[2] = (char)('0' + check / 10);
  cand[3] = (char)('0' + check % 10);
  return 1;
}

static void iban_mask(const tv_format *cfg, const format_value *v, char *masked) {
  (void)cfg;
  const iban_country *c = iban_country_at(v->country);
  /* Country, check digits and bank identifier shown, then the last 4. */
  for (size_t i = 4; i + 4 < v->canon_len; i++) {
    if (!iban_is_kept(c, i - 4)) {
      masked[i] = '*';
    }
  }
}

const format_ops format_iban_ops = {
    .validate = iban_validate, .parse = iban_parse, .build = iban_build, .mask = iban_mask};
