/* The fast FF1: AES-NI round instructions on an expanded key, CIPH(P) from
 * the key's shape cache, and the numeral halves kept in 64-bit integers.
 *
 * When radix^v < 2^64 (v = ceil(n/2)), NUM_radix(B) fits in b <= 8 bytes, so
 * [i] || NUM(B) fits in the last block of Q and y = NUM(S) has d = 8 or 12
 * bytes of a single AES output. A round is then: one AES block, a Barrett
 * reduction of y and an add or subtract. The CBC-MAC state after P and the
 * tweak-only blocks of Q is the same in all ten rounds, so it is computed
 * once per call and folded, with the first round key, into one constant.
 *
 * The batch kernel runs eight independent inputs in lock step: their AES
 * rounds interleave, so the AES unit works on eight blocks instead of
 * waiting on one chain. Longer inputs fall back to the big-number rounds of
 * ff1_generic.c on the same AES-NI key.
 *
 * Constant time: no table lookups and no division on secret data; the
 * reductions use multiplications and masks. */

#include <immintrin.h>
#include <string.h>

/* Everything below may use these CPU features; callers dispatch on
 * them at run time. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("aes,sse4.1,ssse3"))), apply_to = function)
#else
#pragma GCC target("aes,sse4.1,ssse3")
#endif

#include "vault/crypto/ff1_internal.h"
#include "vault/crypto/ff1_lane.h"
#include "vault/util/secure_mem.h"


int ff1_aesni_cpu_supported(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1") &&
         __builtin_cpu_supports("ssse3");
}

/* radix^e if it is below 2^64, else 0. */
static uint64_t power_u64(unsigned radix, size_t e) {
  uint64_t x = 1;
  for (size_t i = 0; i < e; i++) {
    if (x > UINT64_MAX / radix) {
      return 0;
    }
    x *= radix;
  }
  return x;
}

static inline __m128i aes_encrypt(const __m128i *rk, __m128i x, const unsigned nr) {
  x = _mm_xor_si128(x, rk[0]);
  for (unsigned r = 1; r < nr; r++) {
    x = _mm_aesenc_si128(x, rk[r]);
  }
  return _mm_aesenclast_si128(x, rk[nr]);
}

/* Fills |sh| for an integer-path shape; returns 0 if radix^v >= 2^64. */
static int shape_compute(const ff1_key *key, unsigned radix, size_t length, size_t tweak_len,
                         ff1_shape *sh) {
  memset(sh, 0, sizeof *sh);
  size_t u = length / 2u, v = length - u;
  uint64_t mv = power_u64(radix, v);
  if (mv == 0) {
    return 0;
  }
  sh->tag = ff1_shape_tag(radix, length, tweak_len);
  sh->radix = radix;
  sh->u = (uint32_t)u;
  sh->v = (uint32_t)v;
  sh->tweak_len = (uint32_t)tweak_len;
  sh->modulus_u = power_u64(radix, u);
  sh->modulus_v = mv;
  sh->b = ff1_b_bytes(radix, v);
  sh->d = 4u * ((sh->b + 3u) / 4u) + 4u;
  sh->barrett64_u = UINT64_MAX / sh->modulus_u;
  sh->barrett64_v = UINT64_MAX / sh->modulus_v;
  u128 all_ones = ~(u128)0;
  u128 mu_u = all_ones / sh->modulus_u, mu_v = all_ones / sh->modulus_v;
  sh->barrett128_u[0] = (uint64_t)mu_u;
  sh->barrett128_u[1] = (uint64_t)(mu_u >> 64);
  sh->barrett128_v[0] = (uint64_t)mu_v;
  sh->barrett128_v[1] = (uint64_t)(mu_v >> 64);
  sh->barrett_radix = UINT64_MAX / radix;
  uint8_t p[16];
  ff1_build_p(p, radix, length, tweak_len);
  const __m128i *rk = (const __m128i *)(const void *)key->round_keys;
  __m128i cp = aes_encrypt(rk, _mm_loadu_si128((const __m128i *)(const void *)p), key->aes_rounds);
  _mm_storeu_si128((__m128i *)(void *)sh->cipher_p, cp);
  return 1;
}

/* The shape for (radix, length, tweak_len), from the key's cache or newly
 * computed into |scratch|; NULL if the input needs the big-number path. */
static const ff1_shape *shape_get(const ff1_key *key, unsigned radix, size_t length,
                                  size_t tweak_len, ff1_shape *scratch) {
  const ff1_shape *cached = ff1_shape_lookup(key, ff1_shape_tag(radix, length, tweak_len));
  if (cached != NULL) {
    return cached;
  }
  if (!shape_compute(key, radix, length, tweak_len, scratch)) {
    return NULL;
  }
  const ff1_shape *stored = ff1_shape_store(key, scratch);
  return stored != NULL ? stored : scratch;
}

