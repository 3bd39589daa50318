/* Private to vault/engine: the engine struct and the helpers its files
 * share. */
#ifndef TV_ENGINE_ENGINE_INTERNAL_H
#define TV_ENGINE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include <openssl/types.h>

#include "vault/engine/engine.h"

/* Stripes of the convergence table: enough that 2..256 producers rarely
 * share a lock and that each stripe's list stays short with tens of
 * thousands of values in flight (a lookup walks its stripe's list: with
 * 64 stripes and 32 000 in flight that walk was ~5 % of tokenize CPU;
 * with 1 024 and 8 batches of 1 000 over gRPC it was still ~3.5 %: each
 * node is a cache miss); a power of two, at most 65 536 (indexed by two
 * fingerprint bytes). 16 384 x 48 bytes: 768 KiB per engine. */
#define ENGINE_INFLIGHT_STRIPES 16384u
/* Live records of one fingerprint looked at by a convergent lookup or an
 * erasure round (more than a few means many expired tokens of a value). */
#define ENGINE_FP_ITEMS_MAX 16u
/* Ciphertext bytes: a value is at most one format text. */
#define ENGINE_CT_LEN_MAX TV_ENGINE_TEXT_LEN_MAX

typedef struct engine_ns {
  tv_engine_namespace cfg;
  char name[FORMAT_NAMESPACE_LEN_MAX + 1];
  size_t name_len;
  /* HMAC-SHA-256 keyed with the namespace's fingerprint key, copied once
   * per thread that fingerprints (fingerprint.c): keying (and fetching
   * the algorithm) once, not per value. fp_id names it in those copies. */
  EVP_MAC_CTX *fp_mac;
  uint64_t fp_id;
} engine_ns;

struct tok_job;

/* Work handed to the engine's retry thread (see engine_defer). */
typedef struct engine_deferred {
  void (*run)(struct engine_deferred *d);
  struct engine_deferred *next;
} engine_deferred;

typedef struct inflight_stripe {
  pthread_mutex_t lock;
  struct tok_job *leaders; /* convergent tokenizations being written */
} inflight_stripe;

struct tv_engine {
  tv_store *store;
  tv_keyring *keyring;
  uint64_t (*now_ms)(void *ctx);
  void *now_ctx;
  engine_ns ns[TV_ENGINE_NAMESPACES_MAX];
  size_t num_ns;
  inflight_stripe stripes[ENGINE_INFLIGHT_STRIPES];

  /* Every accepted async request until its done ran (tv_engine_free). */
  pthread_mutex_t ops_lock;
  pthread_cond_t ops_cond;
  uint64_t ops_inflight;
  /* Deletes and re-encryption both re-put existing tokens: a re-encrypted
   * copy submitted after a tombstone would bring the value back, so
   * re-encryption waits for in-flight deletes and holds them off while it
   * reads and re-puts a chunk. */
  pthread_mutex_t mutate_lock;
  pthread_cond_t mutate_cond;
  uint64_t deletes_inflight;
  int reencrypting;
  /* Encryption epochs: before retiring a version, re-encryption waits for
   * every write that reserved a key before it started (it may have taken
   * the old version) to finish. */
  pthread_mutex_t epoch_lock;
  pthread_cond_t epoch_cond;
  uint64_t epoch;
  uint64_t epoch_writes[2];
  /* The retry thread: store failures (a lost token race among them) are
   * reported on the store's writer thread, which must not wait for queue
   * space it alone frees; retries run here instead. */
  pthread_t retry_thread;
  pthread_mutex_t retry_lock;
  pthread_cond_t retry_cond;
  engine_deferred *retry_head;
  engine_deferred *retry_tail;
  int retry_stop;
};

/* engine_find_ns returns the namespace called |name| or NULL. */
const engine_ns *engine_find_ns(const tv_engine *e, const char *name);

/* engine_now returns the engine clock in unix ms. */
uint64_t engine_now(const tv_engine *e);

/* engine_ops_begin / engine_ops_end count accepted async requests. */
void engine_ops_begin(tv_engine *e);
void engine_ops_end(tv_engine *e);

/* engine_epoch_enter returns the slot a write counts in;
 * engine_epoch_leave releases it; engine_epoch_drain waits until every
 * write entered before the call has left. */
unsigned engine_epoch_enter(tv_engine *e);
void engine_epoch_leave(tv_engine *e, unsigned slot);
void engine_epoch_drain(tv_engine *e);

/* engine_defer runs |d->run(d)| soon on the engine's retry thread. */
void engine_defer(tv_engine *e, engine_deferred *d);

