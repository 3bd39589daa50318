/* Parameter rules of SP 800-38G and the quantities derived from them. */
#include <string.h>

#include "vault/crypto/ff1_internal.h"

/* radix^length >= FF1_DOMAIN_MIN, computed without overflow. */
static int domain_reaches_floor(unsigned radix, size_t length) {
  uint64_t domain = 1;
  for (size_t i = 0; i < length; i++) {
    domain *= radix;
    if (domain >= FF1_DOMAIN_MIN) {
      return 1;
    }
  }
  return 0;
}

tv_status ff1_check_params(unsigned radix, size_t length, size_t tweak_len) {
  TV_ENSURE(radix >= FF1_RADIX_MIN && radix <= FF1_RADIX_MAX, TV_E_FF1_RADIX);
  TV_ENSURE(length <= FF1_LENGTH_MAX, TV_E_FF1_TOO_LONG);
  /* The floor also implies length >= 2, which FF1 needs for two halves. */
  TV_ENSURE(length >= 2 && domain_reaches_floor(radix, length), TV_E_FF1_DOMAIN_TOO_SMALL);
  TV_ENSURE(tweak_len <= FF1_TWEAK_MAX, TV_E_FF1_TWEAK_TOO_LONG);
  return TV_OK;
}

tv_status ff1_check_numerals(unsigned radix, const uint8_t *numerals, size_t length) {
  /* Accumulate instead of returning early: the scan takes the same time
   * whatever the (secret) numerals are. */
  unsigned bad = 0;
  for (size_t i = 0; i < length; i++) {
    bad |= (unsigned)(numerals[i] >= radix);
  }
  return bad ? TV_E_FF1_NUMERAL : TV_OK;
}

/* b = ceil(ceil(v*log2(radix))/8). ceil(v*log2(radix)) is the bit length
 * of radix^v - 1 (for every radix >= 2), which we count exactly by tracking
 * radix^v as a floating-point-free product of bit lengths: for a power of
 * two radix = 2^k it is v*k; otherwise it is the bit length of radix^v. */
uint32_t ff1_b_bytes(unsigned radix, size_t v) {
  if ((radix & (radix - 1u)) == 0) {
    unsigned k = (unsigned)__builtin_ctz(radix);
    return (uint32_t)((v * k + 7u) / 8u);
  }
  /* Bit length of radix^v by repeated multiplication of a little-endian
   * byte number; v <= FF1_LENGTH_MAX and radix <= 256 bound it by
   * FF1_LENGTH_MAX bytes. */
  uint8_t num[FF1_LENGTH_MAX + 1];
  size_t used = 1;
  num[0] = 1;
  for (size_t i = 0; i < v; i++) {
    unsigned carry = 0;
    for (size_t j = 0; j < used; j++) {
      unsigned x = num[j] * radix + carry;
      num[j] = (uint8_t)x;
      carry = x >> 8;
    }
    if (carry != 0) {
      num[used++] = (uint8_t)carry;
    }
  }
  unsigned top_bits = 32u - (unsigned)__builtin_clz(num[used - 1]);
  size_t bits = (used - 1) * 8u + top_bits;
  return (uint32_t)((bits + 7u) / 8u);
}

void ff1_build_p(uint8_t p[16], unsigned radix, size_t length, size_t tweak_len) {
  size_t u = length / 2;
  p[0] = 1;
  p[1] = 2;
  p[2] = 1;
  p[3] = (uint8_t)(radix >> 16);
  p[4] = (uint8_t)(radix >> 8);
  p[5] = (uint8_t)radix;
  p[6] = 10;
  p[7] = (uint8_t)(u % 256u);
  p[8] = (uint8_t)(length >> 24);
  p[9] = (uint8_t)(length >> 16);
  p[10] = (uint8_t)(length >> 8);
  p[11] = (uint8_t)length;
  p[12] = (uint8_t)(tweak_len >> 24);
  p[13] = (uint8_t)(tweak_len >> 16);
  p[14] = (uint8_t)(tweak_len >> 8);
  p[15] = (uint8_t)tweak_len;
}
