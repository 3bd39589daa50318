/* tv_keyring — the vault's data keys: versions, wrapping, rotation state.
 *
 * What is kept, per namespace:
 *   - a token key (FF1, 32 bytes) and a fingerprint key (HMAC-SHA-256,
 *     32 bytes), one of each for the life of the namespace. Tokens and
 *     fingerprints must never change when data keys rotate (convergence:
 *     the same value keeps its token across rotations), so these two keys
 *     are NOT versioned. Changing them would be a re-tokenisation of the
 *     whole namespace: a separate, rare procedure, out of scope here.
 *   - value-encryption keys (AES-256-GCM, 32 bytes), one per data-key
 *     version 1, 2, 3, ... Rotation adds a version; records name the
 *     version that encrypted them.
 *
 * Custody: every key is generated on the host (OpenSSL RAND_bytes) and is
 * stored only wrapped under the HSM's KEK (RFC 5649), in one keyring file.
 * The file is MACed as a whole with an HSM-held HMAC key, carries a
 * generation number that the HSM also records (a CKO_DATA counter, see
 * hsm/counter.h), and is replaced atomically (temp file, fsync, rename,
 * fsync directory). A file that was altered, truncated, extended, swapped
 * for another vault's, or replaced by an older copy is refused at open.
 *
 * At open every key is unwrapped once into memory locked against swap and
 * excluded from core dumps; the HSM is never called per value. Lookups are
 * safe from any number of threads, concurrently with rotations.
 *
 * Key states of a value key version:
 *   ACTIVE        the one version new values are encrypted under;
 *   DECRYPT_ONLY  an older version; records under it still decrypt until the
 *                 store's re-encryption moved them (tv_keyring_mark_reencrypted);
 *   RETIRED       no record uses it any more; refused for any use, kept
 *                 wrapped until two officers destroy it;
 *   DESTROYED     wiped from memory and removed from the file; the version
 *                 number is never reused.
 *
 * Each value key counts its encryptions (tv_keyring_reserve). The count is
 * persisted in blocks ahead of use, so a crash never lets a count (hence a
 * random-nonce budget) be reused, and a key refuses to go past its bound.
 * With a shared document (options.persist, a fleet) the blocks are each
 * node's own, taken from the shared store (keyring_persist.h reserve).
 *
 * KEK rotation and every destruction need two security officers: one
 * proposes, a different one approves before the proposal expires. Every
 * multi-step change is recorded in the file before it starts, so a crash at
 * any point is finished (or rolled back) by the next open. */
#ifndef TV_KEYRING_KEYRING_H
#define TV_KEYRING_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "hsm/hsm.h"
#include "vault/crypto/ff1.h"
#include "vault/keyring/keyring_persist.h"
#include "vault/util/status.h"

/* Every data key is 32 bytes (AES-256 / FF1 with AES-256 / HMAC-SHA-256). */
#define TV_KEYRING_KEY_LEN 32
/* Namespace names: 1..64 bytes of [a-z0-9_.-]. */
#define TV_KEYRING_NAMESPACE_LEN_MAX 64
/* Officer principal names (certificate SAN/CN): 1..128 printable bytes. */
#define TV_KEYRING_PRINCIPAL_LEN_MAX 128
/* Namespaces are configured by hand: a few dozen is a big vault. */
#define TV_KEYRING_NAMESPACES_MAX 1024
/* Value key versions kept per namespace (destroyed ones free their slot):
 * monthly rotation for 20 years still fits. */
#define TV_KEYRING_VERSIONS_MAX 256
/* Proposals waiting for approval at once. */
#define TV_KEYRING_PROPOSALS_MAX 64
/* Approved proposals kept for GetRotationStatus ("pending and recent"):
 * the newest ones, the oldest dropped first. */
#define TV_KEYRING_RECENT_MAX 8
/* A proposal's reason as the keyring file keeps it (printable ASCII). */
#define TV_KEYRING_REASON_LEN_MAX 200
/* Old KEKs waiting to be destroyed after rotations. */
#define TV_KEYRING_OLD_KEKS_MAX 16
/* The whole file: 1024 namespaces x 256 versions x ~64 bytes is 16 MiB. */
#define TV_KEYRING_FILE_LEN_MAX (32u * 1024u * 1024u)

/* GCM with 96-bit random nonces: NIST SP 800-38D bounds one key to 2^32
 * invocations; we stop at half of that so rotation is due long before. */
