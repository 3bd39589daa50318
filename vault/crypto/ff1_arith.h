/* Integer arithmetic of the FF1 fast paths: Barrett reductions, modular
 * add and subtract, numeral conversion. Everything on secret values is
 * branch-free: selects are CMOV in inline assembly, because a compiler may
 * turn a plain select on secret data into a branch. x86-64 only; included
 * by the AES-NI and VAES implementation files. */
#ifndef TV_CRYPTO_FF1_ARITH_H
#define TV_CRYPTO_FF1_ARITH_H

#include <stddef.h>
#include <stdint.h>

#include "vault/crypto/ff1_internal.h"

__extension__ typedef unsigned __int128 u128;

static inline uint64_t mulhi64(uint64_t a, uint64_t b) {
  return (uint64_t)(((u128)a * b) >> 64);
}

/* Returns x >= y ? if_ge : if_lt through CMOV. Written in assembly
 * because a compiler may turn a plain select on secret data into a
 * branch (GCC does in the eight-lane kernels), which would leak timing. */
static inline uint64_t select_ge(uint64_t x, uint64_t y, uint64_t if_ge, uint64_t if_lt) {
  __asm__("cmpq %[y], %[x]\n\tcmovaeq %[ge], %[out]"
          : [out] "+r"(if_lt)
          : [x] "r"(x), [y] "r"(y), [ge] "r"(if_ge)
          : "cc");
  return if_lt;
}

/* |x| mod |m| for x < 2^64, given mu = floor((2^64-1)/m). The estimate
 * q = floor(x*mu/2^64) is q_true or q_true - 1, so one masked subtraction
 * finishes the job. */
static inline uint64_t mod_u64(uint64_t x, uint64_t m, uint64_t mu) {
  uint64_t r = x - mulhi64(x, mu) * m;
  return select_ge(r, m, r - m, r);
}

/* |y| mod |m| for y < 2^128, given mu = floor((2^128-1)/m) as {lo, hi};
 * the same one-correction argument as mod_u64, one size up. */
static inline uint64_t mod_u128(u128 y, uint64_t m, const uint64_t mu[2]) {
  uint64_t y0 = (uint64_t)y, y1 = (uint64_t)(y >> 64);
  u128 p00 = (u128)y0 * mu[0];
  u128 p01 = (u128)y0 * mu[1];
  u128 p10 = (u128)y1 * mu[0];
  u128 p11 = (u128)y1 * mu[1];
  u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
  u128 q = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
  u128 r = y - q * m; /* r < 2m < 2^65 */
  uint64_t lo = (uint64_t)r, hi = (uint64_t)(r >> 64), reduced = lo;
  /* reduced = r - m unless that borrows out of the high word. */
  __asm__("subq %[m], %[red]\n\tsbbq $0, %[hi]\n\tcmovbq %[lo], %[red]"
          : [red] "+&r"(reduced), [hi] "+&r"(hi)
          : [m] "r"(m), [lo] "r"(lo)
          : "cc");
  return reduced;
}

/* NUM_radix of |len| numerals; ORs 1 into |*bad| if one is >= radix (the
 * scan is the same whatever the numerals are). */
static inline uint64_t num_from_numerals(const uint8_t *numerals, size_t len, unsigned radix,
                                         unsigned *bad) {
  uint64_t x = 0;
  unsigned out_of_range = 0;
  for (size_t i = 0; i < len; i++) {
    out_of_range |= (unsigned)(numerals[i] >= radix);
    x = x * radix + numerals[i];
  }
  *bad |= out_of_range;
  return x;
}

/* Writes STR_radix^len(x): each step divides by the radix with a Barrett
 * estimate q and fixes q and the remainder with one comparison. */
static inline __attribute__((always_inline)) void numerals_from_num(uint64_t x, uint8_t *out, size_t len, const ff1_shape *sh) {
  const uint64_t radix = sh->radix;
  for (size_t i = len; i-- > 0;) {
    uint64_t q = mulhi64(x, sh->barrett_radix);
    uint64_t r = x - q * radix;
    uint64_t r_fixed = r - radix, q_fixed = q + 1u;
    __asm__("cmpq %[radix], %[r]\n\tcmovaeq %[rf], %[r]\n\tcmovaeq %[qf], %[q]"
            : [r] "+&r"(r), [q] "+&r"(q)
            : [radix] "r"(radix), [rf] "r"(r_fixed), [qf] "r"(q_fixed)
            : "cc");
    out[i] = (uint8_t)r;
    x = q;
  }
}

/* (x + (y mod m)) mod m for d = 8, where m <= 2^32 and y < 2^64: the
 * Barrett remainder r < 2m is left unreduced, x + r < 3m, and one pair of
 * comparisons picks x + r, x + r - m or x + r - 2m. Two instructions
 * shorter than reducing twice. */
static inline uint64_t add_mod_d8(uint64_t x, uint64_t y, uint64_t m, uint64_t mu) {
  uint64_t c = x + (y - mulhi64(y, mu) * m);
  uint64_t c_minus_m = c - m, c_minus_2m = c - 2u * m, out = c;
  __asm__("cmpq %[m], %[c]\n\tcmovaeq %[c1], %[out]\n\t"
          "cmpq %[m2], %[c]\n\tcmovaeq %[c2], %[out]"
          : [out] "+&r"(out)
          : [c] "r"(c), [m] "r"(m), [m2] "r"(2u * m), [c1] "r"(c_minus_m), [c2] "r"(c_minus_2m)
          : "cc");
  return out;
}

/* (x + y) mod m for x, y < m. radix^m can exceed 2^63, so x + y may not
 * fit in 64 bits: compare x with m - y instead of the sum with m. */
static inline uint64_t add_mod(uint64_t x, uint64_t y, uint64_t m) {
  uint64_t room = m - y;
  return select_ge(x, room, x - room, x + y);
}

/* (x - y) mod m for x, y < m. */
static inline uint64_t sub_mod(uint64_t x, uint64_t y, uint64_t m) {
  uint64_t c = x - y;
  return select_ge(x, y, c, c + m);
}

#endif
