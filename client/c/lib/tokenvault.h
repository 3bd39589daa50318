/* libtokenvault — the C client of the tokenvault service.
 *
 * A thin client: it holds no keys and does no cryptography of its own. It
 * speaks the tokenvault.v1 gRPC API (proto/tokenvault/v1/tokenvault.proto)
 * over mutual TLS, or over plaintext to a `tokenvaultd --dev` on loopback.
 *
 * Conventions
 * - Every fallible function returns a tv_client_code: TV_CLIENT_OK (0), a
 *   gRPC status code (1..16) the server or the transport answered, or a
 *   local failure (TV_CLIENT_E_*, >= 100). When |err| is not NULL it also
 *   receives a one-line explanation that never contains a value or token.
 * - Batch calls answer one item per input, in input order; the call's code
 *   says whether the batch was processed at all, each item's code (the
 *   vault's stable tv_status number, 0 = OK) and name ("FORMAT_LUHN") say
 *   what happened to that item.
 * - Results are owned by the caller and released with
 *   tv_client_result_free, which wipes every value they hold first.
 * - A tv_client may be used by one thread at a time; use one client per
 *   thread for parallel work (they may share nothing else).
 * - Retries: calls that are idempotent (detokenize, token info, list keys,
 *   rotation status, audit verify/read, health, whoami, delete, erase) are
 *   repeated on UNAVAILABLE up to retries_max times with exponential
 *   backoff. Tokenize is repeated only when retry_tokenize is set: in a
 *   convergent namespace (the same value always gets the same token) a
 *   repeat is harmless, in any other it could mint a second token, and the
 *   client cannot tell which kind a namespace is. Key rotations, proposals
 *   and approvals are never repeated. Streams are never repeated.
 *
 * Example (build with `cc app.c $(pkg-config --cflags --libs tokenvault)`):
 *
 *   tv_client_options o = {.target = "vault.internal:7443", .ca_file = "ca.crt",
 *                          .cert_file = "crm.crt", .key_file = "crm.key",
 *                          .retries_max = 3, .retry_tokenize = 1};
 *   tv_client *c;
 *   tv_client_error e;
 *   if (tv_client_new(&c, &o, &e) != TV_CLIENT_OK) { puts(e.message); return 1; }
 *   const char *pans[] = {"4111111111111111"};
 *   tv_client_result *r;
 *   if (tv_client_tokenize(c, &r, "pan", pans, 1, &e) == TV_CLIENT_OK) {
 *     if (r->items[0].code == 0) printf("token %s\n", r->items[0].text);
 *     else printf("refused: %s\n", r->items[0].name);
 *     tv_client_result_free(r);
 *   }
 *   tv_client_free(c);
 */
#ifndef TOKENVAULT_H
#define TOKENVAULT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tv_client_code {
  TV_CLIENT_OK = 0,
  /* 1..16: gRPC status codes, as the server or transport answered. */
  TV_CLIENT_CANCELLED = 1,
  TV_CLIENT_UNKNOWN = 2,
  TV_CLIENT_INVALID_ARGUMENT = 3,
  TV_CLIENT_DEADLINE_EXCEEDED = 4,
  TV_CLIENT_NOT_FOUND = 5,
  TV_CLIENT_ALREADY_EXISTS = 6,
  TV_CLIENT_PERMISSION_DENIED = 7,
  TV_CLIENT_RESOURCE_EXHAUSTED = 8,
  TV_CLIENT_FAILED_PRECONDITION = 9,
  TV_CLIENT_ABORTED = 10,
  TV_CLIENT_OUT_OF_RANGE = 11,
  TV_CLIENT_UNIMPLEMENTED = 12,
  TV_CLIENT_INTERNAL = 13,
  TV_CLIENT_UNAVAILABLE = 14,
  TV_CLIENT_DATA_LOSS = 15,
  TV_CLIENT_UNAUTHENTICATED = 16,
  /* >= 100: failures found by the library before or after the call. */
  TV_CLIENT_E_ARGUMENT = 100,  /* a NULL, empty or over-long argument */
  TV_CLIENT_E_NO_MEMORY = 101,
  TV_CLIENT_E_TLS_FILES = 102, /* a CA, certificate or key file unreadable */
  TV_CLIENT_E_PROTOCOL = 103,  /* the server's answer could not be decoded */
  TV_CLIENT_E_STREAM_FULL = 104, /* stream window full: call next first */
  TV_CLIENT_E_STREAM_DONE = 105, /* the stream has no more results */
} tv_client_code;

