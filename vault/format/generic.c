/* The generic format: any alphabet, a kept prefix and suffix, optional
 * check characters at the end, configurable separators. For customer
 * numbers, phone numbers, e-mail local parts and the like. Case is taken
 * as given (the canonical form is the characters without separators). */
#include <assert.h>
#include <string.h>

#include "vault/format/format_internal.h"
#include "vault/format/iso7064.h"
#include "vault/format/luhn.h"
#include "vault/util/secure_mem.h"

static size_t generic_check_chars(tv_checksum checksum) {
  return checksum == FORMAT_CHECKSUM_NONE ? 0 : (checksum == FORMAT_CHECKSUM_MOD97_10 ? 2 : 1);
}

static int alphabet_within(const tv_alphabet *a, const char *set) {
  for (unsigned i = 0; i < a->size; i++) {
    if (a->chars[i] == 0 || strchr(set, (char)a->chars[i]) == NULL) {
      return 0;
    }
  }
  return 1;
}

static tv_status generic_validate_alphabet(const tv_format_generic *g, char *why,
                                           size_t why_len) {
  if (g->alphabet.size < 2 || g->alphabet.size > ALPHABET_SIZE_MAX) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "generic alphabet must have 2..256 "
                      "characters");
  }
  if (memchr(g->separators, '\0', sizeof g->separators) == NULL) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "generic separators not terminated");
  }
  for (unsigned i = 0; i < g->alphabet.size; i++) {
    if (g->alphabet.chars[i] != 0 && strchr(g->separators, (char)g->alphabet.chars[i]) != NULL) {
      return format_why(TV_E_FORMAT_CONFIG, why, why_len,
                        "generic separator '%c' is also in the alphabet", g->alphabet.chars[i]);
    }
  }
  int decimal = alphabet_within(&g->alphabet, FORMAT_DIGITS);
  if ((g->checksum == FORMAT_CHECKSUM_LUHN || g->checksum == FORMAT_CHECKSUM_MOD11_2) && !decimal) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len,
                      "generic luhn and mod11-2 checksums need an alphabet of decimal digits");
  }
  if (g->checksum == FORMAT_CHECKSUM_MOD97_10 &&
      !alphabet_within(&g->alphabet, FORMAT_DIGITS FORMAT_UPPER "abcdefghijklmnopqrstuvwxyz")) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len,
                      "generic mod97-10 checksum needs an alphanumeric alphabet");
  }
  if (g->checksum > FORMAT_CHECKSUM_MOD11_2) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "unknown generic checksum %d",
                      (int)g->checksum);
  }
  return TV_OK;
}

static tv_status generic_validate(const tv_format *cfg, char *why, size_t why_len) {
  const tv_format_generic *g = &cfg->generic;
  TV_TRY(generic_validate_alphabet(g, why, why_len));
  if (g->length_min < 1 || g->length_max > FORMAT_CHARS_MAX || g->length_min > g->length_max) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len,
                      "generic length range %u..%u must lie within 1..%u", g->length_min,
                      g->length_max, (unsigned)FORMAT_CHARS_MAX);
  }
  size_t fixed = generic_check_chars(g->checksum) + g->keep_prefix + g->keep_suffix;
  size_t tokenised = g->length_min > fixed ? g->length_min - fixed : 0;
  if (format_check_domain(g->alphabet.size, tokenised) != TV_OK) {
    unsigned long long values = 1;
    for (size_t i = 0; i < tokenised; i++) {
      values *= g->alphabet.size;
    }
    return format_why(TV_E_FORMAT_DOMAIN_TOO_SMALL, why, why_len,
                      "generic length %u with keep %u+%u and %zu check characters leaves %zu "
                      "tokenised characters of a %u-character alphabet = %llu values, fewer "
                      "than 1000000; raise length_min or keep less",
                      g->length_min, g->keep_prefix, g->keep_suffix,
                      generic_check_chars(g->checksum), tokenised, g->alphabet.size, values);
  }
  return TV_OK;
}

static int generic_check_ok(tv_checksum checksum, const char *s, size_t len) {
  switch (checksum) {
    case FORMAT_CHECKSUM_NONE: return 1;
    case FORMAT_CHECKSUM_LUHN: return luhn_valid(s, len);
    case FORMAT_CHECKSUM_MOD97_10:
      return format_all_in(s + len - 2, 2, FORMAT_DIGITS) && iso7064_mod97_remainder(s, len) == 1;
    case FORMAT_CHECKSUM_MOD11_2:
      return format_all_in(s, len - 1, FORMAT_DIGITS) &&
             iso7064_mod11_2_check(s, len - 1) == s[len - 1];
  }
  return 0;
}

static void generic_check_write(tv_checksum checksum, char *s, size_t len) {
  switch (checksum) {
    case FORMAT_CHECKSUM_NONE: return;
    case FORMAT_CHECKSUM_LUHN: s[len - 1] = luhn_check_digit(s, len - 1); return;
    case FORMAT_CHECKSUM_MOD97_10: {
      int check = iso7064_mod97_10_check(s, len - 2);
      assert(check >= 2 && check <= 98);
      s[len - 2] = (char)('0' + check / 10);
      s[len - 1] = (char)('0' + check % 10);
      return;
    }
    case FORMAT_CHECKSUM_MOD11_2: s[len - 1] = iso7064_mod11_2_check(s, len - 1); return;
  }
}

static tv_status generic_parse(const tv_format *cfg, const char *text, size_t len,
                               format_value *v) {
  const tv_format_generic *g = &cfg->generic;
  TV_TRY(format_split(v, text, len, g->separators, 0, 0));
  TV_ENSURE(v->canon_len >= g->length_min && v->canon_len <= g->length_max, TV_E_FORMAT_LENGTH);
  size_t checks = generic_check_chars(g->checksum);
  size_t data = v->canon_len - checks;
  uint8_t scratch[FORMAT_CHARS_MAX];
  tv_status status = alphabet_to_numerals(&g->alphabet, v->canon, data, scratch, NULL);
  tv_wipe(scratch, sizeof scratch);
  TV_ENSURE(status == TV_OK, TV_E_FORMAT_CHAR);
  TV_ENSURE(generic_check_ok(g->checksum, v->canon, v->canon_len), TV_E_FORMAT_CHECKSUM);
  format_keep_range(v, 0, g->keep_prefix);
  format_keep_range(v, data - g->keep_suffix, g->keep_suffix);
  return format_tokenise_range(v, g->keep_prefix, data - g->keep_prefix - g->keep_suffix,
                               &g->alphabet);
}

static int generic_build(const tv_format *cfg, const format_value *v, const uint8_t *numerals,
                         char *cand) {
  format_place(v, numerals, cand);
  generic_check_write(cfg->generic.checksum, cand, v->canon_len);
  return 1;
}

static void generic_mask(const tv_format *cfg, const format_value *v, char *masked) {
  const tv_format_generic *g = &cfg->generic;
  /* The kept prefix and suffix show; the tokenised part and the check
   * characters (which depend on it) do not. */
  size_t data = v->canon_len - generic_check_chars(g->checksum);
  format_mask_range(masked, g->keep_prefix, data - g->keep_prefix - g->keep_suffix);
  format_mask_range(masked, data, v->canon_len - data);
}

const format_ops format_generic_ops = {
    .validate = generic_validate, .parse = generic_parse, .build = generic_build,
    .mask = generic_mask};