static inline uint64_t load_le64(const uint8_t *p) {
  uint64_t x;
  memcpy(&x, p, 8);
  return x;
}

static inline uint32_t load_le32(const uint8_t *p) {
  uint32_t x;
  memcpy(&x, p, 4);
  return x;
}

/* The first |n| <= 8 bytes at |p| as a little-endian word, with fixed-size
 * (possibly overlapping) loads that never read outside p[0..n). */
static inline uint64_t load_partial64(const uint8_t *p, size_t n) {
  if (n >= 4u) {
    uint64_t lo = load_le32(p), hi = load_le32(p + n - 4u);
    return lo | (hi << (8u * (n - 4u)));
  }
  uint64_t x = 0;
  for (size_t j = 0; j < n; j++) {
    x |= (uint64_t)p[j] << (8u * j);
  }
  return x;
}

/* The 16 bytes of T || 0* starting at |off|, built in registers: no library
 * call and no store-to-load stall on the hot path. */
static inline __attribute__((always_inline)) __m128i tweak_block(const uint8_t *tweak, size_t tweak_len, size_t off) {
  size_t n = off < tweak_len ? tweak_len - off : 0;
  if (n >= 16u) {
    return _mm_loadu_si128((const __m128i *)(const void *)(tweak + off));
  }
  uint64_t lo, hi = 0;
  if (n > 8u) {
    lo = load_le64(tweak + off);
    hi = load_partial64(tweak + off + 8u, n - 8u);
  } else {
    lo = load_partial64(tweak + off, n);
  }
  return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* Loads one input into |ln|; returns 0, or 1 if a numeral is out of
 * range (then |ln| holds garbage that must not be output). */
static inline __attribute__((always_inline)) unsigned lane_init(lane *ln, const ff1_key *key, const ff1_shape *sh, const uint8_t *tweak,
                          const uint8_t *in) {
  const __m128i *rk = (const __m128i *)(const void *)key->round_keys;
  size_t t = sh->tweak_len;
  size_t pad = (16u - (t + sh->b + 1u) % 16u) % 16u;
  size_t q_len = t + pad + 1u + sh->b;
  __m128i chain = _mm_loadu_si128((const __m128i *)(const void *)sh->cipher_p);
  for (size_t off = 0; off + 16u < q_len; off += 16u) {
    chain = aes_encrypt(rk, _mm_xor_si128(chain, tweak_block(tweak, t, off)), key->aes_rounds);
  }
  __m128i base = tweak_block(tweak, t, q_len - 16u);
  ln->k0 = _mm_xor_si128(_mm_xor_si128(chain, base), rk[0]);
  unsigned bad = 0;
  ln->a = num_from_numerals(in, sh->u, sh->radix, &bad);
  ln->b = num_from_numerals(in + sh->u, sh->v, sh->radix, &bad);
  return bad;
}

static inline __attribute__((always_inline)) void lane_output(const lane *ln, const ff1_shape *sh, uint8_t *out) {
  numerals_from_num(ln->a, out, sh->u, sh);
  numerals_from_num(ln->b, out + sh->u, sh->v, sh);
}

/* One Feistel round on |lanes| inputs in lock step: their AES rounds
 * interleave so the AES unit has |lanes| independent blocks in flight. */
static inline __attribute__((always_inline)) void one_round(
    const __m128i *rk, const ff1_shape *sh, const lane *ln, uint64_t *a, uint64_t *b,
    unsigned i, const int odd, const unsigned nr, const int d12, const int decrypt,
    const int lanes) {
  __m128i x[BATCH_LANES];
  const __m128i index_block = round_index_block(sh->b, i);
  for (int l = 0; l < lanes; l++) {
    x[l] = lane_round_input(&ln[l], index_block, a[l], b[l], decrypt);
  }
  for (unsigned r = 1; r < nr; r++) {
    for (int l = 0; l < lanes; l++) {
      x[l] = _mm_aesenc_si128(x[l], rk[r]);
    }
  }
  for (int l = 0; l < lanes; l++) {
    x[l] = _mm_aesenclast_si128(x[l], rk[nr]);
    lane_round_finish(x[l], sh, &a[l], &b[l], odd, d12, decrypt);
  }
}

/* Ten rounds on |lanes| inputs. nr, d12, decrypt and lanes are
 * compile-time constants in every caller, so each instantiation is
 * straight-line code; rounds go in (even, odd) pairs so the modulus of
 * each is a constant too. */
static inline __attribute__((always_inline)) void rounds_kernel(
    const __m128i *rk, const ff1_shape *sh, lane *ln, const unsigned nr, const int d12,
    const int decrypt, const int lanes) {
  uint64_t a[BATCH_LANES], b[BATCH_LANES];
  for (int l = 0; l < lanes; l++) {
    a[l] = ln[l].a;
    b[l] = ln[l].b;
  }
  for (unsigned k = 0; k < FF1_ROUNDS; k += 2u) {
    if (!decrypt) {
      one_round(rk, sh, ln, a, b, k, 0, nr, d12, decrypt, lanes);
      one_round(rk, sh, ln, a, b, k + 1u, 1, nr, d12, decrypt, lanes);
    } else {
      one_round(rk, sh, ln, a, b, FF1_ROUNDS - 1u - k, 1, nr, d12, decrypt, lanes);
      one_round(rk, sh, ln, a, b, FF1_ROUNDS - 2u - k, 0, nr, d12, decrypt, lanes);
    }
  }
  for (int l = 0; l < lanes; l++) {
    ln[l].a = a[l];
    ln[l].b = b[l];
  }
}

typedef void (*kernel_fn)(const __m128i *rk, const ff1_shape *sh, lane *ln);

#define DEFINE_KERNEL(NR, D12, DEC, LANES)                                                 \
  static void kernel_##NR##_##D12##_##DEC##_##LANES(const __m128i *rk, const ff1_shape *sh, \
                                                    lane *ln) {                             \
    rounds_kernel(rk, sh, ln, NR, D12, DEC, LANES);                                         \
  }
