/* Helpers shared by the FF1 tests: hex and radix-36 text conversion, and
 * the list of implementations every test runs against. */
#ifndef TV_TEST_FF1_TEST_UTIL_H
#define TV_TEST_FF1_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vault/crypto/ff1.h"

static const ff1_impl test_impls[] = {FF1_IMPL_AESNI, FF1_IMPL_VAES, FF1_IMPL_OPENSSL};
#define TEST_IMPL_COUNT (sizeof test_impls / sizeof test_impls[0])

static inline size_t test_hex_decode(const char *hex, uint8_t *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v = 0;
    for (int k = 0; k < 2; k++) {
      char c = hex[2 * i + (size_t)k];
      unsigned nib = (c >= '0' && c <= '9') ? (unsigned)(c - '0')
                     : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                                              : (unsigned)(c - 'A' + 10);
      v = v * 16u + nib;
    }
    out[i] = (uint8_t)v;
  }
  return n;
}

static inline size_t test_text_to_numerals(const char *text, uint8_t *out) {
  size_t n = strlen(text);
  for (size_t i = 0; i < n; i++) {
    char c = text[i];
    out[i] = (uint8_t)((c >= '0' && c <= '9') ? c - '0' : c - 'a' + 10);
  }
  return n;
}

static inline void test_numerals_to_text(const uint8_t *numerals, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[i] = (char)(numerals[i] < 10 ? '0' + numerals[i] : 'a' + numerals[i] - 10);
  }
  out[n] = '\0';
}

#endif
