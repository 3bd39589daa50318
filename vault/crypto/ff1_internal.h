/* Internals shared by the FF1 implementations. Not part of the API. */
#ifndef TV_CRYPTO_FF1_INTERNAL_H
#define TV_CRYPTO_FF1_INTERNAL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/crypto/ff1.h"

#define FF1_ROUNDS 10u
#define AES_BLOCK_BYTES 16u
#define AES_ROUND_KEYS_MAX 15u

/* Encrypts one 16-byte block in place; returns 0 on success. The generic
 * (big-number) FF1 runs on any block cipher given this way. */
typedef int (*ff1_block_fn)(const void *cipher_ctx, uint8_t block[AES_BLOCK_BYTES]);

typedef struct ff1_cipher {
  ff1_block_fn encrypt_block;
  const void *ctx;
} ff1_cipher;

/* Per-shape constants of the integer path. A shape is (radix, length,
 * tweak length); everything here follows from it and the key. */
typedef struct ff1_shape {
  uint64_t tag;              /* ff1_shape_tag(radix, length, tweak_len) */
  uint8_t cipher_p[16];      /* CIPH_K(P): the CBC-MAC state after P */
  uint64_t modulus_u;        /* radix^u */
  uint64_t modulus_v;        /* radix^v */
  uint64_t barrett64_u;      /* floor((2^64-1)/radix^u), for d = 8 */
  uint64_t barrett64_v;
  uint64_t barrett128_u[2];  /* floor((2^128-1)/radix^u) as {lo, hi}, d = 12 */
  uint64_t barrett128_v[2];
  uint64_t barrett_radix;    /* floor((2^64-1)/radix), numeral extraction */
  uint32_t radix;
  uint32_t u, v;             /* halves: u = floor(n/2), v = n - u */
  uint32_t b;                /* bytes of NUM_radix(B) in Q */
  uint32_t d;                /* bytes of S used for y */
  uint32_t tweak_len;
} ff1_shape;

#define FF1_SHAPE_CACHE_SLOTS 64u
/* Shapes ever cached per key. A key sees a handful of shapes in practice
 * (one per value length and tweak length); past this, shapes are computed
 * per call instead of cached. */
#define FF1_SHAPE_ARENA_MAX 256u

/* The key's shape cache. Published shapes are immutable and never freed
 * before the key, so a reader keeps the pointer it loaded without locks:
 * a lookup is one acquire load and a tag compare. */
typedef struct ff1_shape_cache {
  _Atomic(const ff1_shape *) slot[FF1_SHAPE_CACHE_SLOTS]; /* direct-mapped */
  _Atomic unsigned arena_used;
  _Atomic unsigned char arena_ready[FF1_SHAPE_ARENA_MAX]; /* entry fully written */
  ff1_shape arena[FF1_SHAPE_ARENA_MAX];
} ff1_shape_cache;

struct ff1_key {
  alignas(16) uint8_t round_keys[AES_ROUND_KEYS_MAX * AES_BLOCK_BYTES];
  unsigned aes_rounds;    /* 10, 12 or 14 */
  ff1_impl impl;
  void *evp_template;     /* EVP_CIPHER_CTX (OpenSSL path only) */
  /* Mutable even through a const key: it only memoises pure functions of
   * the key, and every slot is published atomically. */
  ff1_shape_cache *shape_cache;
};

/* ff1_shape_tag packs a shape into one nonzero word. */
static inline uint64_t ff1_shape_tag(unsigned radix, size_t length, size_t tweak_len) {
  return ((uint64_t)radix << 48) | ((uint64_t)length << 24) | ((uint64_t)tweak_len << 8) | 1u;
}

/* ff1_b_bytes returns b = ceil(ceil(v * log2(radix)) / 8) exactly. */
uint32_t ff1_b_bytes(unsigned radix, size_t v);

/* ff1_check_numerals returns TV_E_FF1_NUMERAL if any numeral >= radix. */
tv_status ff1_check_numerals(unsigned radix, const uint8_t *numerals, size_t length);

/* ff1_build_p writes the 16-byte block P of SP 800-38G. */
void ff1_build_p(uint8_t p[16], unsigned radix, size_t length, size_t tweak_len);

/* The textbook algorithm with big-number arithmetic, on any block cipher.
 * Parameters must already be validated. */
tv_status ff1_generic_crypt(const ff1_cipher *cipher, int decrypt, unsigned radix,
                            const uint8_t *tweak, size_t tweak_len, const uint8_t *in,
                            size_t length, uint8_t *out);

/* OpenSSL EVP implementation (ff1_openssl.c). */
tv_status ff1_openssl_key_init(ff1_key *key, const uint8_t *raw, size_t raw_len);
void ff1_openssl_key_cleanup(ff1_key *key);
tv_status ff1_openssl_crypt(const ff1_key *key, int decrypt, unsigned radix, const uint8_t *tweak,
                            size_t tweak_len, const uint8_t *in, size_t length, uint8_t *out);

/* AES-NI implementation (ff1_aesni.c, aes_aesni.c). ff1_aesni_crypt checks
 * every parameter and numeral itself; ff1_aesni_crypt_batch checks items. */
int ff1_aesni_cpu_supported(void);
int ff1_vaes_cpu_supported(void);
void aesni_expand_key(uint8_t *round_keys, unsigned *out_rounds, const uint8_t *raw,
                      size_t raw_len);
int aesni_encrypt_block_cb(const void *key, uint8_t block[AES_BLOCK_BYTES]);
tv_status ff1_aesni_crypt(const ff1_key *key, int decrypt, unsigned radix, const uint8_t *tweak,
                          size_t tweak_len, const uint8_t *in, size_t length, uint8_t *out);
tv_status ff1_aesni_crypt_batch(const ff1_key *key, int decrypt, unsigned radix,
                                ff1_batch_item *items, size_t count);

/* Shape cache (ff1.c): ff1_shape_lookup returns the cached shape for
 * |tag| or NULL; ff1_shape_store publishes a copy of |shape| and returns
 * it, or returns NULL when the arena is full (the caller then uses its own
 * copy). */
const ff1_shape *ff1_shape_lookup(const ff1_key *key, uint64_t tag);
const ff1_shape *ff1_shape_store(const ff1_key *key, const ff1_shape *shape);

#endif
