/* Alphabets: the mapping between a value's characters and FF1 numerals.
 *
 * An alphabet is 2..256 distinct bytes; the character at position i is
 * numeral i. Lookups scan the whole alphabet for every character, so their
 * timing does not depend on the (secret) value. */
#ifndef TV_FORMAT_ALPHABET_H
#define TV_FORMAT_ALPHABET_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

#define ALPHABET_SIZE_MAX 256u

typedef struct tv_alphabet {
  uint8_t chars[ALPHABET_SIZE_MAX];
  unsigned size;
} tv_alphabet;

/* alphabet_init makes |out| from the |len| bytes of |chars|.
 * TV_E_ALPHABET_SIZE if len is not 2..256, TV_E_ALPHABET_DUPLICATE if a byte
 * repeats. */
tv_status alphabet_init(tv_alphabet *out, const char *chars, size_t len);

/* alphabet_init_radix makes the alphabet of the first |radix| characters of
 * "0123456789abcdefghijklmnopqrstuvwxyz" (radix 2..36). */
tv_status alphabet_init_radix(tv_alphabet *out, unsigned radix);

/* alphabet_to_numerals maps |len| characters of |text| to numerals in
 * |out|. On TV_E_ALPHABET_CHAR, *out_bad_index (if not NULL) is the index of
 * the first character not in the alphabet. */
tv_status alphabet_to_numerals(const tv_alphabet *alphabet, const char *text, size_t len,
                               uint8_t *out, size_t *out_bad_index);

/* alphabet_to_text maps |len| numerals (each < size) to characters in
 * |out| (no terminator written). TV_E_FF1_NUMERAL if one is out of range. */
tv_status alphabet_to_text(const tv_alphabet *alphabet, const uint8_t *numerals, size_t len,
                           char *out);

#endif
