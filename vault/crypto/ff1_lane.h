/* The per-input state of the integer FF1 rounds and the pieces of a round
 * shared by the AES-NI and VAES kernels. Include after the target pragma
 * (SSE4.1 intrinsics). */
#ifndef TV_CRYPTO_FF1_LANE_H
#define TV_CRYPTO_FF1_LANE_H

#include <immintrin.h>

#include "vault/crypto/ff1_arith.h"

#define BATCH_LANES 8

/* One input's state in the integer rounds. k0 is CBC-MAC state after P and
 * the tweak blocks, xor the constant part of Q's last block, xor round key
 * 0: each round only xors in [i] and NUM(B). */
typedef struct lane {
  __m128i k0;
  uint64_t a, b;
} lane;

/* The block holding [i] at byte 15 - b of Q's last block: byte 15 - b is
 * in the high half for b < 8 and is the top byte of the low half for
 * b = 8. */
static inline __m128i round_index_block(uint32_t b, unsigned i) {
  uint64_t hi = b < 8u ? (uint64_t)i << (8u * (7u - b)) : 0;
  uint64_t lo = b < 8u ? 0 : (uint64_t)i << 56;
  return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* y = NUM(first d bytes of R) reduced mod radix^m. */
static inline uint64_t round_y_mod(__m128i r, const ff1_shape *sh, const int odd, const int d12) {
  uint64_t y_hi = __builtin_bswap64((uint64_t)_mm_cvtsi128_si64(r));
  uint64_t m = odd ? sh->modulus_v : sh->modulus_u;
  if (!d12) {
    return mod_u64(y_hi, m, odd ? sh->barrett64_v : sh->barrett64_u);
  }
  uint32_t y_lo = __builtin_bswap32((uint32_t)_mm_extract_epi32(r, 2));
  u128 y = ((u128)y_hi << 32) | y_lo;
  return mod_u128(y, m, odd ? sh->barrett128_v : sh->barrett128_u);
}

/* The AES input of a round for one lane: k0 xor [i] xor NUM(B) (NUM(A)
 * when decrypting) in the last b bytes. */
static inline __attribute__((always_inline)) __m128i lane_round_input(
    const lane *ln, __m128i index_block, uint64_t a, uint64_t b, const int decrypt) {
  uint64_t q_num = decrypt ? a : b;
  __m128i nb = _mm_set_epi64x((long long)__builtin_bswap64(q_num), 0);
  return _mm_xor_si128(_mm_xor_si128(ln->k0, index_block), nb);
}

/* Finishes a round for one lane from its AES output |r|: the Feistel add
 * (subtract when decrypting) and the swap of the halves. */
static inline __attribute__((always_inline)) void lane_round_finish(
    __m128i r, const ff1_shape *sh, uint64_t *a, uint64_t *b, const int odd, const int d12,
    const int decrypt) {
  const uint64_t m = odd ? sh->modulus_v : sh->modulus_u;
  if (!decrypt && !d12) {
    uint64_t y = __builtin_bswap64((uint64_t)_mm_cvtsi128_si64(r));
    uint64_t c = add_mod_d8(*a, y, m, odd ? sh->barrett64_v : sh->barrett64_u);
    *a = *b;
    *b = c;
    return;
  }
  uint64_t y = round_y_mod(r, sh, odd, d12);
  if (!decrypt) {
    uint64_t c = add_mod(*a, y, m);
    *a = *b;
    *b = c;
  } else {
    uint64_t c = sub_mod(*b, y, m);
    *b = *a;
    *a = c;
  }
}

/* VAES batch kernel (ff1_vaes.c): ten rounds on BATCH_LANES lanes. */
int ff1_vaes_cpu_supported(void);
void ff1_vaes_batch_kernel(const ff1_key *key, const ff1_shape *sh, lane *lanes, int decrypt);

#endif
