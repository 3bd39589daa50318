/* The attacker's guessing space of a namespace: how many real values are
 * consistent with what one token shows.
 *
 * A token shows its kept characters (they are the real ones), its length
 * and its shape; the tokenised characters are unrelated to the real ones.
 * Someone who holds a token and may tokenize in a convergent namespace
 * can try candidate values sharing the kept characters until the vault
 * answers with that token, so the candidates that satisfy the real
 * value's own rules are what stands between them and the value:
 * radix^(tokenised characters) at the shortest accepted length, divided
 * by a checksum only where the checksum constrains the tokenised
 * characters (a PAN's Luhn digit: the real number is Luhn-valid, so one
 * middle in 10 remains). Check characters the format recomputes (IBAN,
 * national IDs, generic checksums) constrain nothing: every tokenised
 * part has exactly one of them. Date and range rules (PRC birth dates,
 * SSN areas, German tax ID digit rules) are counted where the format
 * tokenises them as one number (PRC) or stated as "about". */
#include <stdio.h>
#include <string.h>

#include "vault/format/format_internal.h"
#include "vault/format/iban_countries.h"

#define SSN_DIGITS 9u
#define TW_TOKENISED_DIGITS 7u
#define TW_KEPT_CHARS 2u
#define CN_KEPT_CHARS 6u
#define CN_CANDIDATES 73049000u /* birth days 1900..2099 x 1000 sequences */
#define DE_CANDIDATES 340000000u /* about 3.4% of 10^10 bodies obey the rules */

/* radix^exp, saturated at UINT64_MAX. */
static uint64_t pow_saturated(unsigned radix, size_t exp) {
  uint64_t v = 1;
  for (size_t i = 0; i < exp; i++) {
    if (v > UINT64_MAX / radix) {
      return UINT64_MAX;
    }
    v *= radix;
  }
  return v;
}

static void pan_space(const tv_format_pan *p, format_guess_space *out) {
  size_t tokenised = p->length_min - p->keep_first - p->keep_last;
  out->candidates = pow_saturated(10, tokenised - 1);
  out->kept_chars = p->keep_first + p->keep_last;
  snprintf(out->why, sizeof out->why, "10^%zu Luhn-valid middles of %zu digits at length %u", tokenised - 1,
           tokenised, p->length_min);
}

/* The smallest over the countries, counting every account character as a
 * digit (an all-digit account gives an all-digit token, so radix 10 is
 * what an attacker faces there). */
static void iban_space(format_guess_space *out) {
  out->candidates = UINT64_MAX;
  for (size_t i = 0; i < iban_country_count(); i++) {
    const iban_country *c = iban_country_at(i);
    uint8_t pos[IBAN_NATIONAL_CHECK_MAX];
    size_t tokenised = (size_t)c->length - 4 - c->keep_len - iban_national_positions(c, pos);
    uint64_t n = pow_saturated(10, tokenised);
    if (n < out->candidates) {
      out->candidates = n;
      out->kept_chars = 2u + c->keep_len;
      snprintf(out->why, sizeof out->why, "10^%zu account numbers per bank code (smallest: %s)", tokenised,
               c->code);
    }
  }
}

static size_t generic_check_len(tv_checksum checksum) {
  switch (checksum) {
    case FORMAT_CHECKSUM_LUHN:
    case FORMAT_CHECKSUM_MOD11_2: return 1;
    case FORMAT_CHECKSUM_MOD97_10: return 2;
    default: return 0;
  }
}

static void generic_space(const tv_format_generic *g, format_guess_space *out) {
  size_t fixed = generic_check_len(g->checksum) + g->keep_prefix + g->keep_suffix;
  size_t tokenised = g->length_min > fixed ? g->length_min - fixed : 0;
  out->candidates = pow_saturated(g->alphabet.size, tokenised);
  out->kept_chars = g->keep_prefix + g->keep_suffix;
  snprintf(out->why, sizeof out->why, "%u^%zu at length %u", g->alphabet.size, tokenised, g->length_min);
}

static void fixed_space(format_guess_space *out, uint64_t candidates, unsigned kept, const char *why) {
  out->candidates = candidates;
  out->kept_chars = kept;
  snprintf(out->why, sizeof out->why, "%s", why);
}

tv_status format_guess_space_of(const tv_format *cfg, format_guess_space *out) {
  TV_ENSURE(cfg != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  memset(out, 0, sizeof *out);
  TV_TRY(format_config_validate(cfg, NULL, 0));
  switch (cfg->kind) {
    case FORMAT_PAN: pan_space(&cfg->pan, out); break;
    case FORMAT_IBAN: iban_space(out); break;
    case FORMAT_BANK_ACCOUNT: {
      size_t tokenised = cfg->bank.length_min - cfg->bank.keep_last;
      out->candidates = pow_saturated(10, tokenised);
      out->kept_chars = cfg->bank.keep_last;
      snprintf(out->why, sizeof out->why, "10^%zu at length %u", tokenised, cfg->bank.length_min);
      break;
    }
    case FORMAT_US_SSN:
      out->candidates = pow_saturated(10, SSN_DIGITS - cfg->ssn.keep_last);
      out->kept_chars = cfg->ssn.keep_last;
      snprintf(out->why, sizeof out->why, "at most 10^%u (SSA area/group/serial rules)",
               SSN_DIGITS - cfg->ssn.keep_last);
      break;
    case FORMAT_TW_NATIONAL_ID:
      fixed_space(out, pow_saturated(10, TW_TOKENISED_DIGITS), TW_KEPT_CHARS, "10^7 serial digits");
      break;
    case FORMAT_CN_RESIDENT_ID:
      fixed_space(out, CN_CANDIDATES, CN_KEPT_CHARS, "73049 birth dates x 1000 sequence numbers");
      break;
    case FORMAT_DE_TAX_ID:
      fixed_space(out, DE_CANDIDATES, 0, "about 3.4*10^8 bodies obeying the digit rules");
      break;
    case FORMAT_GENERIC: generic_space(&cfg->generic, out); break;
    default: return TV_E_FORMAT_CONFIG;
  }
  return TV_OK;
}

uint64_t format_value_guess_space(const tv_format *cfg, const format_value *value) {
  if (cfg == NULL || value == NULL) {
    return 0;
  }
  switch (cfg->kind) {
    case FORMAT_PAN: /* the real number is Luhn-valid: one middle in 10 */
      return value->numerals_len > 0 ? pow_saturated(10, value->numerals_len - 1) : 0;
    case FORMAT_CN_RESIDENT_ID: return CN_CANDIDATES; /* dates in an 8-digit domain */
    case FORMAT_DE_TAX_ID: return DE_CANDIDATES;
    default: return pow_saturated(value->radix, value->numerals_len);
  }
}
