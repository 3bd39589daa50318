/* The IBAN country table and the national check digits recomputed inside
 * some BBANs. Internal to vault/format/. */
#ifndef TV_FORMAT_IBAN_COUNTRIES_H
#define TV_FORMAT_IBAN_COUNTRIES_H

#include <stddef.h>
#include <stdint.h>

#define IBAN_LENGTH_MAX 34u
#define IBAN_NATIONAL_CHECK_MAX 2u

/* National check digits inside the BBAN that tokens recompute. */
typedef enum iban_national {
  IBAN_NATIONAL_NONE = 0,
  IBAN_NATIONAL_BE,  /* last 2: first 10 digits mod 97 (0 -> 97) */
  IBAN_NATIONAL_FR,  /* RIB key (FR, MC): last 2 */
  IBAN_NATIONAL_ES,  /* DC: 2 digits after bank + branch, mod 11 */
  IBAN_NATIONAL_IT,  /* CIN letter (IT, SM): first BBAN character */
  IBAN_NATIONAL_NO,  /* last digit, mod 11 weights 5432765432 */
  IBAN_NATIONAL_PT,  /* NIB: last 2, ISO 7064 MOD 97-10 */
} iban_national;

typedef struct iban_country {
  char code[3];
  uint8_t length;    /* whole IBAN */
  uint8_t keep_off;  /* bank (and branch) identifier within the BBAN */
  uint8_t keep_len;
  uint8_t alnum;     /* the account part may hold letters */
  iban_national national;
} iban_country;

/* iban_country_count returns the number of rows of the table. */
size_t iban_country_count(void);

/* iban_country_at returns row |i| (< iban_country_count()). */
const iban_country *iban_country_at(size_t i);

/* iban_country_find returns the index of |code| (2 upper-case letters) in
 * the table, or -1. */
int iban_country_find(const char *code);

/* iban_national_positions writes the BBAN offsets of |c|'s national check
 * characters to |pos| and returns how many there are (0..2). */
size_t iban_national_positions(const iban_country *c, uint8_t pos[IBAN_NATIONAL_CHECK_MAX]);

/* iban_national_compute writes the national check characters of |bban|
 * (|c|'s BBAN, other characters already final) at their positions in
 * |bban|. Returns 0 if no check characters exist for this BBAN (a
 * Norwegian remainder of 1), 1 otherwise. */
int iban_national_compute(const iban_country *c, char *bban);

#endif
