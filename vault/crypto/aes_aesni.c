/* AES key expansion and single-block encryption with AES-NI.
 *
 * The key schedule is computed word by word as FIPS 197 describes it, with
 * SubWord done by AESKEYGENASSIST: no S-box table is indexed by key bytes,
 * so the expansion does not leak the key through the cache. */

#include <immintrin.h>
#include <string.h>

/* Everything below may use these CPU features; callers dispatch on
 * them at run time. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("aes,sse4.1"))), apply_to = function)
#else
#pragma GCC target("aes,sse4.1")
#endif

#include "vault/crypto/ff1_internal.h"
#include "vault/util/secure_mem.h"


static uint32_t sub_word(uint32_t word) {
  /* AESKEYGENASSIST puts SubWord(dword 1) into dword 0 of its result. */
  __m128i x = _mm_set_epi32(0, 0, (int)word, 0);
  return (uint32_t)_mm_cvtsi128_si32(_mm_aeskeygenassist_si128(x, 0));
}

static uint32_t rotate_word(uint32_t word) {
  /* RotWord on a little-endian word: [a0 a1 a2 a3] -> [a1 a2 a3 a0]. */
  return (word >> 8) | (word << 24);
}

void aesni_expand_key(uint8_t *round_keys, unsigned *out_rounds, const uint8_t *raw,
                      size_t raw_len) {
  static const uint8_t rcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};
  size_t nk = raw_len / 4u;
  unsigned rounds = (unsigned)nk + 6u;
  size_t words_total = 4u * (rounds + 1u);
  uint32_t w[4u * AES_ROUND_KEYS_MAX];
  memcpy(w, raw, raw_len);
  for (size_t i = nk; i < words_total; i++) {
    uint32_t temp = w[i - 1u];
    if (i % nk == 0) {
      temp = rotate_word(sub_word(temp)) ^ rcon[i / nk - 1u];
    } else if (nk > 6u && i % nk == 4u) {
      temp = sub_word(temp);
    }
    w[i] = w[i - nk] ^ temp;
  }
  memcpy(round_keys, w, words_total * 4u);
  tv_wipe(w, sizeof w);
  *out_rounds = rounds;
}

int aesni_encrypt_block_cb(const void *key_ptr, uint8_t block[AES_BLOCK_BYTES]) {
  const ff1_key *key = key_ptr;
  const __m128i *rk = (const __m128i *)(const void *)key->round_keys;
  __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)block), rk[0]);
  for (unsigned r = 1; r < key->aes_rounds; r++) {
    x = _mm_aesenc_si128(x, rk[r]);
  }
  x = _mm_aesenclast_si128(x, rk[key->aes_rounds]);
  _mm_storeu_si128((__m128i *)(void *)block, x);
  return 0;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
