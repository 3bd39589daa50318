/* Values at rest: AES-256-GCM with an AAD that binds namespace, token and
 * key version (the keyed fingerprint is in fingerprint.c). */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "vault/engine/engine_internal.h"
#include "vault/util/secure_mem.h"

/* Domain label + u8 + ns + u8 + token + u32. */
#define AAD_LABEL "tvengine1"
#define AAD_LEN_MAX (sizeof AAD_LABEL - 1 + 1 + TV_STORE_NAMESPACE_LEN_MAX + 1 + TV_STORE_TOKEN_LEN_MAX + 4)

static size_t build_aad(uint8_t *aad, const uint8_t *ns, size_t ns_len, const uint8_t *token, size_t token_len,
                        uint32_t version) {
  assert(ns_len <= TV_STORE_NAMESPACE_LEN_MAX && token_len <= TV_STORE_TOKEN_LEN_MAX);
  size_t n = sizeof AAD_LABEL - 1;
  memcpy(aad, AAD_LABEL, n);
  aad[n++] = (uint8_t)ns_len;
  memcpy(aad + n, ns, ns_len);
  n += ns_len;
  aad[n++] = (uint8_t)token_len;
  memcpy(aad + n, token, token_len);
  n += token_len;
  aad[n++] = (uint8_t)(version >> 24);
  aad[n++] = (uint8_t)(version >> 16);
  aad[n++] = (uint8_t)(version >> 8);
  aad[n++] = (uint8_t)version;
  return n;
}

/* Algorithms fetched once: an implicit fetch per call (EVP_aes_256_gcm())
 * costs more than encrypting a value. */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *alg_gcm;

/* Per thread, one GCM context per direction keeps its expanded key: most
 * values in a row use the same key, and keying (AES schedule, GHASH table)
 * costs more than a value. The raw key copy is compared in constant time
 * and wiped when the thread ends, or by engine_forget_keys (every cache is
 * on a list for that; each has a lock its thread holds while sealing or
 * opening, uncontended but for a flush). */
typedef struct gcm_slot {
  EVP_CIPHER_CTX *ctx;
  uint8_t key[TV_KEYRING_KEY_LEN];
  int keyed;
} gcm_slot;

/* Nonces drawn from the CSPRNG this many at a time: one RAND_bytes call
 * (a DRBG lock and a parameter walk) costs more than sealing a value. */
#define NONCE_POOL_NUM 64u

typedef struct gcm_cache {
  pthread_mutex_t lock;
  struct gcm_cache *next;
  struct gcm_cache **pprev;
  gcm_slot slot[2]; /* [0] decrypt, [1] encrypt */
  uint8_t nonces[NONCE_POOL_NUM * TV_RECORD_NONCE_LEN];
  size_t nonces_left;
  unsigned nonces_fork_gen; /* a forked child must never reuse its parent's pool */
} gcm_cache;

static pthread_key_t cache_tls;
static int cache_tls_ok;

static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static gcm_cache *caches;

static void cache_free(void *p) {
  gcm_cache *c = p;
  pthread_mutex_lock(&caches_lock);
  *c->pprev = c->next;
  if (c->next != NULL) {
    c->next->pprev = c->pprev;
  }
  pthread_mutex_unlock(&caches_lock);
  pthread_mutex_destroy(&c->lock);
  for (size_t i = 0; i < 2; i++) {
    EVP_CIPHER_CTX_free(c->slot[i].ctx);
  }
  tv_wipe(c, sizeof *c);
  free(c);
}

/* Bumped in every forked child (pthread_atfork): a pool filled under an
 * older generation was inherited from the parent. Cheaper than a getpid
 * system call per nonce. */
static atomic_uint fork_gen;

static void on_fork_child(void) { atomic_fetch_add(&fork_gen, 1); }

static void algs_fetch(void) {
  pthread_atfork(NULL, NULL, on_fork_child);
  alg_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  cache_tls_ok = pthread_key_create(&cache_tls, cache_free) == 0;
}

static tv_status algs_get(void) {
  pthread_once(&algs_once, algs_fetch);
  TV_ENSURE(alg_gcm != NULL && cache_tls_ok, TV_E_CRYPTO_BACKEND);
  return TV_OK;
}

static tv_status gcm_key(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *nonce, int enc) {
  TV_ENSURE(EVP_CipherInit_ex(ctx, alg_gcm, NULL, NULL, NULL, enc) == 1, TV_E_CRYPTO_BACKEND);
  TV_ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, TV_RECORD_NONCE_LEN, NULL) == 1,
            TV_E_CRYPTO_BACKEND);
  TV_ENSURE(EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1, TV_E_CRYPTO_BACKEND);
  return TV_OK;
}

