/* The batch kernel of the fast FF1 on VAES: the eight lanes of a group
 * travel in pairs through 256-bit registers, so each AES round of the group
 * is four VAESENC instructions instead of eight. The Feistel arithmetic is
 * the same as the AES-NI kernel's (ff1_lane.h), so both pass the same
 * vectors; only the AES part differs. Chosen when the CPU has VAES and
 * AVX2 (FF1_IMPL_VAES). */

#include <cpuid.h>
#include <immintrin.h>

/* Everything below may use these CPU features; callers dispatch on
 * them at run time. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("aes,sse4.1,ssse3,avx,avx2,vaes"))), apply_to = function)
#else
#pragma GCC target("aes,sse4.1,ssse3,avx,avx2,vaes")
#endif

#include "vault/crypto/ff1_internal.h"
#include "vault/crypto/ff1_lane.h"


#define PAIRS (BATCH_LANES / 2)

int ff1_vaes_cpu_supported(void) {
  /* __builtin_cpu_supports("avx2") also checks that the OS saves the YMM
   * registers; VAES is read from CPUID leaf 7 (ECX bit 9) because clang 14
   * has no name for it. */
  __builtin_cpu_init();
  unsigned eax, ebx, ecx, edx;
  if (!ff1_aesni_cpu_supported() || !__builtin_cpu_supports("avx2") ||
      !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    return 0;
  }
  return (ecx >> 9) & 1u;
}

static inline __attribute__((always_inline)) void vaes_round(
    const __m256i *rk2, const ff1_shape *sh, const lane *ln, uint64_t *a, uint64_t *b,
    unsigned i, const int odd, const unsigned nr, const int d12, const int decrypt) {
  __m256i x[PAIRS];
  const __m128i index_block = round_index_block(sh->b, i);
  for (int p = 0; p < PAIRS; p++) {
    int lo = 2 * p, hi = 2 * p + 1;
    x[p] = _mm256_set_m128i(lane_round_input(&ln[hi], index_block, a[hi], b[hi], decrypt),
                            lane_round_input(&ln[lo], index_block, a[lo], b[lo], decrypt));
  }
  for (unsigned r = 1; r < nr; r++) {
    for (int p = 0; p < PAIRS; p++) {
      x[p] = _mm256_aesenc_epi128(x[p], rk2[r]);
    }
  }
  for (int p = 0; p < PAIRS; p++) {
    x[p] = _mm256_aesenclast_epi128(x[p], rk2[nr]);
    int lo = 2 * p, hi = 2 * p + 1;
    lane_round_finish(_mm256_castsi256_si128(x[p]), sh, &a[lo], &b[lo], odd, d12, decrypt);
    lane_round_finish(_mm256_extracti128_si256(x[p], 1), sh, &a[hi], &b[hi], odd, d12, decrypt);
  }
}

static inline __attribute__((always_inline)) void vaes_kernel(const ff1_key *key,
                                                              const ff1_shape *sh, lane *ln,
                                                              const unsigned nr, const int d12,
                                                              const int decrypt) {
  const __m128i *rk = (const __m128i *)(const void *)key->round_keys;
  __m256i rk2[AES_ROUND_KEYS_MAX];
  for (unsigned r = 0; r <= nr; r++) {
    rk2[r] = _mm256_broadcastsi128_si256(rk[r]);
  }
  uint64_t a[BATCH_LANES], b[BATCH_LANES];
  for (int l = 0; l < BATCH_LANES; l++) {
    a[l] = ln[l].a;
    b[l] = ln[l].b;
  }
  for (unsigned k = 0; k < FF1_ROUNDS; k += 2u) {
    if (!decrypt) {
      vaes_round(rk2, sh, ln, a, b, k, 0, nr, d12, decrypt);
      vaes_round(rk2, sh, ln, a, b, k + 1u, 1, nr, d12, decrypt);
    } else {
      vaes_round(rk2, sh, ln, a, b, FF1_ROUNDS - 1u - k, 1, nr, d12, decrypt);
      vaes_round(rk2, sh, ln, a, b, FF1_ROUNDS - 2u - k, 0, nr, d12, decrypt);
    }
  }
  for (int l = 0; l < BATCH_LANES; l++) {
    ln[l].a = a[l];
    ln[l].b = b[l];
  }
}

typedef void (*vaes_kernel_fn)(const ff1_key *key, const ff1_shape *sh, lane *ln);

#define DEFINE_VAES_KERNEL(NR, D12, DEC)                                                  \
  static void vaes_kernel_##NR##_##D12##_##DEC(const ff1_key *key, const ff1_shape *sh, \
                                               lane *ln) {                              \
    vaes_kernel(key, sh, ln, NR, D12, DEC);                                             \
  }
#define DEFINE_VAES_KERNELS_FOR(NR) \
  DEFINE_VAES_KERNEL(NR, 0, 0)      \
  DEFINE_VAES_KERNEL(NR, 0, 1)      \
  DEFINE_VAES_KERNEL(NR, 1, 0)      \
  DEFINE_VAES_KERNEL(NR, 1, 1)
DEFINE_VAES_KERNELS_FOR(10)
DEFINE_VAES_KERNELS_FOR(12)
DEFINE_VAES_KERNELS_FOR(14)

#define VAES_KERNEL_ROW(NR)                                      \
  {{vaes_kernel_##NR##_0_0, vaes_kernel_##NR##_0_1},             \
   {vaes_kernel_##NR##_1_0, vaes_kernel_##NR##_1_1}}

/* vaes_kernels[key size][d12][decrypt] */
static const vaes_kernel_fn vaes_kernels[3][2][2] = {VAES_KERNEL_ROW(10), VAES_KERNEL_ROW(12),
                                                     VAES_KERNEL_ROW(14)};

void ff1_vaes_batch_kernel(const ff1_key *key, const ff1_shape *sh, lane *lanes, int decrypt) {
  size_t size_index = (key->aes_rounds - 10u) / 2u;
  vaes_kernels[size_index][sh->d == 12u][decrypt != 0](key, sh, lanes);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
