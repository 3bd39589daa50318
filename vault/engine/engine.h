/* tv_engine — tokenize / detokenize / delete: the one place that combines
 * token formats, FF1, the keyring and the store.
 *
 * Written for a server that answers later: every write has an
 * asynchronous form (tv_engine_tokenize_submit, tv_engine_delete_submit)
 * whose |done| callback runs, on a store thread, once every item's record
 * is durable (or has failed); the plain forms block on top of them.
 * Preparation (validation, fingerprint, convergence lookup, candidate
 * generation, encryption) runs on the caller's thread inside submit; only
 * the durable write is asynchronous.
 *
 * Records (see vault/store/record.h) hold the value as it was given
 * (separators kept) under AES-256-GCM with a 96-bit random nonce and
 * AAD = "tvengine1" || u8 len(ns) || ns || u8 len(token) || token ||
 * u32be(key version), so a ciphertext moved to another token, namespace
 * or version fails authentication. The store key is the token's canonical
 * form (separators removed, letters upper-cased except in generic
 * formats), so detokenize accepts a token with or without separators.
 *
 * Deletion tombstones: a deleted token stays in the store as a re-put with
 * key version TV_ENGINE_TOMBSTONE_VERSION (0), no ciphertext and a random
 * fingerprint. The token is therefore never handed out again, detokenize
 * can answer DELETED (distinct from NOT_FOUND), and the value's
 * ciphertext is gone from the index at once (physically from disk at
 * compaction, which must keep version-0 records as they are).
 *
 * Threads: every call is safe from any number of threads once the
 * namespaces are added (tv_engine_add_namespace is start-up only). |done|
 * callbacks run on store threads: they must return quickly and must not
 * call back into the engine (hand the next request to another thread),
 * since a submit may wait for the store's queue or for re-encryption. */
#ifndef TV_ENGINE_ENGINE_H
#define TV_ENGINE_ENGINE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/format/format.h"
#include "vault/keyring/keyring.h"
#include "vault/store/store.h"
#include "vault/util/status.h"

/* Items per call: the store reads at most this many in one submission. */
#define TV_ENGINE_BATCH_ITEMS_MAX 4096u
/* Namespaces configured at once (a few dozen is a big vault). */
#define TV_ENGINE_NAMESPACES_MAX 64u
/* Caller metadata per token: a reference or tag, never a document; it is
 * not encrypted, so it must not hold secrets. */
#define TV_ENGINE_METADATA_LEN_MAX 128u
/* Tokens and values are at most one format text long. */
#define TV_ENGINE_TEXT_LEN_MAX FORMAT_TEXT_LEN_MAX
/* Key version marking an engine tombstone (keyring versions start at 1). */
#define TV_ENGINE_TOMBSTONE_VERSION 0u
/* Expiries beyond ~300 years are refused (catches seconds-vs-ms mistakes
 * the other way round and overflow). */
#define TV_ENGINE_TTL_MS_MAX (UINT64_C(10000) * 365 * 24 * 3600 * 1000)

typedef struct tv_engine tv_engine;

typedef struct tv_engine_options {
  tv_store *store;     /* not owned; must outlive the engine */
  tv_keyring *keyring; /* not owned; must outlive the engine */
  /* Clock in unix milliseconds; NULL: the real clock. Tests move time. */
  uint64_t (*now_ms)(void *ctx);
  void *now_ctx;
} tv_engine_options;

/* A namespace: its format (format.namespace_name is its name), whether it
 * is convergent, and the TTL given to tokens that ask for none. */
typedef struct tv_engine_namespace {
  tv_format format;
  int convergent;
  uint64_t default_ttl_ms; /* 0: tokens never expire by default */
} tv_engine_namespace;

/* tv_engine_new makes an engine over |options->store| and
 * |options->keyring|. Free with tv_engine_free. */
tv_status tv_engine_new(tv_engine **out_engine, const tv_engine_options *options);

/* tv_engine_free waits until every submitted operation has called back,
 * then releases |engine|; accepts NULL. The store and keyring stay open. */
void tv_engine_free(tv_engine *engine);

