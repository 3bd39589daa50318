/* ISO/IEC 7064 check character systems used by IBANs and national IDs. */
#ifndef TV_FORMAT_ISO7064_H
#define TV_FORMAT_ISO7064_H

#include <stddef.h>

/* iso7064_mod97_remainder returns the remainder mod 97 of the number
 * written by the |len| characters of |s|, digits as themselves and letters
 * (either case) as 10..35 (the IBAN convention), or -1 if a character is
 * neither. */
int iso7064_mod97_remainder(const char *s, size_t len);

/* iso7064_mod97_10_check returns the two check digits (2..98) that make
 * |s| followed by them have remainder 1 mod 97 (MOD 97-10), or -1 for a
 * character that is not alphanumeric. */
int iso7064_mod97_10_check(const char *s, size_t len);

/* iso7064_mod11_2_check returns the MOD 11-2 check character ('0'..'9' or
 * 'X') of the |len| decimal digits of |digits| (as in PRC resident IDs). */
char iso7064_mod11_2_check(const char *digits, size_t len);

/* iso7064_mod11_10_check returns the MOD 11,10 check digit ('0'..'9') of
 * the |len| decimal digits of |digits| (as in German tax IDs). */
char iso7064_mod11_10_check(const char *digits, size_t len);

#endif
