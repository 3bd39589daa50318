/* IBAN lengths and bank identifiers per country (SWIFT IBAN registry),
 * and the national check digits tokens recompute. */
#include "vault/format/iban_countries.h"

#include <assert.h>
#include <string.h>

#include "vault/format/iso7064.h"

/* keep = the bank identifier and, where the BBAN has one, the branch
 * identifier (GB/IE sort code, FR guichet, IT CAB, ES oficina, ...): the
 * tokenised part is then the account number proper, which keeps one
 * character class in nearly every country. */
static const iban_country countries[] = {
    {"AD", 24, 0, 8, 1, IBAN_NATIONAL_NONE}, {"AE", 23, 0, 3, 0, IBAN_NATIONAL_NONE},
    {"AL", 28, 0, 8, 1, IBAN_NATIONAL_NONE}, {"AT", 20, 0, 5, 0, IBAN_NATIONAL_NONE},
    {"BE", 16, 0, 3, 0, IBAN_NATIONAL_BE},   {"BG", 22, 0, 8, 1, IBAN_NATIONAL_NONE},
    {"CH", 21, 0, 5, 1, IBAN_NATIONAL_NONE}, {"CY", 28, 0, 8, 1, IBAN_NATIONAL_NONE},
    {"CZ", 24, 0, 4, 0, IBAN_NATIONAL_NONE}, {"DE", 22, 0, 8, 0, IBAN_NATIONAL_NONE},
    {"DK", 18, 0, 4, 0, IBAN_NATIONAL_NONE}, {"EE", 20, 0, 2, 0, IBAN_NATIONAL_NONE},
    {"ES", 24, 0, 8, 0, IBAN_NATIONAL_ES},   {"FI", 18, 0, 3, 0, IBAN_NATIONAL_NONE},
    {"FR", 27, 0, 10, 1, IBAN_NATIONAL_FR},  {"GB", 22, 0, 10, 0, IBAN_NATIONAL_NONE},
    {"GI", 23, 0, 4, 1, IBAN_NATIONAL_NONE}, {"GR", 27, 0, 7, 1, IBAN_NATIONAL_NONE},
    {"HR", 21, 0, 7, 0, IBAN_NATIONAL_NONE}, {"HU", 28, 0, 7, 0, IBAN_NATIONAL_NONE},
    {"IE", 22, 0, 10, 0, IBAN_NATIONAL_NONE}, {"IL", 23, 0, 6, 0, IBAN_NATIONAL_NONE},
    {"IS", 26, 0, 4, 0, IBAN_NATIONAL_NONE}, {"IT", 27, 1, 10, 1, IBAN_NATIONAL_IT},
    {"LI", 21, 0, 5, 1, IBAN_NATIONAL_NONE}, {"LT", 20, 0, 5, 0, IBAN_NATIONAL_NONE},
    {"LU", 20, 0, 3, 1, IBAN_NATIONAL_NONE}, {"LV", 21, 0, 4, 1, IBAN_NATIONAL_NONE},
    {"MC", 27, 0, 10, 1, IBAN_NATIONAL_FR},  {"MD", 24, 0, 2, 1, IBAN_NATIONAL_NONE},
    {"ME", 22, 0, 3, 0, IBAN_NATIONAL_NONE}, {"MK", 19, 0, 3, 1, IBAN_NATIONAL_NONE},
    {"MT", 31, 0, 9, 1, IBAN_NATIONAL_NONE}, {"NL", 18, 0, 4, 0, IBAN_NATIONAL_NONE},
    {"NO", 15, 0, 4, 0, IBAN_NATIONAL_NO},   {"PL", 28, 0, 8, 0, IBAN_NATIONAL_NONE},
    {"PT", 25, 0, 8, 0, IBAN_NATIONAL_PT},   {"RO", 24, 0, 4, 1, IBAN_NATIONAL_NONE},
    {"RS", 22, 0, 3, 0, IBAN_NATIONAL_NONE}, {"SA", 24, 0, 2, 1, IBAN_NATIONAL_NONE},
    {"SE", 24, 0, 3, 0, IBAN_NATIONAL_NONE}, {"SI", 19, 0, 5, 0, IBAN_NATIONAL_NONE},
    {"SK", 24, 0, 4, 0, IBAN_NATIONAL_NONE}, {"SM", 27, 1, 10, 1, IBAN_NATIONAL_IT},
    {"VA", 22, 0, 3, 0, IBAN_NATIONAL_NONE},
};

size_t iban_country_count(void) { return sizeof countries / sizeof countries[0]; }

const iban_country *iban_country_at(size_t i) {
  assert(i < iban_country_count());
  return &countries[i];
}

int iban_country_find(const char *code) {
  for (size_t i = 0; i < iban_country_count(); i++) {
    if (countries[i].code[0] == code[0] && countries[i].code[1] == code[1]) {
      return (int)i;
    }
  }
  return -1;
}