/* A call's failure explained in one line (no value or token in it). */
#define TV_CLIENT_ERROR_TEXT_MAX 256u
typedef struct tv_client_error {
  tv_client_code code;
  char message[TV_CLIENT_ERROR_TEXT_MAX];
  /* 1: a server answered with this status, and |message| holds its
   * reason; 0: no server answer (no connection, TLS refused, a local
   * check), so the fault may be the target or the server not running. */
  int from_server;
} tv_client_error;

/* The server's limit on items per request (vault/service/limits.h). */
#define TV_CLIENT_BATCH_ITEMS_MAX 1000u

typedef struct tv_client_options {
  const char *target;    /* "host:port"; required */
  int insecure;          /* 1: plaintext (tokenvaultd --dev on loopback) */
  const char *ca_file;   /* PEM CA bundle the server must chain to */
  const char *cert_file; /* PEM client certificate chain (mTLS) */
  const char *key_file;  /* PEM client private key (mTLS) */
  const char *server_name; /* expected name in the server certificate; NULL = host of target */
  uint32_t deadline_ms;  /* per call; for a stream, the longest wait for any
                          * progress (a bulk job may run for hours); 0 = 30 000 */
  uint32_t retries_max;  /* repeats of an idempotent call on UNAVAILABLE; 0 = none */
  uint32_t backoff_initial_ms; /* first backoff, doubled each retry; 0 = 100 */
  uint32_t backoff_max_ms;     /* cap on one backoff; 0 = 5 000 */
  int retry_tokenize;    /* 1: the caller vouches its namespaces are convergent */
  uint32_t batch_items;  /* items per request in the *_batch helpers; 0 = 1000 */
  uint32_t stream_window; /* stream requests in flight before next; 0 = 4 */
} tv_client_options;

typedef struct tv_client tv_client;

/* How much of a value detokenize returns. */
typedef enum tv_client_reveal {
  TV_CLIENT_REVEAL_FULL = 1,
  TV_CLIENT_REVEAL_MASKED = 2,
  TV_CLIENT_REVEAL_NONE = 3,
} tv_client_reveal;

/* One item of a batch result. |text| is the token (tokenize) or value
 * (detokenize), empty unless code == 0 and the call returns text; it is
 * NUL-terminated and |text_len| bytes long. The info fields are set by
 * tv_client_token_info only. */
typedef struct tv_client_item {
  uint32_t code;       /* tv_status number; 0 = OK */
  const char *name;    /* stable symbolic name, e.g. "OK", "ENGINE_NOT_FOUND" */
  const char *message; /* for humans */
  const char *text;
  size_t text_len;
  int64_t created_at_unix_ms;
  int64_t expires_at_unix_ms;
  uint32_t key_version;
} tv_client_item;

/* A data key version (list keys, rotate). |state| is the proto's KeyState:
 * 1 active, 2 decrypt-only, 3 retired, 4 destroyed. */
typedef struct tv_client_key {
  const char *namespace_name;
  uint32_t version;
  int state;
  int64_t created_at_unix_ms;
  uint32_t kek_version;
} tv_client_key;

/* A KEK rotation proposal. |state|: 1 pending, 2 approved, 3 expired. */
typedef struct tv_client_proposal {
  const char *proposal_id;
  const char *proposed_by;
  const char *approved_by;
  int state;
  int64_t proposed_at_unix_ms;
  int64_t expires_at_unix_ms;
  const char *reason;
} tv_client_proposal;

/* The background completion of one namespace's data-key rotation
 * (GetRotationStatus). |phase|: 1 queued, 2 re-encrypting, 3 compacting,
 * 4 done, 5 retrying (the last attempt failed: |last_error| names why,
 * e.g. "STORE_NO_SPACE"; "" when none). records_total 0: not known yet. */
