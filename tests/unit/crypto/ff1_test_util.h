/* Helpers shared by the FF1 tests: hex and radix-36 text conversion, the
 * list of implementations every test runs against, and the skip of an
 * implementation this CPU lacks (include after <cmocka.h>). */
#ifndef TV_TEST_FF1_TEST_UTIL_H
#define TV_TEST_FF1_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/crypto/cpu_flags.h"
#include "vault/crypto/ff1.h"

static const ff1_impl test_impls[] = {FF1_IMPL_AESNI, FF1_IMPL_VAES, FF1_IMPL_OPENSSL};
#define TEST_IMPL_COUNT (sizeof test_impls / sizeof test_impls[0])

/* The implementations whose checks were skipped, one bit per ff1_impl. */
static inline unsigned *test_impls_skipped(void) {
  static unsigned skipped;
  return &skipped;
}

/* test_impl_usable says whether to run |impl|'s checks: only if CPUID says
 * the CPU has what it needs, and then the library must agree (a test
 * failure otherwise). A skipped implementation is remembered for
 * test_exit_status. */
static inline int test_impl_usable(ff1_impl impl) {
  int cpu = test_cpu_supports_impl(impl);
  assert_int_equal(ff1_impl_available(impl), cpu);
  if (!cpu) {
    *test_impls_skipped() |= 1u << impl;
  }
  return cpu;
}

/* test_exit_status turns cmocka's failure count into the exit status:
 * failures fail; otherwise a skipped implementation makes the program
 * report a skip (77), naming it, instead of a pass. */
static inline int test_exit_status(int failures) {
  if (failures != 0) {
    return 1;
  }
  unsigned skipped = *test_impls_skipped();
  if (skipped == 0) {
    return 0;
  }
  printf("SKIPPED: checks of");
  for (unsigned i = 0; i < 8; i++) {
    if (skipped & (1u << i)) {
      printf(" %s", ff1_impl_name((ff1_impl)i));
    }
  }
  printf(": this CPU lacks the instructions (CPUID)\n");
  return TEST_EXIT_SKIPPED;
}

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
