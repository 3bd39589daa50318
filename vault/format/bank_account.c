/* Generic bank account numbers: digits, last 4 kept; optionally preceded
 * by a US ABA routing number as "ROUTING:ACCOUNT" (kept, validated). */
#include <assert.h>
#include <string.h>

#include "vault/format/format_internal.h"

#define ABA_LENGTH 9u
#define ACCOUNT_LENGTH_MAX (FORMAT_CHARS_MAX - ABA_LENGTH - 1)
#define ACCOUNT_TOKEN_DIGITS_MIN 6u

static tv_status bank_validate(const tv_format *cfg, char *why, size_t why_len) {
  const tv_format_bank_account *b = &cfg->bank;
  if (b->length_min < 1 || b->length_max > ACCOUNT_LENGTH_MAX || b->length_min > b->length_max) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len,
                      "bank account length range %u..%u must lie within 1..%u", b->length_min,
                      b->length_max, (unsigned)ACCOUNT_LENGTH_MAX);
  }
  if (b->length_min < b->keep_last + ACCOUNT_TOKEN_DIGITS_MIN) {
    unsigned tokenised = b->length_min > b->keep_last ? b->length_min - b->keep_last : 0;
    unsigned long long values = 1;
    for (unsigned i = 0; i < tokenised; i++) {
      values *= 10;
    }
    return format_why(TV_E_FORMAT_DOMAIN_TOO_SMALL, why, why_len,
                      "bank account length %u with keep_last %u leaves %u tokenised digits = "
                      "%llu values, fewer than 1000000; raise length_min to %u or lower "
                      "keep_last to %u",
                      b->length_min, b->keep_last, tokenised, values,
                      b->keep_last + ACCOUNT_TOKEN_DIGITS_MIN,
                      b->length_min >= ACCOUNT_TOKEN_DIGITS_MIN
                          ? b->length_min - ACCOUNT_TOKEN_DIGITS_MIN
                          : 0);
  }
  return TV_OK;
}

/* aba_routing_valid: 3-7-1 weights sum to a multiple of 10, and the first
 * two digits are a Federal Reserve district (00-12, 21-32) or thrift
 * (61-72) or electronic (80) prefix; all zeros is refused. */
static int aba_routing_valid(const char *r) {
  static const unsigned weights[3] = {3, 7, 1};
  unsigned sum = 0;
  unsigned nonzero = 0;
  for (size_t i = 0; i < ABA_LENGTH; i++) {
    unsigned d = (unsigned)(r[i] - '0');
    sum += weights[i % 3] * d;
    nonzero |= d;
  }
  unsigned prefix = (unsigned)(r[0] - '0') * 10 + (unsigned)(r[1] - '0');
  int prefix_ok = prefix <= 12 || (prefix >= 21 && prefix <= 32) ||
                  (prefix >= 61 && prefix <= 72) || prefix == 80;
  return sum % 10 == 0 && nonzero != 0 && prefix_ok;
}

static tv_status bank_parse(const tv_format *cfg, const char *text, size_t len, format_value *v) {
  const tv_format_bank_account *b = &cfg->bank;
  TV_TRY(format_split(v, text, len, " -", 1, 0));
  size_t account_start = 0;
  const char *colon = memchr(v->canon, ':', v->canon_len);
  if (colon != NULL) {
    TV_ENSURE(b->routing_allowed, TV_E_FORMAT_CHAR);
    TV_ENSURE((size_t)(colon - v->canon) == ABA_LENGTH, TV_E_FORMAT_LENGTH);
    TV_ENSURE(format_all_in(v->canon, ABA_LENGTH, FORMAT_DIGITS), TV_E_FORMAT_CHAR);
    TV_ENSURE(aba_routing_valid(v->canon), TV_E_FORMAT_ROUTING);
    account_start = ABA_LENGTH + 1;
  }
  size_t account_len = v->canon_len - account_start;
  TV_ENSURE(format_all_in(v->canon + account_start, account_len, FORMAT_DIGITS), TV_E_FORMAT_CHAR);
  TV_ENSURE(account_len >= b->length_min && account_len <= b->length_max, TV_E_FORMAT_LENGTH);
  format_keep_range(v, 0, account_start);
  format_keep_range(v, v->canon_len - b->keep_last, b->keep_last);
  return format_tokenise_range(v, account_start, account_len - b->keep_last, alphabet_digits());
}

static int bank_build(const tv_format *cfg, const format_value *v, const uint8_t *numerals,
                      char *cand) {
  (void)cfg;
  assert(v->token_len == v->numerals_len && v->radix == 10);
  format_place(v, numerals, cand);
  return 1;
}

static void bank_mask(const tv_format *cfg, const format_value *v, char *masked) {
  (void)cfg;
  /* The routing number (if any) and the last 4 stay visible. */
  size_t start = v->canon_len > ABA_LENGTH && v->canon[ABA_LENGTH] == ':' ? ABA_LENGTH + 1 : 0;
  size_t visible = v->canon_len - start >= 4 ? 4 : 0;
  format_mask_range(masked, start, v->canon_len - start - visible);
}

const format_ops format_bank_account_ops = {
    .validate = bank_validate, .parse = bank_parse, .build = bank_build, .mask = bank_mask};