typedef struct tv_client_rotation {
  const char *namespace_name;
  int phase;
  uint32_t active_version;
  uint64_t records_done;
  uint64_t records_total;
  uint64_t bytes_done;
  uint64_t bytes_total;
  uint32_t failed_attempts;
  const char *last_error;
  int64_t finished_at_unix_ms;
} tv_client_rotation;

/* One audit log entry (never a value). */
typedef struct tv_client_audit_entry {
  uint64_t seq;
  int64_t time_unix_ms;
  const char *principal;
  const char *method;
  const char *namespace_name;
  uint32_t items;
  uint32_t outcome_code;
  const char *outcome_name;
  const char *request_id;
} tv_client_audit_entry;

/* Values of one key version (store verify). */
typedef struct tv_client_key_version_count {
  uint32_t key_version;
  uint64_t records;
} tv_client_key_version_count;

/* One namespace's verification (store verify): counts, and the first
 * failed or key-less records by token (never a value). */
typedef struct tv_client_store_namespace {
  const char *namespace_name;
  uint64_t records;
  uint64_t values;        /* authenticated under their key version */
  uint64_t failed;        /* did not authenticate */
  uint64_t no_key;        /* key version unknown, retired or destroyed */
  uint64_t tombstones;
  uint64_t expired_stubs;
  size_t versions_count;
  const tv_client_key_version_count *versions;
  uint64_t other_versions; /* values of versions past the first 16 */
  size_t failed_tokens_count;
  const char *const *failed_tokens;
} tv_client_store_namespace;

/* The answer of any call. Only the fields that the call documents are set;
 * the others are zero. Strings point into the result and live until
 * tv_client_result_free. */
typedef struct tv_client_result {
  size_t items_count;
  const tv_client_item *items;         /* batch calls */
  size_t keys_count;
  const tv_client_key *keys;           /* list keys; rotate (one) */
  size_t proposals_count;
  const tv_client_proposal *proposals; /* propose/approve (one); status */
  size_t audit_entries_count;
  const tv_client_audit_entry *audit_entries; /* audit read */
  uint32_t kek_version;                /* rotation status */
  uint64_t data_keys_pending_rewrap;   /* rotation status */
  uint64_t tokens_erased;              /* erase */
  int audit_intact;                    /* audit verify */
  uint64_t audit_entries_checked;      /* audit verify */
  uint64_t audit_checkpoints_checked;  /* audit verify */
  uint64_t audit_first_bad_seq;        /* audit verify; 0 when intact */
  const char *audit_problem;           /* audit verify: status name at first_bad_seq */
  int serving;                         /* health: 1 SERVING */
  const char *principal;               /* whoami */
  const char *identity_source;         /* whoami */
  const char *transport_security;      /* whoami */
  int authenticated;                   /* whoami */
  size_t rotations_count;
  const tv_client_rotation *rotations; /* rotation status: data-key rotations */
  int store_intact;                    /* store verify: no failed or key-less value */
  size_t store_namespaces_count;
  const tv_client_store_namespace *store_namespaces; /* store verify */
  struct tv_client_result_owned *owned_; /* private: what the views point into */
} tv_client_result;

/* tv_client_version returns the library's version string ("0.1.0"). It
 * cannot fail; the string is static. */
const char *tv_client_version(void);

/* tv_client_code_name returns a static name for |code| ("UNAVAILABLE",
 * "E_TLS_FILES"); never NULL. */
const char *tv_client_code_name(tv_client_code code);

/* tv_client_new connects lazily to |options->target| and stores the new
 * client in |*out_client|. TLS files are read now, so a missing file fails
 * here with TV_CLIENT_E_TLS_FILES. On success the caller owns the client
 * (tv_client_free); on failure |*out_client| is NULL. |options| is copied;
 * its strings need not outlive the call. */
tv_client_code tv_client_new(tv_client **out_client, const tv_client_options *options,
                             tv_client_error *err);

/* tv_client_free closes the connection and frees |client|; NULL is a no-op. */
void tv_client_free(tv_client *client);

/* tv_client_result_free wipes every value and token |result| holds, then
 * frees it; NULL is a no-op. */
void tv_client_result_free(tv_client_result *result);

/* tv_client_wipe overwrites |len| bytes at |p| with zeros in a way the
 * compiler cannot remove: for copies of values the caller made. */
void tv_client_wipe(void *p, size_t len);