#define TV_KEYRING_ENCRYPTIONS_MAX_DEFAULT (UINT64_C(1) << 31)
/* Counts reserved (and persisted) per keyring write: one write per ~1M
 * encryptions keeps the HSM and the disk off the per-value path. */
#define TV_KEYRING_RESERVE_BLOCK_DEFAULT (UINT64_C(1) << 20)
/* Proposals expire after a day unless configured otherwise. */
#define TV_KEYRING_PROPOSAL_TTL_S_DEFAULT (24u * 3600u)
/* A fleet node polls the shared keyring twice a second: another node's
 * change is in force here well within 2 s. */
#define TV_KEYRING_REFRESH_MS_DEFAULT 500u
/* Tries of a change that lost a compare-and-swap to another node, each
 * after taking in the newer document, before TV_E_KEYRING_CONFLICT. */
#define TV_KEYRING_CAS_TRIES_MAX 8u
/* A KEK rotation left pending this long without the document changing
 * is taken to be abandoned by a node that died: the next node to look
 * finishes it (or rolls it back), as an open would. */
#define TV_KEYRING_PENDING_STALE_MS 5000u
/* HSM object holding the keyring's generation (see hsm/counter.h). */
#define TV_KEYRING_COUNTER_LABEL_DEFAULT "tokenvault-keyring-generation"

typedef struct tv_keyring tv_keyring;

typedef enum tv_key_state {
  TV_KEY_ACTIVE = 1,
  TV_KEY_DECRYPT_ONLY = 2,
  TV_KEY_RETIRED = 3,
  TV_KEY_DESTROYED = 4,
} tv_key_state;

typedef struct tv_keyring_options {
  const char *path;          /* the keyring file; its directory must exist.
                                With |persist|: only a name for messages */
  /* NULL: the document is the file at |path| (one process, locked). Else
   * where the fleet's shared document lives (keyring_persist.h); copied. */
  const tv_keyring_persist *persist;
  /* With |persist|: how often a background thread polls the stored
   * generation and takes in other nodes' changes (0: never; the daemon
   * uses TV_KEYRING_REFRESH_MS_DEFAULT). Every change made here first
   * takes in the newest document anyway. */
  uint32_t refresh_ms;
  const char *mac_label;     /* HSM HMAC key protecting the file */
  const char *kek_label;     /* tv_keyring_create only: the KEK to wrap under */
  const char *counter_label; /* NULL: TV_KEYRING_COUNTER_LABEL_DEFAULT */
  /* Encryptions allowed per value key; 0: the default. Lower in tests. */
  uint64_t encryptions_max;
  /* tv_keyring_reserve reports "rotation due" from here; 0: 3/4 of max. */
  uint64_t encryptions_warn;
  uint64_t reserve_block;  /* 0: TV_KEYRING_RESERVE_BLOCK_DEFAULT */
  uint64_t proposal_ttl_s; /* 0: TV_KEYRING_PROPOSAL_TTL_S_DEFAULT */
  /* Tests only: called at each named step of every multi-step change,
   * after the step took effect (crash-injection hooks). NULL in production. */
  void (*step_hook)(void *ctx, const char *step);
  void *step_hook_ctx;
} tv_keyring_options;

/* The keys of one version of a namespace. Pointers stay valid until
 * tv_keyring_free, except |value_key| of a version that is destroyed (it
 * must be RETIRED first, i.e. no record uses it). Never free them. */
typedef struct tv_keyring_keys {
  uint32_t version;
  tv_key_state state;
  const uint8_t *value_key;       /* AES-256-GCM, TV_KEYRING_KEY_LEN bytes */
  const uint8_t *token_key;       /* FF1, same for every version */
  const uint8_t *fingerprint_key; /* HMAC-SHA-256, same for every version */
  const ff1_key *token_ff1;       /* |token_key| expanded, ready for ff1_encrypt */
} tv_keyring_keys;

/* tv_keyring_create makes a new, empty keyring file at |options->path|
 * under the KEK |options->kek_label|, creates the HSM generation counter
 * and returns the open keyring in |*out_keyring| (free with
 * tv_keyring_free). TV_E_KEYRING_EXISTS if the file exists. The KEK and
 * MAC key must exist in |hsm| (tokenvault hsm init makes them). |hsm| must
 * outlive the keyring. */
tv_status tv_keyring_create(tv_keyring **out_keyring, tv_hsm *hsm,
                            const tv_keyring_options *options);

