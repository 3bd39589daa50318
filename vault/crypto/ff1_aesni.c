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
#pragma GCC target("aes,sse4.1,ssse3")

#include <immintrin.h>
#include <string.h>

#include "vault/crypto/ff1_internal.h"
#include "vault/util/secure_mem.h"

__extension__ typedef unsigned __int128 u128;

#define BATCH_LANES 8

int ff1_aesni_cpu_supported(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1") &&
         __builtin_cpu_supports("ssse3");
}

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
 * computed; returns 0 if the input needs the big-number path. */
static int shape_get(const ff1_key *key, unsigned radix, size_t length, size_t tweak_len,
                     ff1_shape *sh) {
  if (ff1_shape_lookup(key, ff1_shape_tag(radix, length, tweak_len), sh)) {
    return 1;
  }
  if (!shape_compute(key, radix, length, tweak_len, sh)) {
    return 0;
  }
  ff1_shape_store(key, sh);
  return 1;
}

/* One input's state in the integer rounds. k0 is CBC-MAC state after P and
 * the tweak blocks, xor the constant part of Q's last block, xor round key
 * 0: each round only xors in [i] and NUM(B). */
typedef struct lane {
  __m128i k0;
  uint64_t a, b;
} lane;

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

/* The block holding [i] at byte 15 - b of Q's last block: byte 15 - b is
 * in the high half for b < 8 and is the top byte of the low half for
 * b = 8. */
static inline __m128i round_index_block(uint32_t b, unsigned i) {
  uint64_t hi = b < 8u ? (uint64_t)i << (8u * (7u - b)) : 0;
  uint64_t lo = b < 8u ? 0 : (uint64_t)i << 56;
  return _mm_set_epi64x((long long)hi, (long long)lo);
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

/* One Feistel round on |lanes| inputs in lock step: their AES rounds
 * interleave so the AES unit has |lanes| independent blocks in flight. */
static inline __attribute__((always_inline)) void one_round(
    const __m128i *rk, const ff1_shape *sh, const lane *ln, uint64_t *a, uint64_t *b,
    unsigned i, const int odd, const unsigned nr, const int d12, const int decrypt,
    const int lanes) {
  __m128i x[BATCH_LANES];
  const __m128i index_block = round_index_block(sh->b, i);
  for (int l = 0; l < lanes; l++) {
    uint64_t q_num = decrypt ? a[l] : b[l];
    __m128i nb = _mm_set_epi64x((long long)__builtin_bswap64(q_num), 0);
    x[l] = _mm_xor_si128(_mm_xor_si128(ln[l].k0, index_block), nb);
  }
  for (unsigned r = 1; r < nr; r++) {
    for (int l = 0; l < lanes; l++) {
      x[l] = _mm_aesenc_si128(x[l], rk[r]);
    }
  }
  const uint64_t m = odd ? sh->modulus_v : sh->modulus_u;
  for (int l = 0; l < lanes; l++) {
    x[l] = _mm_aesenclast_si128(x[l], rk[nr]);
    if (!decrypt && !d12) {
      uint64_t y = __builtin_bswap64((uint64_t)_mm_cvtsi128_si64(x[l]));
      uint64_t c = add_mod_d8(a[l], y, m, odd ? sh->barrett64_v : sh->barrett64_u);
      a[l] = b[l];
      b[l] = c;
      continue;
    }
    uint64_t y = round_y_mod(x[l], sh, odd, d12);
    if (!decrypt) {
      uint64_t c = add_mod(a[l], y, m);
      a[l] = b[l];
      b[l] = c;
    } else {
      uint64_t c = sub_mod(b[l], y, m);
      b[l] = a[l];
      a[l] = c;
    }
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

tv_status ff1_aesni_crypt(const ff1_key *key, int decrypt, unsigned radix, const uint8_t *tweak,
                          size_t tweak_len, const uint8_t *in, size_t length, uint8_t *out) {
  ff1_shape sh;
  if (!shape_get(key, radix, length, tweak_len, &sh)) {
    return generic_on_aesni(key, decrypt, radix, tweak, tweak_len, in, length, out);
  }
  const __m128i *rk = (const __m128i *)(const void *)key->round_keys;
  lane ln;
  /* The caller checked the numerals already. */
  (void)lane_init(&ln, key, &sh, tweak, in);
  kernel_for(key, &sh, decrypt, 0)(rk, &sh, &ln);
  lane_output(&ln, &sh, out);
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
  kernel_for(key, sh, decrypt, lanes > 1u)(rk, sh, ln);
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
    ff1_shape sh;
    it->status = batch_item_check(radix, it);
    if (it->status == TV_OK) {
      if (shape_get(key, radix, it->length, it->tweak_len, &sh)) {
        run = batch_run_length(it, count - i);
        batch_group(key, decrypt, it, run, &sh);
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