/* tv_client_tokenize tokenizes |count| (1..1000) NUL-terminated |values| in
 * |namespace_name|. On TV_CLIENT_OK |*out_result| holds |count| items whose
 * text is the token; per-item failures are items with code != 0. On
 * failure |*out_result| is NULL. The caller frees the result. */
tv_client_code tv_client_tokenize(tv_client *client, tv_client_result **out_result,
                                  const char *namespace_name, const char *const *values,
                                  size_t count, tv_client_error *err);

/* tv_client_detokenize resolves |count| (1..1000) |tokens| with |reveal|;
 * |reason| (may be NULL) is audited and may be required by policy. On
 * TV_CLIENT_OK the items' text is the value (full, masked, or empty for
 * NONE). Ownership as tv_client_tokenize; free the result to wipe values. */
tv_client_code tv_client_detokenize(tv_client *client, tv_client_result **out_result,
                                    const char *namespace_name, const char *const *tokens,
                                    size_t count, tv_client_reveal reveal, const char *reason,
                                    tv_client_error *err);

/* tv_client_tokenize_batch and tv_client_detokenize_batch accept any
 * |count| and split it into requests of options.batch_items; the result
 * has |count| items in order. A failed request fails the whole call (no
 * partial result). Ownership as the single-request calls. */
tv_client_code tv_client_tokenize_batch(tv_client *client, tv_client_result **out_result,
                                        const char *namespace_name, const char *const *values,
                                        size_t count, tv_client_error *err);
tv_client_code tv_client_detokenize_batch(tv_client *client, tv_client_result **out_result,
                                          const char *namespace_name, const char *const *tokens,
                                          size_t count, tv_client_reveal reveal,
                                          const char *reason, tv_client_error *err);

/* tv_client_delete deletes |count| tokens; items carry per-token codes (no
 * text). Ownership as tv_client_tokenize. */
tv_client_code tv_client_delete(tv_client *client, tv_client_result **out_result,
                                const char *namespace_name, const char *const *tokens, size_t count,
                                const char *reason, tv_client_error *err);

/* tv_client_erase removes every token of |value| (right to erasure); the
 * result's tokens_erased says how many. */
tv_client_code tv_client_erase(tv_client *client, tv_client_result **out_result,
                               const char *namespace_name, const char *value, const char *reason,
                               tv_client_error *err);

/* tv_client_token_info describes |count| tokens (never their values):
 * items carry code, created/expiry times and key version. */
tv_client_code tv_client_token_info(tv_client *client, tv_client_result **out_result,
                                    const char *namespace_name, const char *const *tokens,
                                    size_t count, tv_client_error *err);

/* tv_client_keys_list lists data key versions of |namespace_name| (NULL or
 * "" = every namespace the caller may read) into result keys. */
tv_client_code tv_client_keys_list(tv_client *client, tv_client_result **out_result,
                                   const char *namespace_name, tv_client_error *err);

/* tv_client_keys_rotate makes a new active data key version; the result
 * has one key. Never retried. */
tv_client_code tv_client_keys_rotate(tv_client *client, tv_client_result **out_result,
                                     const char *namespace_name, const char *reason,
                                     tv_client_error *err);

/* tv_client_kek_propose proposes a KEK rotation (one proposal in the
 * result); another officer must approve it. Never retried. */
tv_client_code tv_client_kek_propose(tv_client *client, tv_client_result **out_result,
                                     const char *reason, tv_client_error *err);

/* tv_client_kek_approve approves |proposal_id| (one proposal in the
 * result). PERMISSION_DENIED when the caller proposed it. Never retried. */
tv_client_code tv_client_kek_approve(tv_client *client, tv_client_result **out_result,
                                     const char *proposal_id, tv_client_error *err);

/* tv_client_rotation_status fills kek_version, data_keys_pending_rewrap,
 * proposals and rotations (every namespace rotated since the server
 * started). */
tv_client_code tv_client_rotation_status(tv_client *client, tv_client_result **out_result,
                                         tv_client_error *err);

/* tv_client_audit_verify checks the audit chain between |from_seq| and
 * |to_seq| (0 = start / end) on the server; fills the audit_* fields. */
