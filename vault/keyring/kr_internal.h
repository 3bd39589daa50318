/* Internal to vault/keyring: the open keyring. Two views of one state:
 *   - |file|: what the keyring file durably says (wrapped keys, states,
 *     reservations, proposals). Changed only by kr_commit, under |mu|.
 *   - |namespaces|: the runtime view the engine reads (plaintext keys in
 *     secure memory, atomic counters). Changed under |rw| held for writing,
 *     only after the file that justifies the change is durable.
 * Lock order: |mu| before |rw|. Lookups take only |rw| for reading. */
#ifndef TV_KEYRING_KR_INTERNAL_H
#define TV_KEYRING_KR_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "vault/keyring/keyring.h"
#include "vault/keyring/kr_file.h"

/* One block of memory locked against swap and out of core dumps per
 * namespace: its two fixed keys and a slot per value key version. */
typedef struct kr_secrets {
  uint8_t token_key[TV_KEYRING_KEY_LEN];
  uint8_t fingerprint_key[TV_KEYRING_KEY_LEN];
  uint8_t value_keys[TV_KEYRING_VERSIONS_MAX][TV_KEYRING_KEY_LEN];
} kr_secrets;

typedef struct kr_version {
  uint32_t version;
  uint32_t slot; /* index into kr_secrets.value_keys */
  uint64_t created_s;
  _Atomic int state; /* tv_key_state */
  _Atomic uint64_t used;     /* encryptions handed out (upper bound) */
  _Atomic uint64_t reserved; /* durable high-water mark of |used| */
} kr_version;

typedef struct kr_namespace {
  char name[TV_KEYRING_NAMESPACE_LEN_MAX + 1];
  kr_secrets *secrets;
  ff1_key *token_ff1;
  uint32_t num_versions; /* oldest first; the pointers are stable */
  kr_version *versions[TV_KEYRING_VERSIONS_MAX];
  uint8_t slot_used[TV_KEYRING_VERSIONS_MAX];
} kr_namespace;

struct tv_keyring {
  tv_hsm *hsm;
  char path[PATH_MAX];
  char mac_label[TV_HSM_LABEL_MAX + 1];
  char counter_label[TV_HSM_LABEL_MAX + 1];
  uint64_t encryptions_max;
  uint64_t encryptions_warn;
  uint64_t reserve_block;
  uint64_t proposal_ttl_s;
  void (*step_hook)(void *ctx, const char *step);
  void *step_hook_ctx;
  /* tv_keyring_on_keys_dropped's function (under |mu|); NULL: none. */
  void (*keys_dropped)(void);
  int lock_fd;
  /* The shared document (keyring_persist.h), if |has_persist|. |stored|:
   * a document exists (0 between tv_keyring_create and its first commit). */
  int has_persist;
  tv_keyring_persist persist;
  int stored;
  /* When a pending KEK rotation was first seen at this generation
   * (monotonic ms), so a refresh can tell an abandoned one. */
  uint64_t pending_generation;
  uint64_t pending_since_ms;
  /* The refresh thread (options.refresh_ms > 0 with a persist). */
  uint32_t refresh_ms;
  int refresher_started;
  pthread_t refresher;
  pthread_mutex_t stop_mu;
  pthread_cond_t stop_cv;
  int stopping;

  pthread_mutex_t mu;
  pthread_rwlock_t rw;
  kr_file file;
  uint32_t num_namespaces;
  kr_namespace *namespaces[TV_KEYRING_NAMESPACES_MAX];
};

/* kr_blocks: encryption counts come in per-node blocks from the shared
 * store (persist.reserve) instead of the document's reservation. Then a
 * runtime version's |used| and |reserved| are this node's current block,
 * in the fleet's counts: next count to hand out, end of the block. */
static inline int kr_blocks(const tv_keyring *kr) {
  return kr->has_persist && kr->persist.reserve != NULL;
}

/* kr_step reports that step |step| of a change took effect (tests crash
 * the process here). */
void kr_step(tv_keyring *kr, const char *step);

/* kr_commit makes |next| the keyring's durable state: generation + 1, MAC
 * by the HSM, atomic replacement of the file, then the HSM counter raised
 * to the new generation. Takes ownership of |next| in every case. On
 * success kr->file is |next|. Called with |mu| held. Success means the file
 * is durable: if only raising the counter fails, it still returns TV_OK
 * (the counter catches up at the next commit or open). */
tv_status kr_commit(tv_keyring *kr, kr_file *next);

/* kr_wrap wraps the 32-byte |key| under the KEK |kek_label| into |*out|. */
tv_status kr_wrap(tv_keyring *kr, kr_wrapped *out, const char *kek_label, const uint8_t *key);

/* kr_unwrap recovers a 32-byte key into |out| (wiped on failure). */
tv_status kr_unwrap(tv_keyring *kr, uint8_t *out, const char *kek_label, const kr_wrapped *in);

/* kr_find_namespace returns the runtime namespace |name| or NULL (|rw| or
 * |mu| held). */