#define DEFINE_KERNELS_FOR(NR)  \
  DEFINE_KERNEL(NR, 0, 0, 1)    \
  DEFINE_KERNEL(NR, 0, 1, 1)    \
  DEFINE_KERNEL(NR, 1, 0, 1)    \
  DEFINE_KERNEL(NR, 1, 1, 1)    \
  DEFINE_KERNEL(NR, 0, 0, 8)    \
  DEFINE_KERNEL(NR, 0, 1, 8)    \
  DEFINE_KERNEL(NR, 1, 0, 8)    \
  DEFINE_KERNEL(NR, 1, 1, 8)
DEFINE_KERNELS_FOR(10)
DEFINE_KERNELS_FOR(12)
DEFINE_KERNELS_FOR(14)

#define KERNEL_ROW(NR)                                                           \
  {{{kernel_##NR##_0_0_1, kernel_##NR##_0_1_1}, {kernel_##NR##_1_0_1, kernel_##NR##_1_1_1}}, \
   {{kernel_##NR##_0_0_8, kernel_##NR##_0_1_8}, {kernel_##NR##_1_0_8, kernel_##NR##_1_1_8}}}

/* kernels[key size][batch][d12][decrypt] */
static const kernel_fn kernels[3][2][2][2] = {KERNEL_ROW(10), KERNEL_ROW(12), KERNEL_ROW(14)};

static kernel_fn kernel_for(const ff1_key *key, const ff1_shape *sh, int decrypt, int batch) {
  size_t size_index = (key->aes_rounds - 10u) / 2u;
  return kernels[size_index][batch][sh->d == 12u][decrypt != 0];
}

static tv_status generic_on_aesni(const ff1_key *key, int decrypt, unsigned radix,
                                  const uint8_t *tweak, size_t tweak_len, const uint8_t *in,
                                  size_t length, uint8_t *out) {
  ff1_cipher cipher = {.encrypt_block = aesni_encrypt_block_cb, .ctx = key};
  return ff1_generic_crypt(&cipher, decrypt, radix, tweak, tweak_len, in, length, out);
}

/* A cached shape was validated when it was computed. The range checks
 * come first because they also make the shape tag unambiguous (its fields
 * cannot overflow into each other), so a cache hit proves the rest. */
static tv_status checked_shape(const ff1_key *key, unsigned radix, size_t length,
                               size_t tweak_len, ff1_shape *scratch, const ff1_shape **out) {
  TV_ENSURE(radix >= FF1_RADIX_MIN && radix <= FF1_RADIX_MAX, TV_E_FF1_RADIX);
  TV_ENSURE(length <= FF1_LENGTH_MAX, TV_E_FF1_TOO_LONG);
  TV_ENSURE(tweak_len <= FF1_TWEAK_MAX, TV_E_FF1_TWEAK_TOO_LONG);
  *out = ff1_shape_lookup(key, ff1_shape_tag(radix, length, tweak_len));
  if (*out == NULL) {
    TV_TRY(ff1_check_params(radix, length, tweak_len));
    *out = shape_get(key, radix, length, tweak_len, scratch);
  }
  return TV_OK;
}

tv_status ff1_aesni_crypt(const ff1_key *key, int decrypt, unsigned radix, const uint8_t *tweak,
                          size_t tweak_len, const uint8_t *in, size_t length, uint8_t *out) {
  ff1_shape scratch;
  const ff1_shape *sh = NULL;
  TV_TRY(checked_shape(key, radix, length, tweak_len, &scratch, &sh));
  if (sh == NULL) {
    TV_TRY(ff1_check_numerals(radix, in, length));
    return generic_on_aesni(key, decrypt, radix, tweak, tweak_len, in, length, out);
  }
  const __m128i *rk = (const __m128i *)(const void *)key->round_keys;
  lane ln;
  if (lane_init(&ln, key, sh, tweak, in) != 0) {
    tv_wipe(&ln, sizeof ln);
    return TV_E_FF1_NUMERAL;
  }
  kernel_for(key, sh, decrypt, 0)(rk, sh, &ln);
  lane_output(&ln, sh, out);
  tv_wipe(&ln, sizeof ln);
  return TV_OK;
}

/* Everything about an item but its numerals. */
static tv_status batch_item_check(unsigned radix, const ff1_batch_item *item) {
  TV_ENSURE(item->in != NULL && item->out != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(item->tweak != NULL || item->tweak_len == 0, TV_E_INVALID_ARGUMENT);
  return ff1_check_params(radix, item->length, item->tweak_len);
}

/* Runs |count| (1..BATCH_LANES) items of one integer-path shape together;
 * numerals are checked while they are loaded. */
static void batch_group(const ff1_key *key, int decrypt, ff1_batch_item *items, size_t count,
                        const ff1_shape *sh) {
  const __m128i *rk = (const __m128i *)(const void *)key->round_keys;
  lane ln[BATCH_LANES];
  unsigned bad[BATCH_LANES];
  size_t lanes = count == 1u ? 1u : BATCH_LANES;
  for (size_t l = 0; l < lanes; l++) {
    /* Idle lanes repeat item 0; their results are thrown away. */
    const ff1_batch_item *it = &items[l < count ? l : 0];
    bad[l] = lane_init(&ln[l], key, sh, it->tweak, it->in);
  }
  if (lanes > 1u && key->impl == FF1_IMPL_VAES) {
    ff1_vaes_batch_kernel(key, sh, ln, decrypt);
  } else {
    kernel_for(key, sh, decrypt, lanes > 1u)(rk, sh, ln);
  }
  for (size_t l = 0; l < count; l++) {
    items[l].status = bad[l] ? TV_E_FF1_NUMERAL : TV_OK;
    if (!bad[l]) {
      lane_output(&ln[l], sh, items[l].out);
    }
  }
  tv_wipe(ln, sizeof ln);
}

/* How many items from |items| share the first one's shape (same length and
 * tweak length, usable pointers), at most BATCH_LANES. */
static size_t batch_run_length(const ff1_batch_item *items, size_t count) {
  size_t run = 1;
  while (run < count && run < BATCH_LANES) {
    const ff1_batch_item *it = &items[run];
    if (it->length != items[0].length || it->tweak_len != items[0].tweak_len ||
        it->in == NULL || it->out == NULL || (it->tweak == NULL && it->tweak_len != 0)) {
      break;
    }
    run++;
  }
  return run;
}

/* A big-number-path item, alone. */
static tv_status batch_one_generic(const ff1_key *key, int decrypt, unsigned radix,
                                   const ff1_batch_item *it) {
  TV_TRY(ff1_check_numerals(radix, it->in, it->length));
  return generic_on_aesni(key, decrypt, radix, it->tweak, it->tweak_len, it->in, it->length,
                          it->out);
}

tv_status ff1_aesni_crypt_batch(const ff1_key *key, int decrypt, unsigned radix,
                                ff1_batch_item *items, size_t count) {
  tv_status first_error = TV_OK;
  size_t i = 0;
  while (i < count) {
    ff1_batch_item *it = &items[i];
    size_t run = 1;
    ff1_shape scratch;
    it->status = batch_item_check(radix, it);
    if (it->status == TV_OK) {
      const ff1_shape *sh = shape_get(key, radix, it->length, it->tweak_len, &scratch);
      if (sh != NULL) {
        run = batch_run_length(it, count - i);
        batch_group(key, decrypt, it, run, sh);
      } else {
        it->status = batch_one_generic(key, decrypt, radix, it);
      }
    }
    for (size_t j = i; j < i + run; j++) {
      if (items[j].status != TV_OK && first_error == TV_OK) {
        first_error = items[j].status;
      }
    }
    i += run;
  }
  return first_error;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