/* tv_engine_add_namespace configures |ns| (copied). Its format must pass
 * format_config_validate (else its status, and |why| gets the sentence if
 * not NULL) and the keyring must hold its keys (TV_E_KEYRING_NAMESPACE).
 * TV_E_ENGINE_NAMESPACE_EXISTS if configured already. Start-up only: not
 * concurrently with other calls. */
tv_status tv_engine_add_namespace(tv_engine *engine, const tv_engine_namespace *ns, char *why,
                                  size_t why_len);

/* ---- tokenize --------------------------------------------------------- */

typedef struct tv_tokenize_item {
  /* In. */
  const char *value;
  size_t value_len;
  uint64_t expires_ms; /* absolute unix ms; 0: use ttl_ms */
  uint64_t ttl_ms;     /* 0: the namespace's default TTL */
  const uint8_t *metadata;
  size_t metadata_len; /* <= TV_ENGINE_METADATA_LEN_MAX */
  /* Out. */
  tv_status status; /* TV_OK, a format error, or why it failed */
  char token[TV_ENGINE_TEXT_LEN_MAX + 1];
  size_t token_len;
  int existing; /* 1: convergent namespace returned an earlier token */
} tv_tokenize_item;

/* A caller's meter of new tokens (the server's new-tokens-per-kept-group
 * limit). |take| runs on the submitting thread for every item that passed
 * validation, with the item's kept characters (format_value.kept: a PAN's
 * BIN + last 4), BEFORE the convergent lookup: so a refusal cannot depend
 * on whether the value already has a token (else the refusal itself would
 * be the oracle the meter is there to close). TV_OK: go on, and
 * *out_ticket is handed back; another status becomes the item's status and
 * nothing is looked up or minted. |give_back| (any thread, before |done|)
 * returns the take of an item that did not mint a new token: an earlier
 * token answered it, or it failed. The kept characters are the real
 * value's: hash them, never keep or log them. |candidates| is the item's
 * guessing space (format_value_guess_space): what a limit can follow. */
typedef struct tv_tokenize_meter {
  tv_status (*take)(void *ctx, const char *kept, size_t kept_len, uint64_t candidates, uint32_t *out_ticket);
  void (*give_back)(void *ctx, const char *kept, size_t kept_len, uint32_t ticket);
  void *ctx;
} tv_tokenize_meter;

typedef struct tv_tokenize_req tv_tokenize_req;
typedef void (*tv_tokenize_done_fn)(tv_tokenize_req *req);

struct tv_tokenize_req {
  const char *ns; /* namespace name, NUL-terminated */
  tv_tokenize_item *items;
  size_t num_items; /* 1..TV_ENGINE_BATCH_ITEMS_MAX */
  tv_tokenize_done_fn done;
  void *user;
  const tv_tokenize_meter *meter; /* NULL: nothing metered */
  struct {
    atomic_size_t pending;
    void *jobs;
    tv_engine *engine;
  } priv;
};

/* tv_engine_tokenize_submit validates each value with its namespace's
 * format and mints (or, convergent, finds) its token. Each item gets its
 * own status; one bad value does not fail the others. TV_OK: |req->done|
 * runs exactly once, after every item is final (a new token's record is
 * durable before it is reported), possibly before this returns. Other
 * statuses (TV_E_ENGINE_NAMESPACE, TV_E_ENGINE_BATCH_TOO_LARGE,
 * TV_E_INVALID_ARGUMENT, TV_E_NO_MEMORY): |done| does not run. |req|,
 * its items and the bytes they point to stay valid until |done|. */
tv_status tv_engine_tokenize_submit(tv_engine *engine, tv_tokenize_req *req);

/* tv_engine_tokenize is the blocking form: returns once every item is
 * final, or the request's error as above. */
tv_status tv_engine_tokenize(tv_engine *engine, const char *ns, tv_tokenize_item *items,
                             size_t num_items);

/* ---- detokenize ------------------------------------------------------- */

typedef enum tv_reveal {
  TV_REVEAL_NONE = 0,   /* existence only */
  TV_REVEAL_MASKED = 1, /* format_mask_like of the real value */
  TV_REVEAL_FULL = 2,   /* the value (canonical characters) in the shape
                           of the token sent: format_reshape */
} tv_reveal;