tv_client_code tv_client_audit_verify(tv_client *client, tv_client_result **out_result,
                                      uint64_t from_seq, uint64_t to_seq, tv_client_error *err);

/* tv_client_store_verify asks the server to check that every stored
 * value of namespace |ns| (NULL or "": every namespace) authenticates
 * under its key version; fills store_intact and store_namespaces. Needs
 * keys:read. */
tv_client_code tv_client_store_verify(tv_client *client, tv_client_result **out_result, const char *ns,
                                      tv_client_error *err);

/* tv_client_audit_read reads up to |limit| (1..10 000) entries from
 * |from_seq| into audit_entries; |principal| and |method| filter (NULL =
 * all). */
tv_client_code tv_client_audit_read(tv_client *client, tv_client_result **out_result,
                                    uint64_t from_seq, uint32_t limit, const char *principal,
                                    const char *method, tv_client_error *err);

/* tv_client_health asks the standard gRPC health service about
 * "tokenvault.v1.TokenVault"; result serving is 1 when it serves. */
tv_client_code tv_client_health(tv_client *client, tv_client_result **out_result,
                                tv_client_error *err);

/* tv_client_whoami says how the server sees the caller: principal,
 * identity_source, authenticated, transport_security. */
tv_client_code tv_client_whoami(tv_client *client, tv_client_result **out_result,
                                tv_client_error *err);

/* ---- streams: bulk jobs with several requests in flight ----
 *
 * A stream sends batches (requests) and receives one result per batch, in
 * order. Up to options.stream_window batches may be in flight: send until
 * tv_client_stream_can_send is 0, then take a result with
 * tv_client_stream_next, and so on; memory stays bounded by the window.
 * After the last batch call tv_client_stream_close_send, then next until
 * it returns TV_CLIENT_E_STREAM_DONE (clean end) or a failure code. */
typedef struct tv_client_stream tv_client_stream;

/* tv_client_detokenize_stream_open opens a DetokenizeStream whose every
 * request uses |namespace_name|, |reveal| and |reason| (may be NULL). On
 * success the caller owns |*out_stream| (tv_client_stream_free). */
tv_client_code tv_client_detokenize_stream_open(tv_client *client, tv_client_stream **out_stream,
                                                const char *namespace_name,
                                                tv_client_reveal reveal, const char *reason,
                                                tv_client_error *err);

/* tv_client_tokenize_stream_open opens a TokenizeStream in
 * |namespace_name|; ownership as above. */
tv_client_code tv_client_tokenize_stream_open(tv_client *client, tv_client_stream **out_stream,
                                              const char *namespace_name, tv_client_error *err);

/* tv_client_stream_can_send returns 1 when another batch may be sent now,
 * 0 when the window is full or the send side is closed. */
int tv_client_stream_can_send(const tv_client_stream *stream);

/* tv_client_stream_send sends one batch of |count| (1..1000) items (|lens|
 * gives each length; NULL means NUL-terminated). The items are copied; the
 * caller may reuse them on return. TV_CLIENT_E_STREAM_FULL when the window
 * is full; a gRPC code when the stream has failed. */
tv_client_code tv_client_stream_send(tv_client_stream *stream, const char *const *items,
                                     const size_t *lens, size_t count, tv_client_error *err);

/* tv_client_stream_close_send says no more batches will be sent. */
tv_client_code tv_client_stream_close_send(tv_client_stream *stream, tv_client_error *err);

/* tv_client_stream_next waits for the result of the oldest batch in flight
 * and stores it in |*out_result| (caller frees). Returns
 * TV_CLIENT_E_STREAM_DONE after the last result of a cleanly closed
 * stream, TV_CLIENT_E_ARGUMENT when nothing is in flight and the send side
 * is open, or the stream's failure code. */
tv_client_code tv_client_stream_next(tv_client_stream *stream, tv_client_result **out_result,
                                     tv_client_error *err);

/* tv_client_stream_in_flight returns how many batches await a result. */
size_t tv_client_stream_in_flight(const tv_client_stream *stream);

/* tv_client_stream_free cancels the stream if it is still open and frees
 * it; NULL is a no-op. Results already taken stay valid. */
void tv_client_stream_free(tv_client_stream *stream);

#ifdef __cplusplus
}
#endif

#endif
