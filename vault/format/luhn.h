/* The Luhn (mod 10) check used by payment card numbers. */
#ifndef TV_FORMAT_LUHN_H
#define TV_FORMAT_LUHN_H

#include <stddef.h>

/* luhn_sum returns the Luhn sum mod 10 of the |len| decimal digits of
 * |digits| (the last digit weighted 1), without branching on digit values.
 * A number is Luhn-valid when this is 0. Non-digits give a meaningless
 * result: validate the characters first. */
unsigned luhn_sum(const char *digits, size_t len);

/* luhn_valid returns 1 if the |len| digits pass the Luhn check, else 0
 * (also 0 for len == 0 or a non-digit). */
int luhn_valid(const char *digits, size_t len);

/* luhn_check_digit returns the digit ('0'..'9') that, appended to the
 * |len| digits of |payload|, makes the number Luhn-valid. */
char luhn_check_digit(const char *payload, size_t len);

#endif