size_t iban_national_positions(const iban_country *c, uint8_t pos[IBAN_NATIONAL_CHECK_MAX]) {
  size_t bban_len = (size_t)c->length - 4;
  switch (c->national) {
    case IBAN_NATIONAL_NONE: return 0;
    case IBAN_NATIONAL_IT: pos[0] = 0; return 1;
    case IBAN_NATIONAL_NO: pos[0] = (uint8_t)(bban_len - 1); return 1;
    case IBAN_NATIONAL_ES: pos[0] = 8; pos[1] = 9; return 2;
    case IBAN_NATIONAL_BE:
    case IBAN_NATIONAL_FR:
    case IBAN_NATIONAL_PT:
      pos[0] = (uint8_t)(bban_len - 2);
      pos[1] = (uint8_t)(bban_len - 1);
      return 2;
  }
  return 0;
}

static void put2(char *at, unsigned value) {
  assert(value < 100);
  at[0] = (char)('0' + value / 10);
  at[1] = (char)('0' + value % 10);
}

static unsigned digits_mod(const char *s, size_t len, unsigned m) {
  unsigned r = 0;
  for (size_t i = 0; i < len; i++) {
    r = (r * 10 + (unsigned)(s[i] - '0')) % m;
  }
  return r;
}

/* RIB key: 97 - (89 bank + 15 branch + 3 account) mod 97, account letters
 * replaced by digits (A,J->1; B,K,S->2; ... I,R,Z->9). */
static void national_fr(char *bban) {
  char account[11];
  for (size_t i = 0; i < 11; i++) {
    char ch = bban[10 + i];
    if (ch >= 'A' && ch <= 'Z') {
      unsigned k = (unsigned)(ch - 'A');
      /* S starts its run at 2: the scheme skips one value after R. */
      unsigned d = k < 18 ? k % 9 + 1 : (k - 18) % 8 + 2;
      ch = (char)('0' + d);
    }
    account[i] = ch;
  }
  unsigned sum = 89 * digits_mod(bban, 5, 97) + 15 * digits_mod(bban + 5, 5, 97) +
                 3 * digits_mod(account, 11, 97);
  put2(bban + 21, 97 - sum % 97);
}

static unsigned es_dc(const char *ten) {
  static const unsigned weights[10] = {1, 2, 4, 8, 5, 10, 9, 7, 3, 6};
  unsigned sum = 0;
  for (size_t i = 0; i < 10; i++) {
    sum += weights[i] * (unsigned)(ten[i] - '0');
  }
  unsigned d = 11 - sum % 11;
  return d == 11 ? 0 : (d == 10 ? 1 : d);
}

static void national_es(char *bban) {
  char first[10] = {'0', '0'};
  memcpy(first + 2, bban, 8);
  bban[8] = (char)('0' + es_dc(first));
  bban[9] = (char)('0' + es_dc(bban + 10));
}

/* CIN: characters at odd (1-based) positions through the odd table,
 * others as their value (digit or letter index), sum mod 26 as a letter. */
static void national_it(char *bban) {
  static const unsigned odd[26] = {1,  0,  5,  7,  9,  13, 15, 17, 19, 21, 2,  4,  18,
                                   20, 11, 3,  6,  8,  12, 14, 16, 10, 22, 25, 24, 23};
  unsigned sum = 0;
  for (size_t i = 0; i < 22; i++) {
    char ch = bban[1 + i];
    unsigned value = ch >= 'A' ? (unsigned)(ch - 'A') : (unsigned)(ch - '0');
    sum += (i % 2 == 0) ? odd[value] : value;
  }
  bban[0] = (char)('A' + sum % 26);
}

static int national_no(char *bban) {
  static const unsigned weights[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  unsigned sum = 0;
  for (size_t i = 0; i < 10; i++) {
    sum += weights[i] * (unsigned)(bban[i] - '0');
  }
  unsigned r = sum % 11;
  if (r == 1) {
    return 0; /* check value 10: no such account number exists */
  }
  bban[10] = (char)('0' + (11 - r) % 11);
  return 1;
}

int iban_national_compute(const iban_country *c, char *bban) {
  size_t bban_len = (size_t)c->length - 4;
  switch (c->national) {
    case IBAN_NATIONAL_NONE: return 1;
    case IBAN_NATIONAL_BE: {
      unsigned r = digits_mod(bban, 10, 97);
      put2(bban + 10, r == 0 ? 97 : r);
      return 1;
    }
    case IBAN_NATIONAL_FR: national_fr(bban); return 1;
    case IBAN_NATIONAL_ES: national_es(bban); return 1;
    case IBAN_NATIONAL_IT: national_it(bban); return 1;
    case IBAN_NATIONAL_NO: return national_no(bban);
    case IBAN_NATIONAL_PT: {
      int check = iso7064_mod97_10_check(bban, bban_len - 2);
      assert(check >= 2);
      put2(bban + bban_len - 2, (unsigned)check);
      return 1;
    }
  }
  return 0;
}
