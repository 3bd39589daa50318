#include "vault/format/alphabet.h"

#include <string.h>

#include "vault/format/format_internal.h"

static const char radix_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static const tv_alphabet digits_alphabet = {.chars = "0123456789", .size = 10};
static const tv_alphabet alnum_upper_alphabet = {
    .chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", .size = 36};

const tv_alphabet *alphabet_digits(void) { return &digits_alphabet; }

const tv_alphabet *alphabet_alnum_upper(void) { return &alnum_upper_alphabet; }

tv_status alphabet_init(tv_alphabet *out, const char *chars, size_t len) {
  TV_ENSURE(out != NULL && (chars != NULL || len == 0), TV_E_INVALID_ARGUMENT);
  TV_ENSURE(len >= 2 && len <= ALPHABET_SIZE_MAX, TV_E_ALPHABET_SIZE);
  uint8_t seen[256] = {0};
  for (size_t i = 0; i < len; i++) {
    uint8_t c = (uint8_t)chars[i];
    /* The alphabet itself is configuration, not a secret. */
    TV_ENSURE(!seen[c], TV_E_ALPHABET_DUPLICATE);
    seen[c] = 1;
  }
  memset(out, 0, sizeof *out);
  memcpy(out->chars, chars, len);
  out->size = (unsigned)len;
  return TV_OK;
}

tv_status alphabet_init_radix(tv_alphabet *out, unsigned radix) {
  TV_ENSURE(out != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(radix >= 2 && radix <= 36, TV_E_FF1_RADIX);
  return alphabet_init(out, radix_chars, radix);
}

/* 0xFF if a == b else 0, without a branch. */
static uint8_t byte_eq_mask(uint8_t a, uint8_t b) {
  unsigned x = (unsigned)(a ^ b);
  /* x - 1 underflows (bit 8 set) only when x == 0. */
  return (uint8_t)(0u - (((x - 1u) >> 8) & 1u));
}

tv_status alphabet_to_numerals(const tv_alphabet *alphabet, const char *text, size_t len,
                               uint8_t *out, size_t *out_bad_index) {
  TV_ENSURE(alphabet != NULL && alphabet->size >= 2 && alphabet->size <= ALPHABET_SIZE_MAX,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE((text != NULL && out != NULL) || len == 0, TV_E_INVALID_ARGUMENT);
  for (size_t i = 0; i < len; i++) {
    uint8_t c = (uint8_t)text[i];
    uint8_t index = 0;
    uint8_t found = 0;
    /* Every character of the alphabet is compared, whatever c is. */
    for (unsigned j = 0; j < alphabet->size; j++) {
      uint8_t m = byte_eq_mask(alphabet->chars[j], c);
      index |= (uint8_t)(m & (uint8_t)j);
      found |= m;
    }
    if (!found) {
      if (out_bad_index != NULL) {
        *out_bad_index = i;
      }
      return TV_E_ALPHABET_CHAR;
    }
    out[i] = index;
  }
  return TV_OK;
}

tv_status alphabet_to_text(const tv_alphabet *alphabet, const uint8_t *numerals, size_t len,
                           char *out) {
  TV_ENSURE(alphabet != NULL && alphabet->size >= 2 && alphabet->size <= ALPHABET_SIZE_MAX,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE((numerals != NULL && out != NULL) || len == 0, TV_E_INVALID_ARGUMENT);
  for (size_t i = 0; i < len; i++) {
    TV_ENSURE(numerals[i] < alphabet->size, TV_E_FF1_NUMERAL);
  }
  for (size_t i = 0; i < len; i++) {
    uint8_t c = 0;
    for (unsigned j = 0; j < alphabet->size; j++) {
      c |= (uint8_t)(byte_eq_mask((uint8_t)j, numerals[i]) & alphabet->chars[j]);
    }
    out[i] = (char)c;
  }
  return TV_OK;
}