typedef struct tv_detokenize_item {
  /* In. */
  const char *token;
  size_t token_len;
  /* Out. |value| holds a secret under FULL: the caller wipes it. */
  tv_status status; /* TV_OK, ENGINE_NOT_FOUND / _EXPIRED / _DELETED /
                       _DECRYPT, or a store/keyring error */
  char value[TV_ENGINE_TEXT_LEN_MAX + 1];
  size_t value_len; /* 0 under NONE */
} tv_detokenize_item;

/* tv_engine_detokenize looks every token up (all reads of the batch in one
 * store submission), decrypts and reveals at |reveal|. Each item gets its
 * own status. FULL and MASKED values come back in the shape of the item's
 * token as sent (its separators where it has them; none for a token sent
 * without), not in the shape the value was stored in: in a convergent
 * namespace each caller's round trip gives back what it sent (US SSNs
 * masked are always ***-**-NNNN). Returns TV_OK unless the whole call failed
 * (TV_E_ENGINE_NAMESPACE, TV_E_ENGINE_BATCH_TOO_LARGE, TV_E_NO_MEMORY,
 * TV_E_INVALID_ARGUMENT). A value that fails authentication is never
 * returned: the item gets TV_E_ENGINE_DECRYPT and an empty value. */
tv_status tv_engine_detokenize(tv_engine *engine, const char *ns, tv_detokenize_item *items,
                               size_t num_items, tv_reveal reveal);

/* ---- lifecycle -------------------------------------------------------- */

typedef struct tv_delete_req tv_delete_req;
typedef void (*tv_delete_done_fn)(tv_delete_req *req);

struct tv_delete_req {
  const char *ns;
  const char *const *tokens;
  const size_t *token_lens;
  tv_status *out_statuses; /* one per token: TV_OK, NOT_FOUND, DELETED, ... */
  size_t num_tokens;       /* 1..TV_ENGINE_BATCH_ITEMS_MAX */
  tv_delete_done_fn done;
  void *user;
  struct {
    atomic_size_t pending;
    void *jobs;
    tv_engine *engine;
  } priv;
};

/* tv_engine_delete_submit tombstones each live token (see the top of this
 * file). Same contract as tv_engine_tokenize_submit: |done| once every
 * tombstone is durable or failed. An expired token can be deleted. */
tv_status tv_engine_delete_submit(tv_engine *engine, tv_delete_req *req);

/* tv_engine_delete is the blocking form of tv_engine_delete_submit. */
tv_status tv_engine_delete(tv_engine *engine, const char *ns, const char *const *tokens,
                           const size_t *token_lens, tv_status *out_statuses, size_t num_tokens);

/* tv_engine_erase_value tombstones every token of |value| in |ns| (found
 * by fingerprint): the right to erasure. |*out_erased| gets how many. A
 * malformed value gets its format error. Blocks until durable. */
tv_status tv_engine_erase_value(tv_engine *engine, size_t *out_erased, const char *ns,
                                const char *value, size_t value_len);

typedef struct tv_token_info {
  uint64_t created_ms;
  uint64_t expires_ms; /* 0: never */
  uint32_t key_version;
  uint8_t metadata[TV_ENGINE_METADATA_LEN_MAX];
  size_t metadata_len;
} tv_token_info;

/* tv_engine_token_info fills |*out| for |token| (never the value). TV_OK
 * for a live token; TV_E_ENGINE_EXPIRED also fills |*out|;
 * TV_E_ENGINE_DELETED and TV_E_ENGINE_NOT_FOUND leave it zero. */
tv_status tv_engine_token_info(tv_engine *engine, tv_token_info *out, const char *ns,
                               const char *token, size_t token_len);

/* ---- verification (tokenvault store verify) ----------------------------- */

/* Key versions a verification counts separately; more are summed in
 * |other_versions|. */
#define TV_ENGINE_VERIFY_VERSIONS_MAX 16u

/* Failed records a verification names (by token); more are only counted. */
#define TV_ENGINE_VERIFY_FAILED_NAMED_MAX 16u