/* tv_keyring_open reads and verifies the keyring file, finishes any
 * rotation a crash interrupted, and unwraps every key. On failure
 * |*out_keyring| is NULL and the status names the problem:
 * TV_E_KEYRING_NOT_FOUND, _CORRUPT (malformed, truncated), _MAC (fails the
 * HSM integrity check), _ROLLBACK (older than the HSM's generation),
 * _COUNTER_MISSING, _LOCKED (open in another process), or the HSM's. */
tv_status tv_keyring_open(tv_keyring **out_keyring, tv_hsm *hsm,
                          const tv_keyring_options *options);

/* tv_keyring_refresh takes in a newer shared document (options.persist):
 * reads the stored generation and, if it moved, loads the document,
 * verifies it as tv_keyring_open does (MAC, structure, not older than the
 * HSM counter) and brings the runtime view up to it: new namespaces and
 * versions are unwrapped, states follow, destroyed versions are wiped.
 * Lookups running meanwhile see either the old or the new view. A pending
 * KEK rotation that stayed unchanged for TV_KEYRING_PENDING_STALE_MS is
 * finished here. On failure the view stays as it was. A no-op (TV_OK)
 * for a keyring file. Called by the refresh thread; tests call it. */
tv_status tv_keyring_refresh(tv_keyring *keyring);

/* tv_keyring_on_keys_dropped has |fn| called whenever a version stops
 * being usable here — retired or destroyed through this node or, in a
 * fleet, through another one (seen at a refresh) — so that copies of its
 * key outside the keyring (the engine's per-thread GCM contexts) are
 * wiped too. |fn| runs on the thread that made or took in the change,
 * with the keyring's lock held: it must not call the keyring. One
 * function per keyring (a later call replaces it); NULL: none. */
void tv_keyring_on_keys_dropped(tv_keyring *keyring, void (*fn)(void));

/* tv_keyring_free wipes every key and releases the keyring; accepts NULL.
 * No call may be in flight. */
void tv_keyring_free(tv_keyring *keyring);

/* tv_keyring_add_namespace generates the token key, fingerprint key and
 * value key version 1 of a new namespace |name|, and persists them.
 * TV_E_KEYRING_NAMESPACE_EXISTS if it has keys already. */
tv_status tv_keyring_add_namespace(tv_keyring *keyring, const char *name);

/* tv_keyring_active fills |*out_keys| with the ACTIVE version of namespace
 * |name| without counting an encryption (use tv_keyring_reserve to
 * encrypt). TV_E_KEYRING_NAMESPACE if unknown. */
tv_status tv_keyring_active(tv_keyring *keyring, tv_keyring_keys *out_keys, const char *name);

/* tv_keyring_version fills |*out_keys| with version |version| of |name|,
 * for decrypting records. TV_E_KEYRING_KEY_VERSION if there is no such
 * version (after taking in a newer shared document, in a fleet),
 * TV_E_KEYRING_KEY_STATE if it is retired or destroyed. */
tv_status tv_keyring_version(tv_keyring *keyring, tv_keyring_keys *out_keys, const char *name,
                             uint32_t version);

/* tv_keyring_reserve takes |count| encryptions (>= 1) on the ACTIVE value
 * key of |name| and fills |*out_keys| with it. The count is durable before
 * it is handed out (a keyring write once per reserve block). Returns
 * TV_E_KEYRING_KEY_EXHAUSTED, and hands out nothing, if the key would go
 * past its bound. If the reservation cannot be made durable (HSM or disk
 * failure) the call fails closed and those counts are skipped, never
 * reused. |*out_rotation_due| (may be NULL) is set to 1 once the warning
 * threshold is passed, else 0. */
tv_status tv_keyring_reserve(tv_keyring *keyring, tv_keyring_keys *out_keys,
                             int *out_rotation_due, const char *name, uint64_t count);

/* tv_keyring_rotate_data_key adds a new value key version to |name|, makes
 * it ACTIVE at once and turns the previous ACTIVE one DECRYPT_ONLY. The new
 * version is durable before it is used. Sets |*out_version| (may be NULL). */
tv_status tv_keyring_rotate_data_key(tv_keyring *keyring, uint32_t *out_version,
                                     const char *name);

/* tv_keyring_mark_reencrypted records that the store has moved every record
 * off |version| (DECRYPT_ONLY), making it RETIRED. Anything else is
 * TV_E_KEYRING_KEY_STATE. */
tv_status tv_keyring_mark_reencrypted(tv_keyring *keyring, const char *name, uint32_t version);