static gcm_cache *cache_get(void) {
  if (algs_get() != TV_OK) {
    return NULL;
  }
  gcm_cache *c = pthread_getspecific(cache_tls);
  if (c == NULL) {
    c = calloc(1, sizeof *c);
    if (c == NULL || pthread_setspecific(cache_tls, c) != 0) {
      free(c);
      return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_lock(&caches_lock);
    c->next = caches;
    if (caches != NULL) {
      caches->pprev = &c->next;
    }
    c->pprev = &caches;
    caches = c;
    pthread_mutex_unlock(&caches_lock);
  }
  return c;
}

void engine_forget_keys(void) {
  engine_fp_forget();
  pthread_mutex_lock(&caches_lock);
  for (gcm_cache *c = caches; c != NULL; c = c->next) {
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < 2; i++) {
      if (c->slot[i].ctx != NULL) {
        EVP_CIPHER_CTX_reset(c->slot[i].ctx); /* cleanses the key schedule */
      }
      c->slot[i].keyed = 0;
      tv_wipe(c->slot[i].key, sizeof c->slot[i].key);
    }
    pthread_mutex_unlock(&c->lock);
  }
  pthread_mutex_unlock(&caches_lock);
}

size_t engine_cached_keys(void) {
  size_t n = 0;
  pthread_mutex_lock(&caches_lock);
  for (gcm_cache *c = caches; c != NULL; c = c->next) {
    pthread_mutex_lock(&c->lock);
    n += (size_t)(c->slot[0].keyed != 0) + (size_t)(c->slot[1].keyed != 0);
    pthread_mutex_unlock(&c->lock);
  }
  pthread_mutex_unlock(&caches_lock);
  return n;
}

/* next_nonce writes a fresh random 96-bit nonce to |out|. Each pool entry
 * is handed out once and wiped; the pool is refilled after a fork. */
static tv_status next_nonce(uint8_t out[TV_RECORD_NONCE_LEN]) {
  gcm_cache *c = cache_get();
  TV_ENSURE(c != NULL, TV_E_NO_MEMORY);
  unsigned gen = atomic_load(&fork_gen);
  if (c->nonces_left == 0 || c->nonces_fork_gen != gen) {
    c->nonces_left = 0;
    TV_ENSURE(RAND_bytes(c->nonces, sizeof c->nonces) == 1, TV_E_CRYPTO_BACKEND);
    c->nonces_left = NONCE_POOL_NUM;
    c->nonces_fork_gen = gen;
  }
  c->nonces_left--;
  uint8_t *n = c->nonces + c->nonces_left * TV_RECORD_NONCE_LEN;
  memcpy(out, n, TV_RECORD_NONCE_LEN);
  tv_wipe(n, TV_RECORD_NONCE_LEN);
  return TV_OK;
}

/* gcm_ctx returns this thread's context for |enc|, keyed with |key| and
 * set to |nonce|, or NULL. */
static EVP_CIPHER_CTX *gcm_ctx(const uint8_t *key, const uint8_t *nonce, int enc) {
  gcm_cache *c = cache_get();
  if (c == NULL) {
    return NULL;
  }
  gcm_slot *slot = &c->slot[enc ? 1 : 0];
  if (slot->ctx == NULL && (slot->ctx = EVP_CIPHER_CTX_new()) == NULL) {
    return NULL;
  }
  if (slot->keyed && tv_ct_equal(slot->key, key, sizeof slot->key)) {
    if (EVP_CipherInit_ex(slot->ctx, NULL, NULL, NULL, nonce, enc) == 1) {
      return slot->ctx;
    }
  }
  slot->keyed = 0;
  if (gcm_key(slot->ctx, key, nonce, enc) != TV_OK) {
    return NULL;
  }
  memcpy(slot->key, key, sizeof slot->key);
  slot->keyed = 1;
  return slot->ctx;
}

/* gcm_ctx_drop forgets the keying of this thread's |enc| context after a
 * failure, so the next use starts from a clean state. */
static void gcm_ctx_drop(int enc) {
  gcm_cache *c = pthread_getspecific(cache_tls);
  if (c != NULL) {
    c->slot[enc ? 1 : 0].keyed = 0;
    tv_wipe(c->slot[enc ? 1 : 0].key, TV_KEYRING_KEY_LEN);
  }
}