/* engine_submit submits |op| to the store, waiting while its queue is
 * full. */
tv_status engine_submit(tv_engine *e, tv_store_op *op);

/* engine_token_canon writes the store key of |token| (separators removed,
 * upper-cased except for generic formats) to |out| (TV_ENGINE_TEXT_LEN_MAX
 * + 1 bytes). TV_E_INVALID_ARGUMENT if empty or too long. */
tv_status engine_token_canon(const engine_ns *ns, const char *token, size_t token_len, char *out,
                             size_t *out_len);

/* engine_fp_mac_new makes the keyed HMAC-SHA-256 context of a namespace
 * (free with EVP_MAC_CTX_free) and the id its per-thread copies go by
 * (unique in the process, never 0). */
tv_status engine_fp_mac_new(const uint8_t *fp_key, EVP_MAC_CTX **out, uint64_t *out_id);

/* engine_fp_forget frees every thread's keyed fingerprint contexts (part
 * of engine_forget_keys). */
void engine_fp_forget(void);

/* engine_fingerprint computes HMAC-SHA-256(fingerprint key, u8 len(ns) ||
 * ns || canonical value) truncated to 16 bytes. */
tv_status engine_fingerprint(const engine_ns *ns, const format_value *value, uint8_t out[TV_RECORD_FINGERPRINT_LEN]);

/* engine_seal encrypts |pt| (|pt_len| <= ENGINE_CT_LEN_MAX) for (ns,
 * token, version) into |put|'s nonce and tag and |ct| (|pt_len| bytes). */
tv_status engine_seal(const engine_ns *ns, const uint8_t *token, size_t token_len, uint32_t version,
                      const uint8_t *key, const uint8_t *pt, size_t pt_len, uint8_t *ct,
                      tv_record_put *put);

/* engine_forget_keys wipes every thread's cached GCM key (see seal.c)
 * and fingerprint contexts (fingerprint.c);
 * called when an engine is freed and when versions are retired, so no
 * copy of a key outlives its use. */
void engine_forget_keys(void);

/* engine_cached_keys counts the GCM contexts keyed now, in every thread
 * (tests: a dropped key leaves none). */
size_t engine_cached_keys(void);

/* engine_open decrypts |put| (whose ns, token, version bind it) into
 * |out_pt| (ENGINE_CT_LEN_MAX bytes). TV_E_ENGINE_DECRYPT, with |out_pt|
 * wiped, if authentication fails. */
tv_status engine_open(const tv_record_put *put, const uint8_t *key, uint8_t *out_pt, size_t *out_len);

/* engine_is_tombstone: |put| is an engine tombstone (version 0, no
 * expiry), not compaction's stub of an expired value (version 0 with its
 * past expiry kept), which still answers EXPIRED and can be deleted. */
int engine_is_tombstone(const tv_record_put *put);

/* engine_record_state maps a live record to TV_OK, TV_E_ENGINE_DELETED or
 * TV_E_ENGINE_EXPIRED at time |now|. */
tv_status engine_record_state(const tv_record_put *put, uint64_t now);

/* engine_key_of fills a store key for namespace |ns| and token bytes. */
tv_store_key engine_key_of(const engine_ns *ns, const char *token, size_t token_len);

/* Batched store lookups of a tokenize call (tokenize_prefetch.c). */

/* A convergent value's live token, as engine_find_live_tokens found it. */
typedef struct engine_live_token {
  tv_status status; /* TV_OK: |token| (canonical); TV_E_ENGINE_NOT_FOUND:
                       none; else why the lookup failed */
  char token[TV_ENGINE_TEXT_LEN_MAX + 1];
  size_t token_len;
} engine_live_token;

/* engine_find_live_tokens finds the live token (not deleted, not expired)
 * of each of |num| fingerprints (16 bytes each, one after the other) in
 * |ns|, with one store call per TV_STORE_GET_ITEMS_MAX of them, and fills
 * out[0 .. num) in every case; returns the first failure that hit all. */
tv_status engine_find_live_tokens(tv_engine *e, const engine_ns *ns, const uint8_t *fps, size_t num,
                                  engine_live_token *out);

/* engine_tokens_taken asks whether each of |num| store keys exists (in
 * any state: live, expired or tombstone — a token is never reissued),
 * with one tv_store_get_batch per TV_STORE_GET_ITEMS_MAX keys: out[i] is
 * TV_OK (taken), TV_E_STORE_NOT_FOUND (free) or why the lookup failed;
 * filled in every case. Returns the first failure. */
tv_status engine_tokens_taken(tv_engine *e, const tv_store_key *keys, size_t num, tv_status *out);

#endif