/* One version's status, for ListKeys. */
typedef struct tv_keyring_version_info {
  uint32_t version;
  tv_key_state state;
  uint64_t created_s;   /* unix seconds */
  uint64_t encryptions; /* counted so far (an upper bound after a restart) */
} tv_keyring_version_info;

/* tv_keyring_list_versions copies up to |out_max| version infos of |name|
 * (oldest first) and sets |*out_count| to the number there are. */
tv_status tv_keyring_list_versions(tv_keyring *keyring, tv_keyring_version_info *out,
                                   size_t *out_count, size_t out_max, const char *name);

/* tv_keyring_kek_label copies the label of the KEK everything is wrapped
 * under to |out| (TV_HSM_LABEL_MAX + 1 bytes). */
tv_status tv_keyring_kek_label(tv_keyring *keyring, char out[TV_HSM_LABEL_MAX + 1]);

/* tv_keyring_generation returns the generation of the keyring file. */
uint64_t tv_keyring_generation(tv_keyring *keyring);

/* ---- two-officer changes ---------------------------------------------- */

typedef enum tv_keyring_action {
  TV_KEYRING_ROTATE_KEK = 1,     /* |label|: the new KEK's label */
  TV_KEYRING_DESTROY_VERSION = 2, /* |name|, |version|: a RETIRED value key */
  TV_KEYRING_DESTROY_OLD_KEK = 3, /* |label|: a KEK retired by a rotation */
} tv_keyring_action;

typedef struct tv_keyring_proposal {
  uint64_t id;
  tv_keyring_action action;
  char proposer[TV_KEYRING_PRINCIPAL_LEN_MAX + 1];
  uint64_t proposed_s;
  char name[TV_KEYRING_NAMESPACE_LEN_MAX + 1];
  uint32_t version;
  char label[TV_HSM_LABEL_MAX + 1];
  char reason[TV_KEYRING_REASON_LEN_MAX + 1]; /* "" if none given */
  /* Approved (recent) proposals only: who approved it, and when. */
  char approver[TV_KEYRING_PRINCIPAL_LEN_MAX + 1];
  uint64_t approved_s;
} tv_keyring_proposal;

/* tv_keyring_propose records (durably) that officer |proposer| asks for
 * |proposal->action| at |now_s| (unix seconds); only |action|, |name|,
 * |version|, |label| and |reason| are read from |proposal| (the reason is
 * kept with bytes outside printable ASCII as '?', cut to
 * TV_KEYRING_REASON_LEN_MAX: the caller removes what must not be kept). Sets |*out_id|. The
 * target is checked now (e.g. the version must be RETIRED, the new KEK
 * label unused) and again at approval. Authorisation (who may propose) is
 * the policy layer's job. */
tv_status tv_keyring_propose(tv_keyring *keyring, uint64_t *out_id,
                             const tv_keyring_proposal *proposal, const char *proposer,
                             uint64_t now_s);

/* tv_keyring_approve lets officer |approver| approve proposal |id| at
 * |now_s| and carries it out. TV_E_KEYRING_SAME_OFFICER if |approver| is
 * the proposer, TV_E_KEYRING_PROPOSAL_EXPIRED if its time ran out (it is
 * then dropped), TV_E_KEYRING_PROPOSAL_NOT_FOUND if there is no such
 * proposal. */
tv_status tv_keyring_approve(tv_keyring *keyring, uint64_t id, const char *approver,
                             uint64_t now_s);

/* tv_keyring_list_proposals copies up to |out_max| pending proposals and
 * sets |*out_count| to the number pending. With a shared document
 * (options.persist) it, tv_keyring_list_recent and tv_keyring_kek_label
 * first take in the newest document (tv_keyring_refresh), so an officer
 * sees the fleet's proposals through any node. */
tv_status tv_keyring_list_proposals(tv_keyring *keyring, tv_keyring_proposal *out,
                                    size_t *out_count, size_t out_max);

/* tv_keyring_list_recent copies up to |out_max| of the last
 * TV_KEYRING_RECENT_MAX approved proposals (oldest first, |approver| and
 * |approved_s| set) and sets |*out_count| to how many are kept. They are
 * in the keyring file, so they survive restarts. */
tv_status tv_keyring_list_recent(tv_keyring *keyring, tv_keyring_proposal *out, size_t *out_count,
                                 size_t out_max);

/* tv_key_state_name returns "active", "decrypt-only", "retired",
 * "destroyed" or "unknown". */
const char *tv_key_state_name(tv_key_state state);

#endif
