/* The CPU features the fast FF1 paths need, read from CPUID here rather
 * than asked of the code under test: a test may skip an AES-NI or VAES
 * check (exit 77, ctest's SKIP_RETURN_CODE) only when this reading says
 * the CPU lacks the feature, and fails when the library disagrees with it
 * (a broken detection must not pass as "no AES-NI here"). */
#ifndef TV_TEST_CPU_FLAGS_H
#define TV_TEST_CPU_FLAGS_H

#include <stdint.h>

#include "vault/crypto/ff1.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* AES-NI with SSSE3 and SSE4.1: CPUID leaf 1, ECX bits 25, 9 and 19. */
static inline int test_cpu_has_aesni(void) {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    return 0;
  }
  return ((ecx >> 25) & 1u) && ((ecx >> 9) & 1u) && ((ecx >> 19) & 1u);
}

/* AVX2 usable: the CPU has it (leaf 7 EBX bit 5) and the OS saves the
 * YMM registers (leaf 1 ECX bit 27 OSXSAVE, XCR0 bits 1 and 2). */
static inline int test_cpu_has_avx2(void) {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !((ecx >> 27) & 1u)) {
    return 0;
  }
  uint32_t xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  (void)xcr0_hi;
  if ((xcr0_lo & 6u) != 6u || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    return 0;
  }
  return (ebx >> 5) & 1u;
}

/* VAES: leaf 7 ECX bit 9, on top of AES-NI and AVX2. */
static inline int test_cpu_has_vaes(void) {
  unsigned eax, ebx, ecx, edx;
  if (!test_cpu_has_aesni() || !test_cpu_has_avx2() || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    return 0;
  }
  return (ecx >> 9) & 1u;
}
#else
static inline int test_cpu_has_aesni(void) { return 0; }
static inline int test_cpu_has_vaes(void) { return 0; }
#endif

/* test_cpu_supports_impl: whether this CPU can run |impl|. */
static inline int test_cpu_supports_impl(ff1_impl impl) {
  switch (impl) {
    case FF1_IMPL_AESNI:
      return test_cpu_has_aesni();
    case FF1_IMPL_VAES:
      return test_cpu_has_vaes();
    case FF1_IMPL_OPENSSL:
    case FF1_IMPL_AUTO:
      return 1;
  }
  return 0;
}

/* The exit status for a test that skipped some implementation's checks. */
#define TEST_EXIT_SKIPPED 77

#endif
