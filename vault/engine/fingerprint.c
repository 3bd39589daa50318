/* Keyed fingerprints: HMAC-SHA-256(fingerprint key, u8 len(ns) || ns ||
 * canonical value)[0..16), for convergence and erasure.
 *
 * Each thread keeps its own keyed copy of a namespace's HMAC context and
 * re-initialises it per value (EVP_MAC_init with no key restarts from the
 * stored key), instead of duplicating the namespace's context per value:
 * a dup allocates and frees three digest contexts and takes and drops
 * references to the digest, which cost more than the hashing (issue 15's
 * profile: EVP_MD_free, EVP_MD_CTX_copy_ex, malloc/free, OPENSSL_cleanse).
 * A copy is found by the namespace's id (unique in the process, never
 * reused, so a freed engine's namespace never matches a new one). The
 * copies hold the key, like the namespace's own context: freed (and
 * cleansed by OpenSSL) when the thread ends and by engine_forget_keys. */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "vault/engine/engine_internal.h"
#include "vault/util/secure_mem.h"

/* Namespaces a thread keeps a keyed copy for; the oldest is replaced
 * when a thread fingerprints for more (a server has a handful). */
#define FP_CACHE_SLOTS_NUM 8u

typedef struct fp_slot {
  uint64_t ns_id; /* 0: empty */
  EVP_MAC_CTX *ctx;
} fp_slot;

typedef struct fp_cache {
  pthread_mutex_t lock; /* its thread's, uncontended but for a flush */
  struct fp_cache *next;
  struct fp_cache **pprev;
  fp_slot slot[FP_CACHE_SLOTS_NUM];
  unsigned victim; /* next slot to replace */
} fp_cache;

static pthread_once_t fp_once = PTHREAD_ONCE_INIT;
static EVP_MAC *alg_hmac;
static pthread_key_t fp_tls;
static int fp_tls_ok;
static pthread_mutex_t fp_caches_lock = PTHREAD_MUTEX_INITIALIZER;
static fp_cache *fp_caches;
static atomic_uint_fast64_t fp_ids;

static void slots_clear(fp_cache *c) {
  for (size_t i = 0; i < FP_CACHE_SLOTS_NUM; i++) {
    EVP_MAC_CTX_free(c->slot[i].ctx); /* cleanses the key */
    c->slot[i].ctx = NULL;
    c->slot[i].ns_id = 0;
  }
}

static void fp_cache_free(void *p) {
  fp_cache *c = p;
  pthread_mutex_lock(&fp_caches_lock);
  *c->pprev = c->next;
  if (c->next != NULL) {
    c->next->pprev = c->pprev;
  }
  pthread_mutex_unlock(&fp_caches_lock);
  slots_clear(c);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

static void fp_init(void) {
  alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  fp_tls_ok = pthread_key_create(&fp_tls, fp_cache_free) == 0;
}

static fp_cache *fp_cache_get(void) {
  fp_cache *c = pthread_getspecific(fp_tls);
  if (c != NULL) {
    return c;
  }
  c = calloc(1, sizeof *c);
  if (c == NULL || pthread_setspecific(fp_tls, c) != 0) {
    free(c);
    return NULL;
  }
  pthread_mutex_init(&c->lock, NULL);
  pthread_mutex_lock(&fp_caches_lock);
  c->next = fp_caches;
  if (fp_caches != NULL) {
    fp_caches->pprev = &c->next;
  }
  c->pprev = &fp_caches;
  fp_caches = c;
  pthread_mutex_unlock(&fp_caches_lock);
  return c;
}

tv_status engine_fp_mac_new(const uint8_t *fp_key, EVP_MAC_CTX **out, uint64_t *out_id) {
  *out = NULL;
  pthread_once(&fp_once, fp_init);
  TV_ENSURE(alg_hmac != NULL && fp_tls_ok, TV_E_CRYPTO_BACKEND);
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg_hmac);
  TV_ENSURE(ctx != NULL, TV_E_NO_MEMORY);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx, fp_key, TV_KEYRING_KEY_LEN, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return TV_E_CRYPTO_BACKEND;
  }
  *out = ctx;
  *out_id = atomic_fetch_add(&fp_ids, 1) + 1u; /* never 0: 0 marks an empty slot */
  return TV_OK;
}

/* thread_mac returns this thread's keyed copy of |ns|'s context, ready
 * for a new message, or NULL. Cache lock held. */
static EVP_MAC_CTX *thread_mac(fp_cache *c, const engine_ns *ns) {
  for (size_t i = 0; i < FP_CACHE_SLOTS_NUM; i++) {
    if (c->slot[i].ns_id == ns->fp_id) {
      return EVP_MAC_init(c->slot[i].ctx, NULL, 0, NULL) == 1 ? c->slot[i].ctx : NULL;
    }
  }
  fp_slot *s = &c->slot[c->victim];
  c->victim = (c->victim + 1u) % FP_CACHE_SLOTS_NUM;
  EVP_MAC_CTX_free(s->ctx);
  s->ns_id = 0;
  s->ctx = EVP_MAC_CTX_dup(ns->fp_mac); /* fresh: ready for a message */
  if (s->ctx != NULL) {
    s->ns_id = ns->fp_id;
  }
  return s->ctx;
}

static tv_status mac_with(EVP_MAC_CTX *ctx, const uint8_t *msg, size_t msg_len, uint8_t *mac) {
  size_t mac_len = 0;
  TV_ENSURE(EVP_MAC_update(ctx, msg, msg_len) == 1, TV_E_CRYPTO_BACKEND);
  TV_ENSURE(EVP_MAC_final(ctx, mac, &mac_len, EVP_MAX_MD_SIZE) == 1 && mac_len >= TV_RECORD_FINGERPRINT_LEN,
            TV_E_CRYPTO_BACKEND);
  return TV_OK;
}

tv_status engine_fingerprint(const engine_ns *ns, const format_value *value, uint8_t out[TV_RECORD_FINGERPRINT_LEN]) {
  assert(ns->fp_id != 0 && ns->fp_mac != NULL);
  fp_cache *c = fp_cache_get();
  TV_ENSURE(c != NULL, TV_E_NO_MEMORY);
  uint8_t msg[1 + FORMAT_NAMESPACE_LEN_MAX + FORMAT_CHARS_MAX];
  size_t n = 0;
  msg[n++] = (uint8_t)ns->name_len;
  memcpy(msg + n, ns->name, ns->name_len);
  n += ns->name_len;
  memcpy(msg + n, value->canon, value->canon_len);
  n += value->canon_len;
  uint8_t mac[EVP_MAX_MD_SIZE];
  pthread_mutex_lock(&c->lock);
  EVP_MAC_CTX *ctx = thread_mac(c, ns);
  tv_status st = ctx != NULL ? mac_with(ctx, msg, n, mac) : TV_E_NO_MEMORY;
  pthread_mutex_unlock(&c->lock);
  if (st == TV_OK) {
    memcpy(out, mac, TV_RECORD_FINGERPRINT_LEN);
  }
  tv_wipe(msg, sizeof msg);
  tv_wipe(mac, sizeof mac);
  return st;
}

void engine_fp_forget(void) {
  pthread_mutex_lock(&fp_caches_lock);
  for (fp_cache *c = fp_caches; c != NULL; c = c->next) {
    pthread_mutex_lock(&c->lock);
    slots_clear(c);
    pthread_mutex_unlock(&c->lock);
  }
  pthread_mutex_unlock(&fp_caches_lock);
}