kr_namespace *kr_find_namespace(tv_keyring *kr, const char *name);

/* kr_find_version returns version |version| of |ns| or NULL. */
kr_version *kr_find_version(kr_namespace *ns, uint32_t version);

/* kr_namespace_new allocates a runtime namespace with its secure block. */
tv_status kr_namespace_new(kr_namespace **out, const char *name);

/* kr_namespace_free wipes and frees |ns|; accepts NULL. */
void kr_namespace_free(kr_namespace *ns);

/* kr_slot_take returns a free value-key slot of |ns| in |*out_slot|. */
tv_status kr_slot_take(kr_namespace *ns, uint32_t *out_slot);

/* kr_runtime_build unwraps every key of kr->file into the runtime view
 * (at open, before the keyring is shared). */
tv_status kr_runtime_build(tv_keyring *kr);

/* kr_now_s returns the wall clock in unix seconds. */
uint64_t kr_now_s(void);

/* Two-officer actions, carried out by tv_keyring_approve with |mu| held. */
tv_status kr_kek_rotate(tv_keyring *kr, kr_file *next, const char *new_label);
tv_status kr_kek_resume(tv_keyring *kr);
tv_status kr_destroy_version(tv_keyring *kr, kr_file *next, const char *name, uint32_t version);
tv_status kr_destroy_old_kek(tv_keyring *kr, kr_file *next, const char *label);

/* ---- the document (kr_doc.c): the file or the shared store ------------- */

/* kr_doc_load reads the whole document (body + MAC). */
tv_status kr_doc_load(tv_keyring *kr, uint8_t **out_buf, size_t *out_len);

/* kr_doc_store makes |len| bytes durable as generation |generation|
 * (compare-and-swap on kr->file.generation for a shared document). */
tv_status kr_doc_store(tv_keyring *kr, uint64_t generation, const uint8_t *data, size_t len);

/* kr_doc_verify checks |len| bytes of a document (MAC by the HSM, then
 * structure) and parses it into |*out|. */
tv_status kr_doc_verify(tv_keyring *kr, kr_file *out, const uint8_t *buf, size_t len);

/* kr_check_generation refuses |generation| older than the HSM counter
 * (a rollback) and raises a counter that lags behind it. */
tv_status kr_check_generation(tv_keyring *kr, uint64_t generation);

/* ---- fleet refresh (kr_refresh.c) --------------------------------------- */

/* kr_refresh_locked takes in a newer shared document (|mu| held); a no-op
 * without a persist. */
tv_status kr_refresh_locked(tv_keyring *kr);

/* kr_runtime_sync brings the runtime view up to |next| (verified), then
 * makes it kr->file (taking ownership). |mu| held. */
tv_status kr_runtime_sync(tv_keyring *kr, kr_file *next);

/* kr_keys_dropped calls tv_keyring_on_keys_dropped's function, if any
 * (|mu| held): a version stopped being usable here. */
void kr_keys_dropped(tv_keyring *kr);

/* kr_refresher_start / _stop: the background refresh thread. */
tv_status kr_refresher_start(tv_keyring *kr);
void kr_refresher_stop(tv_keyring *kr);

/* KR_CHANGE runs |call| (a change of the keyring, |mu| held) on the
 * newest document, again after taking in a newer one when another node
 * won the compare-and-swap, at most TV_KEYRING_CAS_TRIES_MAX times. */
#define KR_CHANGE(kr, status, call)                                              \
  do {                                                                           \
    (status) = TV_E_KEYRING_CONFLICT;                                            \
    for (unsigned kr_try_ = 0;                                                   \
         kr_try_ < TV_KEYRING_CAS_TRIES_MAX && (status) == TV_E_KEYRING_CONFLICT; \
         kr_try_++) {                                                            \
      (status) = kr_refresh_locked(kr);                                          \
      if ((status) == TV_OK) {                                                   \
        (status) = (call);                                                       \
      }                                                                          \
    }                                                                            \
  } while (0)

/* ---- files (kr_io.c) ----------------------------------------------------- */

/* kr_io_lock takes an exclusive lock on "<path>.lock" so two processes
 * never use one keyring; sets |*out_fd|. TV_E_KEYRING_LOCKED if taken. */
tv_status kr_io_lock(int *out_fd, const char *path);

/* kr_io_read reads the whole file |path| (at most |len_max| bytes) into a
 * new heap buffer. TV_E_KEYRING_NOT_FOUND if it does not exist,
 * TV_E_KEYRING_CORRUPT if it is larger than |len_max|. */
tv_status kr_io_read(uint8_t **out_buf, size_t *out_len, const char *path, size_t len_max);

/* kr_io_replace writes |len| bytes to "<path>.tmp", fsyncs it, renames it
 * over |path| and fsyncs the directory, reporting each step to |kr|. */
tv_status kr_io_replace(tv_keyring *kr, const char *path, const uint8_t *data, size_t len);

#endif