static tv_status seal_with(const uint8_t *key, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                           size_t pt_len, uint8_t *ct, tv_record_put *put) {
  TV_TRY(next_nonce(put->nonce));
  EVP_CIPHER_CTX *ctx = gcm_ctx(key, put->nonce, 1);
  TV_ENSURE(ctx != NULL, TV_E_CRYPTO_BACKEND);
  int len = 0;
  TV_ENSURE(EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_len) == 1, TV_E_CRYPTO_BACKEND);
  TV_ENSURE(EVP_EncryptUpdate(ctx, ct, &len, pt, (int)pt_len) == 1 && (size_t)len == pt_len,
            TV_E_CRYPTO_BACKEND);
  TV_ENSURE(EVP_EncryptFinal_ex(ctx, ct + len, &len) == 1 && len == 0, TV_E_CRYPTO_BACKEND);
  TV_ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TV_RECORD_TAG_LEN, put->tag) == 1,
            TV_E_CRYPTO_BACKEND);
  return TV_OK;
}

tv_status engine_seal(const engine_ns *ns, const uint8_t *token, size_t token_len, uint32_t version,
                      const uint8_t *key, const uint8_t *pt, size_t pt_len, uint8_t *ct,
                      tv_record_put *put) {
  TV_ENSURE(pt_len >= 1 && pt_len <= ENGINE_CT_LEN_MAX && token_len <= TV_STORE_TOKEN_LEN_MAX,
            TV_E_INVALID_ARGUMENT);
  uint8_t aad[AAD_LEN_MAX];
  size_t aad_len = build_aad(aad, (const uint8_t *)ns->name, ns->name_len, token, token_len, version);
  gcm_cache *c = cache_get();
  TV_ENSURE(c != NULL, TV_E_NO_MEMORY);
  pthread_mutex_lock(&c->lock);
  tv_status st = seal_with(key, aad, aad_len, pt, pt_len, ct, put);
  if (st != TV_OK) {
    gcm_ctx_drop(1);
  }
  pthread_mutex_unlock(&c->lock);
  if (st == TV_OK) {
    put->key_version = version;
    put->ciphertext = ct;
    put->ciphertext_len = pt_len;
  }
  return st;
}

static tv_status open_with(const tv_record_put *put, const uint8_t *key, const uint8_t *aad, size_t aad_len,
                           uint8_t *out_pt) {
  EVP_CIPHER_CTX *ctx = gcm_ctx(key, put->nonce, 0);
  TV_ENSURE(ctx != NULL, TV_E_CRYPTO_BACKEND);
  int len = 0;
  TV_ENSURE(EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) == 1, TV_E_CRYPTO_BACKEND);
  TV_ENSURE(EVP_DecryptUpdate(ctx, out_pt, &len, put->ciphertext, (int)put->ciphertext_len) == 1 &&
                (size_t)len == put->ciphertext_len,
            TV_E_CRYPTO_BACKEND);
  uint8_t tag[TV_RECORD_TAG_LEN];
  memcpy(tag, put->tag, sizeof tag);
  TV_ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TV_RECORD_TAG_LEN, tag) == 1,
            TV_E_CRYPTO_BACKEND);
  /* A failed tag check is the only way Final fails after a good init. */
  TV_ENSURE(EVP_DecryptFinal_ex(ctx, out_pt + len, &len) == 1, TV_E_ENGINE_DECRYPT);
  return TV_OK;
}

tv_status engine_open(const tv_record_put *put, const uint8_t *key, uint8_t *out_pt, size_t *out_len) {
  *out_len = 0;
  TV_ENSURE(put->ciphertext_len >= 1 && put->ciphertext_len <= ENGINE_CT_LEN_MAX, TV_E_ENGINE_DECRYPT);
  TV_ENSURE(put->ns_len <= TV_STORE_NAMESPACE_LEN_MAX && put->token_len <= TV_STORE_TOKEN_LEN_MAX,
            TV_E_ENGINE_DECRYPT);
  uint8_t aad[AAD_LEN_MAX];
  size_t aad_len = build_aad(aad, put->ns, put->ns_len, put->token, put->token_len, put->key_version);
  gcm_cache *c = cache_get();
  TV_ENSURE(c != NULL, TV_E_NO_MEMORY);
  pthread_mutex_lock(&c->lock);
  tv_status st = open_with(put, key, aad, aad_len, out_pt);
  if (st != TV_OK) {
    gcm_ctx_drop(0);
  }
  pthread_mutex_unlock(&c->lock);
  if (st != TV_OK) {
    /* Fail closed: no unauthenticated byte leaves. */
    tv_wipe(out_pt, ENGINE_CT_LEN_MAX);
    return st;
  }
  *out_len = put->ciphertext_len;
  return TV_OK;
}
