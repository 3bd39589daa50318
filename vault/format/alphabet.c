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

#if defined(__SSE2__)
#include <emmintrin.h>

/* Both mappings work on 16 characters at a time and compare them with
 * every character of the alphabet in turn: the work depends only on the
 * alphabet size and the length, never on the (secret) characters, and the
 * numeral or character is assembled with masks, not looked up. */

typedef struct block16 {
  __m128i bytes;
  size_t count; /* 1..16 meaningful bytes */
} block16;

static block16 load_block(const uint8_t *p, size_t remaining) {
  block16 b = {.count = remaining < 16u ? remaining : 16u};
  uint8_t tmp[16] = {0};
  memcpy(tmp, p, b.count);
  b.bytes = _mm_loadu_si128((const __m128i *)(const void *)tmp);
  return b;
}

static void store_block(uint8_t *p, const block16 *b) {
  uint8_t tmp[16];
  _mm_storeu_si128((__m128i *)(void *)tmp, b->bytes);
  memcpy(p, tmp, b->count);
}

tv_status alphabet_to_numerals(const tv_alphabet *alphabet, const char *text, size_t len,
                               uint8_t *out, size_t *out_bad_index) {
  TV_ENSURE(alphabet != NULL && alphabet->size >= 2 && alphabet->size <= ALPHABET_SIZE_MAX,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE((text != NULL && out != NULL) || len == 0, TV_E_INVALID_ARGUMENT);
  for (size_t i = 0; i < len; i += 16u) {
    block16 in = load_block((const uint8_t *)text + i, len - i);
    __m128i index = _mm_setzero_si128(), found = _mm_setzero_si128();
    for (unsigned j = 0; j < alphabet->size; j++) {
      __m128i hit = _mm_cmpeq_epi8(in.bytes, _mm_set1_epi8((char)alphabet->chars[j]));
      index = _mm_or_si128(index, _mm_and_si128(hit, _mm_set1_epi8((char)j)));
      found = _mm_or_si128(found, hit);
    }
    unsigned want = (1u << in.count) - 1u;
    unsigned got = (unsigned)_mm_movemask_epi8(found) & want;
    if (got != want) {
      if (out_bad_index != NULL) {
        *out_bad_index = i + (size_t)__builtin_ctz(~got);
      }
      return TV_E_ALPHABET_CHAR;
    }
    block16 numerals = {.bytes = index, .count = in.count};
    store_block(out + i, &numerals);
  }
  return TV_OK;
}

tv_status alphabet_to_text(const tv_alphabet *alphabet, const uint8_t *numerals, size_t len,
                           char *out) {
  TV_ENSURE(alphabet != NULL && alphabet->size >= 2 && alphabet->size <= ALPHABET_SIZE_MAX,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE((numerals != NULL && out != NULL) || len == 0, TV_E_INVALID_ARGUMENT);
  unsigned bad = 0;
  for (size_t i = 0; i < len; i++) {
    bad |= (unsigned)(numerals[i] >= alphabet->size);
  }
  TV_ENSURE(!bad, TV_E_FF1_NUMERAL);
  for (size_t i = 0; i < len; i += 16u) {
    block16 in = load_block(numerals + i, len - i);
    __m128i chars = _mm_setzero_si128();
    for (unsigned j = 0; j < alphabet->size; j++) {
      __m128i hit = _mm_cmpeq_epi8(in.bytes, _mm_set1_epi8((char)j));
      chars = _mm_or_si128(chars, _mm_and_si128(hit, _mm_set1_epi8((char)alphabet->chars[j])));
    }
    block16 text = {.bytes = chars, .count = in.count};
    store_block((uint8_t *)out + i, &text);
  }
  return TV_OK;
}

#else /* portable: the same scan, one character at a time */

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

#endif
