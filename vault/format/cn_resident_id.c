/* PRC resident identity card numbers (GB 11643-1999): 6-digit region,
 * birth date YYYYMMDD, 3-digit sequence, ISO 7064 MOD 11-2 check (0-9 or
 * X). Keeping region and date would leave only 10^3 sequence values, so the
 * region is kept and (birth date, sequence) is tokenised as one number
 * day * 1000 + sequence, day counted from 1900-01-01 up to 2099-12-31
 * (73,049,000 values), through an 8-digit FF1 domain with cycle-walking.
 * Tokens therefore carry a valid calendar date in that range (not
 * necessarily the real one's decade or sex digit) and a correct check. */
#include <assert.h>
#include <stdint.h>

#include "vault/format/format_internal.h"
#include "vault/format/iso7064.h"

#define CN_ID_LENGTH 18u
#define CN_YEAR_MIN 1900
#define CN_YEAR_MAX 2099
#define CN_DAYS 73049u /* 1900-01-01 .. 2099-12-31 */
#define CN_SEQUENCES 1000u
#define CN_NUMERALS 8u /* 10^8 >= CN_DAYS * CN_SEQUENCES */

static int cn_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int cn_month_days(int y, int m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return days[m - 1] + (m == 2 && cn_leap(y));
}

/* Days from 1900-01-01 to y-m-d (which must be valid and in range). */
static uint32_t cn_day_index(int y, int m, int d) {
  uint32_t days = 0;
  for (int year = CN_YEAR_MIN; year < y; year++) {
    days += cn_leap(year) ? 366u : 365u;
  }
  for (int month = 1; month < m; month++) {
    days += (uint32_t)cn_month_days(y, month);
  }
  return days + (uint32_t)(d - 1);
}

static void cn_day_date(uint32_t day, char *out) {
  assert(day < CN_DAYS);
  int y = CN_YEAR_MIN;
  while (day >= (cn_leap(y) ? 366u : 365u)) {
    day -= cn_leap(y) ? 366u : 365u;
    y++;
  }
  int m = 1;
  while (day >= (uint32_t)cn_month_days(y, m)) {
    day -= (uint32_t)cn_month_days(y, m);
    m++;
  }
  unsigned fields[3] = {(unsigned)y, (unsigned)m, day + 1};
  out[0] = (char)('0' + fields[0] / 1000);
  out[1] = (char)('0' + fields[0] / 100 % 10);
  out[2] = (char)('0' + fields[0] / 10 % 10);
  out[3] = (char)('0' + fields[0] % 10);
  for (int i = 0; i < 2; i++) {
    out[4 + 2 * i] = (char)('0' + fields[1 + i] / 10);
    out[5 + 2 * i] = (char)('0' + fields[1 + i] % 10);
  }
}

static int cn_num(const char *s, int n) {
  int value = 0;
  for (int i = 0; i < n; i++) {
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

/* Province-level codes of GB/T 2260 (the first two region digits). */
static int cn_province_valid(int p) {
  static const uint8_t provinces[] = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34,
                                      35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
                                      53, 54, 61, 62, 63, 64, 65, 71, 81, 82};
  for (size_t i = 0; i < sizeof provinces; i++) {
    if (provinces[i] == p) {
      return 1;
    }
  }
  return 0;
}

static tv_status cn_validate(const tv_format *cfg, char *why, size_t why_len) {
  (void)cfg;
  (void)why;
  (void)why_len;
  return TV_OK; /* 73,049,000 values in every case */
}

static tv_status cn_parse(const tv_format *cfg, const char *text, size_t len, format_value *v) {
  (void)cfg;
  TV_TRY(format_split(v, text, len, "", 1, 1));
  TV_ENSURE(v->canon_len == CN_ID_LENGTH, TV_E_FORMAT_LENGTH);
  TV_ENSURE(format_all_in(v->canon, 17, FORMAT_DIGITS), TV_E_FORMAT_CHAR);
  TV_ENSURE(format_all_in(v->canon + 17, 1, FORMAT_DIGITS "X"), TV_E_FORMAT_CHAR);
  TV_ENSURE(cn_province_valid(cn_num(v->canon, 2)), TV_E_FORMAT_CN_ID_REGION);
  int y = cn_num(v->canon + 6, 4);
  int m = cn_num(v->canon + 10, 2);
  int d = cn_num(v->canon + 12, 2);
  TV_ENSURE(y >= CN_YEAR_MIN && y <= CN_YEAR_MAX && m >= 1 && m <= 12, TV_E_FORMAT_CN_ID_DATE);
  TV_ENSURE(d >= 1 && d <= cn_month_days(y, m), TV_E_FORMAT_CN_ID_DATE);
  TV_ENSURE(iso7064_mod11_2_check(v->canon, 17) == v->canon[17], TV_E_FORMAT_CHECKSUM);
  format_keep_range(v, 0, 6);
  uint32_t n = cn_day_index(y, m, d) * CN_SEQUENCES + (uint32_t)cn_num(v->canon + 14, 3);
  for (size_t i = 0; i < CN_NUMERALS; i++) {
    v->numerals[CN_NUMERALS - 1 - i] = (uint8_t)(n % 10);
    n /= 10;
  }
  v->numerals_len = CN_NUMERALS;
  v->radix = 10;
  v->alphabet = alphabet_digits();
  return TV_OK;
}

static int cn_build(const tv_format *cfg, const format_value *v, const uint8_t *numerals,
                    char *cand) {
  (void)cfg;
  (void)v;
  uint32_t n = 0;
  for (size_t i = 0; i < CN_NUMERALS; i++) {
    n = n * 10 + numerals[i];
  }
  if (n >= CN_DAYS * CN_SEQUENCES) {
    return 0; /* outside the date range: walk on */
  }
  cn_day_date(n / CN_SEQUENCES, cand + 6);
  unsigned seq = n % CN_SEQUENCES;
  cand[14] = (char)('0' + seq / 100);
  cand[15] = (char)('0' + seq / 10 % 10);
  cand[16] = (char)('0' + seq % 10);
  cand[17] = iso7064_mod11_2_check(cand, 17);
  return 1;
}

static void cn_mask(const tv_format *cfg, const format_value *v, char *masked) {
  (void)cfg;
  (void)v;
  /* Region and the last 4, as customarily printed: 110105********002X. */
  format_mask_range(masked, 6, 8);
}

const format_ops format_cn_resident_id_ops = {
    .validate = cn_validate, .parse = cn_parse, .build = cn_build, .mask = cn_mask};
