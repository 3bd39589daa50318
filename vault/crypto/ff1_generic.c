/* FF1 exactly as SP 800-38G writes it, with big-number arithmetic, on any
 * block cipher. It serves every length: the portable implementation uses it
 * always, the AES-NI one when radix^ceil(n/2) does not fit in 64 bits.
 *
 * Numbers are little-endian arrays of 32-bit limbs. The modular step
 * (A + y) mod radix^m is done in the radix itself: the low m digits of y
 * are y mod radix^m, and adding digit strings with the carry dropped is the
 * reduction, so no big-number division is needed. */
#include <string.h>

#include "vault/crypto/ff1_internal.h"
#include "vault/util/secure_mem.h"

/* Largest numbers: NUM_radix of a half (at most 2048 numerals of 8 bits)
 * and y, which has d = 4*ceil(b/4) + 4 bytes. */
#define HALF_MAX (FF1_LENGTH_MAX / 2u)
#define B_BYTES_MAX HALF_MAX
#define D_BYTES_MAX (B_BYTES_MAX + 8u)
#define LIMBS_MAX ((D_BYTES_MAX + 3u) / 4u + 1u)
#define Q_BYTES_MAX (FF1_TWEAK_MAX + 16u + B_BYTES_MAX)

typedef struct bignum {
  uint32_t limb[LIMBS_MAX];
  size_t used; /* limbs in use; 0 means the value 0 */
} bignum;

/* Working state of one FF1 call; large, so it lives in one struct that is
 * wiped on exit. */
typedef struct generic_state {
  uint8_t half[3][HALF_MAX]; /* A, B and the next C rotate through these */
  uint8_t q[Q_BYTES_MAX];
  uint8_t s[D_BYTES_MAX + 16u];
  uint8_t y_digits[HALF_MAX];
  uint8_t mac_after_p[16];
  bignum num;
} generic_state;

static void bn_mul_add_small(bignum *bn, uint32_t mul, uint32_t add) {
  uint64_t carry = add;
  for (size_t i = 0; i < bn->used; i++) {
    uint64_t x = (uint64_t)bn->limb[i] * mul + carry;
    bn->limb[i] = (uint32_t)x;
    carry = x >> 32;
  }
  if (carry != 0) {
    bn->limb[bn->used++] = (uint32_t)carry;
  }
}

static void bn_from_numerals(bignum *bn, const uint8_t *numerals, size_t len, unsigned radix) {
  bn->used = 0;
  for (size_t i = 0; i < len; i++) {
    bn_mul_add_small(bn, radix, numerals[i]);
  }
}

/* Writes the low |len| bytes of |bn| big-endian (the caller sized |len| so
 * that the value fits). */
static void bn_to_bytes_be(const bignum *bn, uint8_t *out, size_t len) {
  for (size_t i = 0; i < len; i++) {
    size_t limb = i / 4u;
    uint32_t word = limb < bn->used ? bn->limb[limb] : 0;
    out[len - 1u - i] = (uint8_t)(word >> (8u * (i % 4u)));
  }
}

static void bn_from_bytes_be(bignum *bn, const uint8_t *in, size_t len) {
  memset(bn->limb, 0, sizeof bn->limb);
  for (size_t i = 0; i < len; i++) {
    bn->limb[i / 4u] |= (uint32_t)in[len - 1u - i] << (8u * (i % 4u));
  }
  bn->used = (len + 3u) / 4u;
  while (bn->used > 0 && bn->limb[bn->used - 1u] == 0) {
    bn->used--;
  }
}

/* bn = bn / divisor; returns bn mod divisor. */
static uint32_t bn_divmod_small(bignum *bn, uint32_t divisor) {
  uint64_t rem = 0;
  for (size_t i = bn->used; i-- > 0;) {
    uint64_t cur = (rem << 32) | bn->limb[i];
    bn->limb[i] = (uint32_t)(cur / divisor);
    rem = cur % divisor;
  }
  while (bn->used > 0 && bn->limb[bn->used - 1u] == 0) {
    bn->used--;
  }
  return (uint32_t)rem;
}

static tv_status cbc_mac_blocks(const ff1_cipher *cipher, uint8_t state[16], const uint8_t *data,
                                size_t len) {
  for (size_t off = 0; off < len; off += 16u) {
    for (size_t j = 0; j < 16u; j++) {
      state[j] ^= data[off + j];
    }
    TV_ENSURE(cipher->encrypt_block(cipher->ctx, state) == 0, TV_E_CRYPTO_BACKEND);
  }
  return TV_OK;
}

/* S = R || CIPH(R xor [1]^16) || CIPH(R xor [2]^16) ..., |d| bytes. */
static tv_status expand_s(const ff1_cipher *cipher, uint8_t *s, const uint8_t r[16], size_t d) {
  memcpy(s, r, 16);
  for (size_t j = 1; j * 16u < d; j++) {
    uint8_t *block = s + 16u * j;
    memcpy(block, r, 16);
    for (size_t k = 0; k < 8u; k++) {
      block[15u - k] ^= (uint8_t)((uint64_t)j >> (8u * k));
    }
    TV_ENSURE(cipher->encrypt_block(cipher->ctx, block) == 0, TV_E_CRYPTO_BACKEND);
  }
  return TV_OK;
}

