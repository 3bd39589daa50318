/* German tax identification number (Steuerliche Identifikationsnummer,
 * IdNr): 11 digits, the first not 0; in the first 10 exactly one digit
 * occurs twice or three times and every other at most once, and (since
 * 2016, when triples were admitted) the three copies of a tripled digit
 * are never all adjacent; the 11th is the ISO 7064 MOD 11,10 check digit.
 * The first 10 digits are tokenised with cycle-walking until the rules
 * hold (about 3.4% of 10-digit strings do), the check digit recomputed. */
#include <assert.h>

#include "vault/format/format_internal.h"
#include "vault/format/iso7064.h"

#define DE_TAX_ID_LENGTH 11u
#define DE_TAX_ID_BODY 10u

/* de_tax_id_rules_hold returns 1 if the first 10 digits obey the rules. */
static int de_tax_id_rules_hold(const char *d) {
  if (d[0] == '0') {
    return 0;
  }
  unsigned counts[10] = {0};
  for (size_t i = 0; i < DE_TAX_ID_BODY; i++) {
    counts[d[i] - '0']++;
  }
  unsigned repeated = 0;
  unsigned repeat_count = 0;
  for (size_t k = 0; k < 10; k++) {
    if (counts[k] >= 2) {
      repeated++;
      repeat_count = counts[k];
    }
  }
  if (repeated != 1 || repeat_count > 3) {
    return 0;
  }
  for (size_t i = 0; i + 2 < DE_TAX_ID_BODY; i++) {
    if (d[i] == d[i + 1] && d[i] == d[i + 2]) {
      return 0;
    }
  }
  return 1;
}

static tv_status de_validate(const tv_format *cfg, char *why, size_t why_len) {
  (void)cfg;
  (void)why;
  (void)why_len;
  return TV_OK; /* ~3.4e8 valid bodies */
}

static tv_status de_parse(const tv_format *cfg, const char *text, size_t len, format_value *v) {
  (void)cfg;
  TV_TRY(format_split(v, text, len, " ", 1, 0));
  TV_ENSURE(format_all_in(v->canon, v->canon_len, FORMAT_DIGITS), TV_E_FORMAT_CHAR);
  TV_ENSURE(v->canon_len == DE_TAX_ID_LENGTH, TV_E_FORMAT_LENGTH);
  TV_ENSURE(de_tax_id_rules_hold(v->canon), TV_E_FORMAT_DE_TAX_ID);
  TV_ENSURE(iso7064_mod11_10_check(v->canon, DE_TAX_ID_BODY) == v->canon[10],
            TV_E_FORMAT_CHECKSUM);
  return format_tokenise_range(v, 0, DE_TAX_ID_BODY, alphabet_digits());
}

static int de_build(const tv_format *cfg, const format_value *v, const uint8_t *numerals,
                    char *cand) {
  (void)cfg;
  assert(v->canon_len == DE_TAX_ID_LENGTH && v->numerals_len == DE_TAX_ID_BODY);
  format_place(v, numerals, cand);
  if (!de_tax_id_rules_hold(cand)) {
    return 0;
  }
  cand[10] = iso7064_mod11_10_check(cand, DE_TAX_ID_BODY);
  return 1;
}

static void de_mask(const tv_format *cfg, const format_value *v, char *masked) {
  (void)cfg;
  (void)v;
  format_mask_range(masked, 0, DE_TAX_ID_LENGTH - 4);
}

const format_ops format_de_tax_id_ops = {
    .validate = de_validate, .parse = de_parse, .build = de_build, .mask = de_mask};