typedef struct tv_verify_report {
  uint64_t records;       /* records of the namespace seen */
  uint64_t values;        /* values that authenticated under their key version */
  uint64_t failed;        /* values that did not (tampered, wrong key) */
  uint64_t no_key;        /* values whose key version is unknown, retired or destroyed */
  uint64_t tombstones;    /* deleted tokens */
  uint64_t expired_stubs; /* expired values whose ciphertext was purged */
  uint32_t versions[TV_ENGINE_VERIFY_VERSIONS_MAX];
  uint64_t per_version[TV_ENGINE_VERIFY_VERSIONS_MAX]; /* values per key version */
  size_t num_versions;
  uint64_t other_versions;
  /* The first failed (or key-less) records by token, NUL-terminated: a
   * token is not a value, so an operator may see it. */
  char failed_tokens[TV_ENGINE_VERIFY_FAILED_NAMED_MAX][TV_STORE_TOKEN_LEN_MAX + 1];
  size_t num_failed_tokens;
} tv_verify_report;

/* tv_engine_verify reads every record of namespace |ns| (tv_store_scan:
 * either backend) and checks that each value authenticates under its key
 * version (AES-GCM with the AAD binding namespace, token and version),
 * counting values, failures, tombstones and stubs per key version. The
 * plaintexts are wiped at once; nothing is logged. TV_OK with the counts
 * in |*out| (failures are counts, not an error); a store failure stops
 * it and is returned. */
tv_status tv_engine_verify(tv_engine *engine, tv_verify_report *out, const char *ns);

/* ---- rotation completion ---------------------------------------------- */

typedef struct tv_reencrypt_progress {
  uint64_t scanned;     /* live records of the namespace seen */
  uint64_t reencrypted; /* moved to the active version by this call */
  uint64_t remaining;   /* still under an older version when it returned */
  uint32_t active_version;
  uint32_t retired[8]; /* versions marked re-encrypted by this call */
  size_t num_retired;
} tv_reencrypt_progress;

typedef struct tv_reencrypt_options {
  uint64_t records_per_s; /* rate limit; 0: unlimited */
  uint64_t records_max;   /* stop after this many (resumable); 0: all */
  size_t chunk_records;   /* records per read+reput round; 0: 256 */
} tv_reencrypt_options;

/* tv_engine_reencrypt moves every record of |ns| under a non-active key
 * version to the active one (decrypt, encrypt, durable re-put), then marks
 * each DECRYPT_ONLY version no record uses any more as re-encrypted in the
 * keyring (RETIRED). Stopping early (records_max) or a crash loses
 * nothing: run it again to resume. |options| may be NULL. A record that
 * fails authentication is left as it is and counted in |remaining|; any
 * other failure to move a record (TV_E_STORE_NO_SPACE, a store write
 * error, TV_E_KEYRING_KEY_EXHAUSTED, ...) stops the call and is returned,
 * with |reencrypted| counting the records moved before it and |remaining|
 * those the scan found still to move.
 * Physical compaction of segment files is not done here (see
 * tv_engine_complete_rotation). */
tv_status tv_engine_reencrypt(tv_engine *engine, tv_reencrypt_progress *out_progress, const char *ns,
                              const tv_reencrypt_options *options);

typedef struct tv_rotation_options {
  tv_reencrypt_options reencrypt;
  uint64_t compact_bytes_per_s; /* compaction rate limit; 0: unlimited */
} tv_rotation_options;

typedef struct tv_rotation_progress {
  tv_reencrypt_progress reencrypt; /* final once the call returns */
  tv_store_compact_progress compact; /* live: tv_store_compact_progress_get */
} tv_rotation_progress;

/* tv_engine_complete_rotation finishes a data-key rotation of |ns|:
 * tv_engine_reencrypt (every record moved to the active version, unused
 * older versions retired), then tv_store_compact, which drops the
 * superseded old-version records (and every other dead record of the
 * store, expired values stripped at the engine's clock) from disk. After
 * TV_OK with |reencrypt.remaining| 0 no ciphertext of |ns| under an older
 * version is left on disk, so a retired version can be destroyed.
 * Layering: the store never sees keys; re-encryption is the engine's,
 * physical compaction the store's. Runs on the caller's thread (a daemon
 * uses a background thread and polls |out_progress->compact|). |options|
 * may be NULL. Errors: those of the two calls. */
tv_status tv_engine_complete_rotation(tv_engine *engine, tv_rotation_progress *out_progress, const char *ns,
                                      const tv_rotation_options *options);

#endif
