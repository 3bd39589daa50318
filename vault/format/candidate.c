/* Token candidates: FF1 (or the CSPRNG) over the tokenised numerals, the
 * format's rules enforced by cycle-walking, the input itself refused, and
 * the attempt loop with the caller's "already used" check. The tweak is
 * described in format.h. */
#include <assert.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "vault/format/format_internal.h"
#include "vault/util/secure_mem.h"

#define TWEAK_HASH_LEN 8u
static const char tweak_label[] = "tokenvault.format.v1";

static void put_u32(uint8_t *out, uint32_t x) {
  out[0] = (uint8_t)(x >> 24);
  out[1] = (uint8_t)(x >> 16);
  out[2] = (uint8_t)(x >> 8);
  out[3] = (uint8_t)x;
}

/* SHA-256 fetched once: an implicit fetch on every digest costs more than
 * the digest itself. Each thread reuses one digest context (EVP_Digest
 * makes and frees one per call: ~4 % of batch tokenize's server CPU in
 * issue 15's profile); freed, which cleanses it, when the thread ends. */
static EVP_MD *tweak_md;
static pthread_key_t tweak_ctx_key;
static int tweak_ctx_key_ok;
static pthread_once_t tweak_md_once = PTHREAD_ONCE_INIT;

static void tweak_ctx_free(void *ctx) { EVP_MD_CTX_free(ctx); }

static void tweak_md_fetch(void) {
  tweak_md = EVP_MD_fetch(NULL, "SHA256", NULL);
  tweak_ctx_key_ok = pthread_key_create(&tweak_ctx_key, tweak_ctx_free) == 0;
}

/* This thread's digest context, or NULL (out of memory). */
static EVP_MD_CTX *tweak_ctx(void) {
  EVP_MD_CTX *ctx = pthread_getspecific(tweak_ctx_key);
  if (ctx == NULL && (ctx = EVP_MD_CTX_new()) != NULL && pthread_setspecific(tweak_ctx_key, ctx) != 0) {
    EVP_MD_CTX_free(ctx);
    ctx = NULL;
  }
  return ctx;
}

static int tweak_digest(const uint8_t *msg, size_t len, uint8_t *digest, unsigned *digest_len) {
  EVP_MD_CTX *ctx = tweak_ctx();
  return ctx != NULL && EVP_DigestInit_ex(ctx, tweak_md, NULL) == 1 && EVP_DigestUpdate(ctx, msg, len) == 1 &&
         EVP_DigestFinal_ex(ctx, digest, digest_len) == 1;
}

/* Hashes what the tweak binds apart from the attempt counter. Lengths are
 * encoded so no two inputs share a preimage. */
tv_status format_tweak_base(const tv_format *cfg, format_value *v) {
  _Static_assert(sizeof v->tweak_base == TWEAK_HASH_LEN, "tweak hash size");
  size_t ns_len = strnlen(cfg->namespace_name, sizeof cfg->namespace_name);
  assert(ns_len <= FORMAT_NAMESPACE_LEN_MAX && v->kept_len <= FORMAT_CHARS_MAX);
  uint8_t msg[sizeof tweak_label - 1 + 13 + FORMAT_NAMESPACE_LEN_MAX + FORMAT_CHARS_MAX];
  size_t n = sizeof tweak_label - 1;
  memcpy(msg, tweak_label, n);
  msg[n++] = (uint8_t)cfg->kind;
  put_u32(msg + n, (uint32_t)ns_len);
  put_u32(msg + n + 4, (uint32_t)v->canon_len);
  put_u32(msg + n + 8, (uint32_t)v->kept_len);
  n += 12;
  memcpy(msg + n, cfg->namespace_name, ns_len);
  n += ns_len;
  memcpy(msg + n, v->kept, v->kept_len);
  n += v->kept_len;
  TV_ENSURE(pthread_once(&tweak_md_once, tweak_md_fetch) == 0 && tweak_md != NULL && tweak_ctx_key_ok,
            TV_E_CRYPTO_BACKEND);
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned digest_len = 0;
  int ok = tweak_digest(msg, n, digest, &digest_len);
  tv_wipe(msg, sizeof msg);
  TV_ENSURE(ok && digest_len >= TWEAK_HASH_LEN, TV_E_CRYPTO_BACKEND);
  memcpy(v->tweak_base, digest, TWEAK_HASH_LEN);
  return TV_OK;
}

/* Uniform numerals below |radix| from RAND_bytes, by rejection. */
static tv_status candidate_random_numerals(unsigned radix, uint8_t *out, size_t len) {
  unsigned limit = 256u - 256u % radix; /* bytes >= limit would bias */
  uint8_t pool[64];
  size_t filled = 0;
  /* Each byte is accepted with probability > 1/2; 64 refills of 64 bytes
   * failing to yield 64 numerals does not happen with a working RNG. */
  for (unsigned round = 0; round < 64 && filled < len; round++) {
    TV_ENSURE(RAND_bytes(pool, sizeof pool) == 1, TV_E_CRYPTO_BACKEND);
    for (size_t i = 0; i < sizeof pool && filled < len; i++) {
      if (pool[i] < limit) {
        out[filled++] = (uint8_t)(pool[i] % radix);
      }
    }
  }
  tv_wipe(pool, sizeof pool);
  TV_ENSURE(filled == len, TV_E_CRYPTO_BACKEND);
  return TV_OK;
}