typedef struct round_params {
  unsigned radix;
  size_t tweak_len, b, d, q_len;
} round_params;

/* y = NUM(S) for this round's Q, where Q's last b bytes hold NUM(x). The
 * low m radix digits of y are left in st->y_digits, least significant
 * first. */
static tv_status round_y_digits(const ff1_cipher *cipher, generic_state *st,
                                const round_params *rp, unsigned round, const uint8_t *x,
                                size_t x_len, size_t m) {
  uint8_t *q = st->q;
  q[rp->q_len - rp->b - 1u] = (uint8_t)round;
  bn_from_numerals(&st->num, x, x_len, rp->radix);
  bn_to_bytes_be(&st->num, q + rp->q_len - rp->b, rp->b);
  uint8_t r[16];
  memcpy(r, st->mac_after_p, 16);
  TV_TRY(cbc_mac_blocks(cipher, r, q, rp->q_len));
  TV_TRY(expand_s(cipher, st->s, r, rp->d));
  bn_from_bytes_be(&st->num, st->s, rp->d);
  for (size_t i = 0; i < m; i++) {
    st->y_digits[i] = (uint8_t)bn_divmod_small(&st->num, rp->radix);
  }
  tv_wipe(r, sizeof r);
  return TV_OK;
}

/* out = (x +/- y) mod radix^m, x and out most significant digit first. */
static void digits_add_mod(uint8_t *out, const uint8_t *x, const uint8_t *y_lsd_first, size_t m,
                           unsigned radix, int subtract) {
  int carry = 0;
  for (size_t i = 0; i < m; i++) {
    size_t pos = m - 1u - i;
    int digit = subtract ? (int)x[pos] - (int)y_lsd_first[i] + carry
                         : (int)x[pos] + (int)y_lsd_first[i] + carry;
    int r = (int)radix;
    carry = subtract ? -(digit < 0) : (digit >= r);
    digit += subtract ? r * (digit < 0) : -r * (digit >= r);
    out[pos] = (uint8_t)digit;
  }
}

/* Runs the ten rounds on A = st->half[0] (u digits) and B = st->half[1]
 * (v digits) and writes A || B to |out|. */
static tv_status generic_rounds(const ff1_cipher *cipher, generic_state *st,
                                const round_params *rp, int decrypt, size_t u, size_t v,
                                uint8_t *out) {
  uint8_t *a = st->half[0], *b = st->half[1], *c = st->half[2];
  for (unsigned k = 0; k < FF1_ROUNDS; k++) {
    unsigned round = decrypt ? FF1_ROUNDS - 1u - k : k;
    size_t m = (round % 2u == 0) ? u : v;
    uint8_t *recycled;
    if (!decrypt) {
      /* C = (NUM(A) + y) mod radix^m; A = B; B = C. B has n - m digits. */
      TV_TRY(round_y_digits(cipher, st, rp, round, b, u + v - m, m));
      digits_add_mod(c, a, st->y_digits, m, rp->radix, 0);
      recycled = a;
      a = b;
      b = c;
    } else {
      /* C = (NUM(B) - y) mod radix^m; B = A; A = C. A has n - m digits. */
      TV_TRY(round_y_digits(cipher, st, rp, round, a, u + v - m, m));
      digits_add_mod(c, b, st->y_digits, m, rp->radix, 1);
      recycled = b;
      b = a;
      a = c;
    }
    c = recycled;
  }
  memcpy(out, a, u);
  memcpy(out + u, b, v);
  return TV_OK;
}

static tv_status generic_crypt_state(const ff1_cipher *cipher, generic_state *st, int decrypt,
                                     unsigned radix, const uint8_t *tweak, size_t tweak_len,
                                     const uint8_t *in, size_t length, uint8_t *out) {
  size_t u = length / 2u, v = length - u;
  round_params rp = {.radix = radix, .tweak_len = tweak_len};
  rp.b = ff1_b_bytes(radix, v);
  rp.d = 4u * ((rp.b + 3u) / 4u) + 4u;
  size_t pad = (16u - (tweak_len + rp.b + 1u) % 16u) % 16u;
  rp.q_len = tweak_len + pad + 1u + rp.b;

  ff1_build_p(st->mac_after_p, radix, length, tweak_len);
  TV_ENSURE(cipher->encrypt_block(cipher->ctx, st->mac_after_p) == 0, TV_E_CRYPTO_BACKEND);
  memset(st->q, 0, rp.q_len);
  if (tweak_len > 0) {
    memcpy(st->q, tweak, tweak_len);
  }
  memcpy(st->half[0], in, u);
  memcpy(st->half[1], in + u, v);
  return generic_rounds(cipher, st, &rp, decrypt, u, v, out);
}

tv_status ff1_generic_crypt(const ff1_cipher *cipher, int decrypt, unsigned radix,
                            const uint8_t *tweak, size_t tweak_len, const uint8_t *in,
                            size_t length, uint8_t *out) {
  generic_state st;
  tv_status status =
      generic_crypt_state(cipher, &st, decrypt, radix, tweak, tweak_len, in, length, out);
  tv_wipe(&st, sizeof st);
  return status;
}