/* candidate_walk fills |cand| with the first numerals of the walk that the
 * format accepts. TV_E_FORMAT_CANDIDATE_REJECTED if the walk comes back to
 * the input or exceeds FORMAT_CYCLE_WALK_MAX. */
static tv_status candidate_walk(const tv_format *cfg, const ff1_key *key, const format_value *v,
                                const uint8_t *tweak, char *cand) {
  const format_ops *ops = format_ops_for(cfg->kind);
  uint8_t x[FORMAT_CHARS_MAX];
  tv_status status = TV_E_FORMAT_CANDIDATE_REJECTED;
  memcpy(x, v->numerals, v->numerals_len);
  for (unsigned step = 0; step < FORMAT_CYCLE_WALK_MAX; step++) {
    if (cfg->mode == FORMAT_MODE_RANDOM) {
      status = candidate_random_numerals(v->radix, x, v->numerals_len);
    } else {
      status = ff1_encrypt(key, v->radix, tweak, FORMAT_TWEAK_LEN, x, v->numerals_len, x);
    }
    if (status != TV_OK) {
      break;
    }
    status = TV_E_FORMAT_CANDIDATE_REJECTED;
    /* Back at the input: the walk is a cycle, going on would repeat it. */
    if (cfg->mode == FORMAT_MODE_FF1 && tv_ct_equal(x, v->numerals, v->numerals_len)) {
      break;
    }
    memcpy(cand, v->canon, v->canon_len + 1);
    if (ops->build(cfg, v, x, cand)) {
      status = TV_OK;
      break;
    }
  }
  tv_wipe(x, sizeof x);
  return status;
}

tv_status format_token_from_candidate(const format_value *v, const char *cand, uint32_t attempt,
                                     format_token *out) {
  assert(v->canon_len <= FORMAT_CHARS_MAX && v->text_len <= FORMAT_TEXT_LEN_MAX);
  /* Recomputed check characters can bring back the input even when the
   * numerals differ only in ways they absorb; refuse it in any case. */
  TV_ENSURE(!tv_ct_equal(cand, v->canon, v->canon_len), TV_E_FORMAT_CANDIDATE_REJECTED);
  memset(out, 0, sizeof *out);
  memcpy(out->canon, cand, v->canon_len);
  out->canon_len = v->canon_len;
  format_render(v, cand, out->text);
  out->text_len = v->text_len;
  out->attempt = attempt;
  return TV_OK;
}

static tv_status candidate_at(const tv_format *cfg, const ff1_key *key, const format_value *v,
                              uint32_t attempt, format_token *out) {
  TV_ENSURE(cfg->mode == FORMAT_MODE_RANDOM || key != NULL, TV_E_INVALID_ARGUMENT);
  uint8_t tweak[FORMAT_TWEAK_LEN];
  memcpy(tweak, v->tweak_base, TWEAK_HASH_LEN);
  put_u32(tweak + TWEAK_HASH_LEN, attempt);
  char cand[FORMAT_CHARS_MAX + 1];
  tv_status status = candidate_walk(cfg, key, v, tweak, cand);
  if (status == TV_OK) {
    status = format_token_from_candidate(v, cand, attempt, out);
  }
  tv_wipe(cand, sizeof cand);
  return status;
}

static tv_status candidate_check_args(const tv_format *cfg, const format_value *v,
                                      const format_token *out) {
  TV_ENSURE(cfg != NULL && v != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(v->kind == cfg->kind && format_ops_for(cfg->kind) != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(v->numerals_len > 0 && v->numerals_len <= FORMAT_CHARS_MAX, TV_E_INVALID_ARGUMENT);
  return TV_OK;
}

tv_status format_candidate(const tv_format *cfg, const ff1_key *key, const format_value *value,
                           uint32_t attempt, format_token *out) {
  TV_TRY(candidate_check_args(cfg, value, out));
  return candidate_at(cfg, key, value, attempt, out);
}

tv_status format_generate(const tv_format *cfg, const ff1_key *key, const format_value *value,
                          format_used_fn is_used, void *ctx, format_token *out) {
  TV_TRY(candidate_check_args(cfg, value, out));
  TV_ENSURE(cfg->attempts_max >= 1 && cfg->attempts_max <= FORMAT_ATTEMPTS_MAX,
            TV_E_FORMAT_CONFIG);
  for (uint32_t attempt = 0; attempt < cfg->attempts_max; attempt++) {
    tv_status status = candidate_at(cfg, key, value, attempt, out);
    if (status == TV_E_FORMAT_CANDIDATE_REJECTED) {
      continue;
    }
    TV_TRY(status);
    int used = 0;
    if (is_used != NULL) {
      TV_TRY(is_used(ctx, out, &used));
    }
    if (!used) {
      return TV_OK;
    }
  }
  memset(out, 0, sizeof *out);
  return TV_E_FORMAT_NO_CANDIDATE;
}
