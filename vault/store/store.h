/* The vault's store: the one interface the engine uses to keep and find
 * encrypted token records, whatever the backend.
 *
 * The default backend is an append-only log of segment files written
 * through io_uring with group commit (see uring_store.c). A second backend
 * (e.g. a distributed database) implements tv_store_backend and nothing
 * above this header changes.
 *
 * Writes are asynchronous at heart: tv_store_submit queues an operation and
 * its |done| callback runs, on one of the store's threads, only once the
 * record is durable (or has failed). A server can therefore answer later
 * without parking a thread per request. tv_store_put/reput/delete are
 * blocking conveniences on top of it.
 *
 * The store never sees plaintext: values arrive as AES-GCM ciphertext,
 * nonce and tag, and are stored as opaque bytes. */
#ifndef TV_STORE_STORE_H
#define TV_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vault/store/compact.h"
#include "vault/store/index.h"
#include "vault/store/record.h"
#include "vault/util/latency.h"
#include "vault/util/status.h"

typedef struct tv_store tv_store;

/* Test hook: called by the writer before each batch is written. Returning
 * a negative errno makes the store write only the first half of the batch
 * and then behave as if the kernel failed the write with that error (a
 * partial write followed by a failure: the worst case to clean up). */
typedef int (*tv_store_fault_fn)(void *ctx, uint64_t batch_no);

typedef struct tv_store_options {
  const char *dir;         /* store directory; created if missing */
  uint64_t segment_bytes;  /* roll size; 0 = TV_STORE_SEGMENT_BYTES_DEFAULT */
  size_t tokens_hint;      /* presize the index for this many tokens */
  int force_no_io_uring;   /* behave as if io_uring were unavailable; the
                              environment variable TV_STORE_FORCE_NO_IO_URING=1
                              does the same */
  uint64_t checkpoint_records; /* write an index checkpoint after this many
                                  records and at close, so open replays only
                                  the log after it; 0 = never write one (an
                                  existing checkpoint is still used) */
  tv_store_fault_fn fault; /* tests only; NULL in production */
  void *fault_ctx;
  int direct_io; /* experiment (store_bench): write batches with O_DIRECT from
                    a registered buffer instead of through the page cache;
                    measured slower here, so off (see README, "O_DIRECT") */
  int uring_reads; /* point reads (get_batch, find_fingerprint) through
                      io_uring submissions instead of copying from read-only
                      maps of the segments: for data mostly not in the page
                      cache, where one submission overlaps the disk reads
                      a map would fault in one by one (see README) */
  const char *conninfo; /* database backends (tv_store_backend_pg): a libpq
                           connection string or URI without a password;
                           |dir| is then unused (NULL allowed) */
  uint32_t statement_timeout_ms; /* database backends: the server cancels a
                                    statement running longer (the operation
                                    fails with TV_E_STORE_TIMEOUT); 0 =
                                    TV_STORE_STATEMENT_TIMEOUT_MS_DEFAULT */
  const char *read_conninfo; /* database backends, optional: one hot standby
                                that tv_store_get_batch_replica may read
                                (same rules as |conninfo|); NULL: none */
  uint32_t read_lag_max_ms;  /* how stale a replica read may be; 0 =
                                TV_STORE_READ_LAG_MAX_MS_DEFAULT */
} tv_store_options;

/* The default staleness bound of reads from a hot standby. */
#define TV_STORE_READ_LAG_MAX_MS_DEFAULT 1000u

/* The default statement timeout of a database store. */
#define TV_STORE_STATEMENT_TIMEOUT_MS_DEFAULT 10000u

/* Where a failed open found its problem. */
typedef struct tv_store_diag {
  char path[TV_STORE_PATH_LEN_MAX]; /* file involved, or "" */
  uint64_t offset;                  /* byte offset in |path| */
  char message[256];                /* one line for the operator */
  int io_failure;                   /* |message| names a failed call and its errno
                                       (tv_store_io_error); |offset| means nothing */
} tv_store_diag;

typedef struct tv_store_key {
  const uint8_t *ns;
  size_t ns_len;
  const uint8_t *token;
  size_t token_len;
} tv_store_key;

typedef enum tv_store_op_kind {
  TV_STORE_OP_PUT = 1,   /* new token; TV_E_STORE_TOKEN_EXISTS if live */
  TV_STORE_OP_REPUT = 2, /* re-encrypted value for a live token */
  TV_STORE_OP_DELETE = 3 /* tombstone; TV_E_STORE_NOT_FOUND if not live */
} tv_store_op_kind;

/* tv_store_op.flags: on a PUT or REPUT, the (namespace, fingerprint)
 * must be unique among live flagged records (a convergent namespace). A
 * database backend enforces it across processes and fails the loser with
 * TV_E_STORE_FINGERPRINT_EXISTS and op->loc naming the winner; the log
 * backend ignores it (its engine converges in-process). */
#define TV_STORE_OP_FP_UNIQUE 0x1u

typedef struct tv_store_op tv_store_op;

/* Called exactly once per accepted operation, from a store thread (the
 * completion thread for successes, the writer for failures), after the
 * record is durable and visible to readers (|status| TV_OK) or has
 * definitely not been written (any other status). Must not block for
 * long: it delays other producers' acknowledgements. It may submit a new
 * operation, including reusing |op|. */
typedef void (*tv_store_done_fn)(tv_store_op *op, tv_status status);

struct tv_store_op {
  /* Filled by the caller; the op and every byte |put| points to must stay
   * valid until |done| runs. For DELETE only put.ns and put.token are
   * used, and put.created_ms is the deletion time. */
  tv_store_op_kind kind;
  tv_record_put put;
  tv_store_done_fn done;
  void *user;
  uint32_t flags; /* TV_STORE_OP_*; 0 for none */
  /* Set by the store before |done| runs. */
  tv_store_loc loc;
  uint64_t seq;
  /* Private to the backend. */
  struct {
    uint64_t hash;
    uint64_t fp_hash;
    uint64_t old_fp_hash;
    tv_store_loc old_loc;
    tv_store_op *next;
  } priv;
};

/* A growable buffer the caller owns and reuses across reads, so a busy
 * reader stops allocating once it has seen its largest batch. */
typedef struct tv_store_buf {
  uint8_t *data;
  size_t cap;
} tv_store_buf;

/* tv_store_buf_cleanup frees |buf|'s memory; the struct can be reused. */
void tv_store_buf_cleanup(tv_store_buf *buf);

/* One result of a read: |put| points into the caller's tv_store_buf and
 * is valid until the buffer is next used or cleaned up. */
typedef struct tv_store_item {
  tv_status status; /* TV_OK, TV_E_STORE_NOT_FOUND, or why it failed */
  tv_store_loc loc;
  uint64_t seq;
  tv_record_put put;
} tv_store_item;

/* Called by tv_store_scan for each live token; a non-OK return stops the
 * scan and is returned by it. |put| is valid only during the call. */
typedef tv_status (*tv_store_scan_fn)(void *ctx, const tv_record_put *put, tv_store_loc loc);

typedef struct tv_store_stats {
  uint64_t batches;       /* write batches made durable (= fdatasyncs) */
  uint64_t records;       /* records made durable (excluding headers) */
  uint64_t bytes;         /* bytes written in batches */
  uint64_t failed_batches;
  uint64_t recovered_records; /* replayed at open */
  uint64_t torn_bytes_cut;    /* cut from the tail at open */
  uint64_t checkpoint_tokens; /* tokens loaded from a checkpoint at open */
  uint64_t checked_records;   /* records (headers included) the checkpoint
                                 covers, checked at open but not replayed */
  uint64_t checkpoints_written;
  uint64_t log_records; /* put, re-put and delete records in the log at open
                           (replayed, or checked under a checkpoint): 0 for
                           a store that never held data */
  int direct_io; /* 0: buffered writes; 1: O_DIRECT; 2: O_DIRECT from a
                    buffer registered with io_uring */
  tv_index_stats index;
  /* Latency of each durable batch's linked write + fdatasync, from the
   * submission of both to the completion of both (the fdatasync cannot
   * be timed apart from its write in one linked submission): count,
   * total, worst, and per bucket (not cumulative; the slots add up to
   * |fsyncs|). Failed batches are not counted. */
  uint64_t fsyncs;
  uint64_t fsync_us_sum;
  uint64_t fsync_us_max;
  uint64_t fsync_buckets[TV_LATENCY_BUCKETS_COUNT + 1]; /* vault/util/latency.h; last is +Inf */
} tv_store_stats;

/* What tv_store_open did about the checkpoint. */
typedef enum tv_store_ckpt_outcome {
  TV_STORE_CKPT_NONE = 0,      /* no CHECKPOINT file: the whole log replayed */
  TV_STORE_CKPT_USED = 1,      /* loaded: only the log after it replayed */
  TV_STORE_CKPT_DISCARDED = 2, /* unreadable or not matching the log:
                                  ignored, the whole log replayed */
} tv_store_ckpt_outcome;

/* What tv_store_open did to the log, for the caller to log (the store
 * logs nothing itself). */
typedef struct tv_store_open_report {
  /* A torn tail cut from the last segment (tail_bytes 0: none cut). */
  char tail_segment[32];    /* "seg-XXXXXXXX.log" */
  uint64_t tail_offset;     /* where the cut starts in it */
  uint64_t tail_bytes;      /* bytes cut that were written (the rest of
                               the file was preallocated zeros) */
  uint64_t tail_records;    /* records at least partly in those bytes */
  char tail_kept_as[64];    /* "<segment>.tail-<unix ms>" in the store
                               directory: the cut bytes, fsynced */
  tv_store_ckpt_outcome checkpoint;
  char checkpoint_why[96];  /* DISCARDED: why */
  uint64_t replayed_records; /* put/re-put/delete records replayed */
} tv_store_open_report;

/* What tv_store_snapshot copied, or where it failed. */
typedef struct tv_store_snapshot_info {
  uint64_t last_seq;    /* sequence number of the last record copied */
  uint64_t records;     /* put, re-put and delete records copied */
  uint64_t bytes;       /* bytes copied: segments and extra files */
  uint32_t segments;    /* segment files copied */
  uint32_t extra_files; /* extra files copied */
  tv_store_diag diag;   /* on failure: the file and offset involved */
} tv_store_snapshot_info;

/* A lease on once-per-fleet work (tv_store_lease). */
#define TV_STORE_LEASE_NAME_LEN_MAX 96u
#define TV_STORE_LEASE_HOLDER_LEN_MAX 96u /* a node_id (64) and a per-start instance */
#define TV_STORE_LEASE_PROGRESS_LEN_MAX 64u

typedef struct tv_store_lease_info {
  int held;   /* 1: the caller holds the lease until its ttl from now */
  int shared; /* 1: a lease among processes (a database); 0: the store
                 belongs to this process alone (the log), always held */
  char holder[TV_STORE_LEASE_HOLDER_LEN_MAX + 1]; /* the holder ("" if none) */
  /* What the holder last published with its take or renewal (the
   * caller's own when held). */
  uint8_t progress[TV_STORE_LEASE_PROGRESS_LEN_MAX];
  size_t progress_len;
} tv_store_lease_info;

/* A backend. Every function is required except |submit_wait| (NULL: the
 * wrapper retries |submit| with a growing sleep); scan and reads are safe
 * from any thread concurrently with submit. */
typedef struct tv_store_backend {
  const char *name;
  tv_status (*open)(const tv_store_options *opts, tv_store_diag *diag, void **out_impl);
  void (*close)(void *impl);
  tv_status (*submit)(void *impl, tv_store_op *op);
  tv_status (*get_batch)(void *impl, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                         tv_store_buf *buf);
  tv_status (*read_locations)(void *impl, const tv_store_loc *locs, size_t num, tv_store_item *out_items,
                              tv_store_buf *buf);
  tv_status (*find_fingerprint)(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t fp[16],
                                tv_store_item *out_items, size_t items_max, size_t *out_num, tv_store_buf *buf);
  tv_status (*scan)(void *impl, tv_store_scan_fn fn, void *ctx);
  tv_status (*snapshot)(void *impl, const char *dest_dir, const char *const *extra_paths, size_t num_extra,
                        tv_store_snapshot_info *info);
  tv_status (*compact)(void *impl, const tv_store_compact_options *opts, tv_store_compact_progress *progress);
  void (*get_stats)(void *impl, tv_store_stats *out);
  tv_status (*submit_wait)(void *impl, tv_store_op *op);
  /* optional (NULL: an empty report) */
  void (*get_open_report)(void *impl, tv_store_open_report *out);
  /* optional (NULL: always TV_OK, as for the local log): a cheap check
   * that the store can serve now (a database reachable) */
  tv_status (*health)(void *impl);
  /* optional (NULL: one process owns the store, every lease is held) */
  tv_status (*lease)(void *impl, const char *name, const char *holder, uint32_t ttl_ms, const uint8_t *progress,
                     size_t progress_len, tv_store_lease_info *out);
  tv_status (*lease_release)(void *impl, const char *name, const char *holder);
  /* optional (NULL: get_batch): tv_store_get_batch_replica */
  tv_status (*get_batch_replica)(void *impl, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                                 tv_store_buf *buf);
  tv_status (*find_fingerprints)(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t *fps,
                                 size_t num_fps, size_t per_fp_max, tv_store_item *out_items, size_t *out_counts,
                                 tv_store_buf *buf);
} tv_store_backend;

/* tv_store_backend_uring is the embedded io_uring log (the default). */
extern const tv_store_backend tv_store_backend_uring;

/* tv_store_backend_pg is the PostgreSQL backend (vault/store/pg/). */
extern const tv_store_backend tv_store_backend_pg;

/* tv_store_open opens (creating if needed) the store described by |opts|
 * using |backend| (NULL: tv_store_backend_uring), replaying its log. On
 * success |*out| is owned by the caller (tv_store_close). On failure
 * nothing is left open and, if |diag| is not NULL, it names the file and
 * byte offset of the problem: TV_E_STORE_CORRUPT for damage before the
 * last commit, TV_E_STORE_IO_URING_UNAVAILABLE, TV_E_STORE_LOCKED,
 * TV_E_STORE_LAYOUT, TV_E_IO. A torn tail (bad bytes at the end of the
 * log that were provably never acknowledged: see tail_rule.h) is not an
 * error: it is cut, kept aside as "<segment>.tail-<ms>" and reported in
 * tv_store_get_open_report; a complete record at the end of the log that
 * fails its CRC is damage (TV_E_STORE_CORRUPT). */
tv_status tv_store_open(const tv_store_backend *backend, const tv_store_options *opts, tv_store **out,
                        tv_store_diag *diag);

/* tv_store_close waits for every accepted operation to complete (every
 * |done| has run), then releases |s|; accepts NULL. No other call on |s|
 * may be in progress or start once it is called. */
void tv_store_close(tv_store *s);

/* tv_store_submit queues |op|. TV_OK: op->done will run exactly once.
 * Any other status (TV_E_STORE_BUSY when the queue is full,
 * TV_E_STORE_CLOSED, TV_E_STORE_RECORD_FIELD / TOO_LARGE for a bad record,
 * TV_E_INVALID_ARGUMENT): |done| will not run. */
tv_status tv_store_submit(tv_store *s, tv_store_op *op);

/* tv_store_submit_wait is tv_store_submit, except that while the queue is
 * full it blocks (never TV_E_STORE_BUSY) until the writer has drained the
 * queue to its low-water mark, woken by the writer rather than polling.
 * Never call it on the writer thread (a |done| callback with an error
 * status may run there): only the writer drains the queue. Same statuses
 * and ownership otherwise. */
tv_status tv_store_submit_wait(tv_store *s, tv_store_op *op);

/* tv_store_submit_sync submits |op| (waiting for queue space) and blocks
 * until it is durable or failed, for operations the conveniences below
 * cannot express (e.g. a PUT with |flags|). It sets |op->done| and
 * |op->user|; |op->loc| holds the location afterwards. Returns the
 * operation's status. */
tv_status tv_store_submit_sync(tv_store *s, tv_store_op *op);

/* tv_store_put, tv_store_reput and tv_store_delete submit one operation
 * and block until it is durable; they retry while the queue is BUSY.
 * Return the operation's status; |out_loc| (may be NULL) gets the new
 * record's location. */
tv_status tv_store_put(tv_store *s, const tv_record_put *put, tv_store_loc *out_loc);
tv_status tv_store_reput(tv_store *s, const tv_record_put *put, tv_store_loc *out_loc);
tv_status tv_store_delete(tv_store *s, const tv_store_key *key, uint64_t deleted_ms);

/* tv_store_get_batch looks up |num_keys| (≤ TV_STORE_GET_ITEMS_MAX) keys,
 * reading all their records with one submission, and fills |out_items|
 * one per key (status TV_OK, TV_E_STORE_NOT_FOUND, TV_E_INVALID_ARGUMENT
 * for a malformed key, or a read/decode error).
 * Returns TV_OK unless the whole batch failed (bad arguments, no memory). */
tv_status tv_store_get_batch(tv_store *s, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                             tv_store_buf *buf);

/* tv_store_get_batch_replica is tv_store_get_batch for reads that only
 * reveal (detokenize, token info), which a database store may serve from
 * a hot standby (tv_store_options.read_conninfo): a record found there is
 * at most |read_lag_max_ms| stale (a delete acknowledged earlier than
 * that, or through this store at any time, is seen); a key not found
 * there is read again from the primary, so a token just issued through
 * any node is found. Never fails for the standby's sake: a standby down
 * or behind means the primary serves. Never for reads that decide a
 * write (tokenize, delete, re-encryption): those use tv_store_get_batch. */
tv_status tv_store_get_batch_replica(tv_store *s, const tv_store_key *keys, size_t num_keys,
                                     tv_store_item *out_items, tv_store_buf *buf);

/* tv_store_read_locations reads the put records at |num| (≤
 * TV_STORE_GET_ITEMS_MAX) locations this store returned (op->loc,
 * item.loc, scan), all in one submission, CRC-checked. Each item gets
 * TV_OK, TV_E_INVALID_ARGUMENT (not a location of this store), TV_E_IO or
 * the decoder's error. A location stays readable while the store is open
 * even after its token is superseded or deleted, until a compaction
 * completes: after that an older location may name another record or
 * none (TV_E_INVALID_ARGUMENT or a decode error), so a caller that holds
 * locations across a compaction confirms what it read by its key. */
tv_status tv_store_read_locations(tv_store *s, const tv_store_loc *locs, size_t num, tv_store_item *out_items,
                                  tv_store_buf *buf);

/* tv_store_find_fingerprint returns in |out_items| (up to |items_max|) the
 * live puts in namespace |ns| whose fingerprint is |fp|, and their number
 * in |*out_num|. */
tv_status tv_store_find_fingerprint(tv_store *s, const uint8_t *ns, size_t ns_len, const uint8_t fp[16],
                                    tv_store_item *out_items, size_t items_max, size_t *out_num,
                                    tv_store_buf *buf);

/* tv_store_find_fingerprints is tv_store_find_fingerprint for |num_fps|
 * (≤ TV_STORE_GET_ITEMS_MAX) fingerprints of namespace |ns| at once (16
 * bytes each, one after the other in |fps|), in one pass over the index
 * (log) or one statement (database): up to |per_fp_max| (≥ 1) live puts
 * of fingerprint i go to out_items[i * per_fp_max ...] and their number to out_counts[i] (≤ per_fp_max: a caller that
 * gets per_fp_max may have missed some and can ask again one by one).
 * |out_items| holds num_fps * per_fp_max items. Returns TV_OK unless the
 * whole lookup failed. */
tv_status tv_store_find_fingerprints(tv_store *s, const uint8_t *ns, size_t ns_len, const uint8_t *fps,
                                     size_t num_fps, size_t per_fp_max, tv_store_item *out_items,
                                     size_t *out_counts, tv_store_buf *buf);

/* tv_store_scan calls |fn| for every live token (durable when the scan
 * started), in log order. A compaction's swap waits for running scans. */
tv_status tv_store_scan(tv_store *s, tv_store_scan_fn fn, void *ctx);

/* tv_store_snapshot writes an online, consistent backup of |s| into
 * |dest_dir| (created if missing; TV_E_STORE_BACKUP_TARGET if it exists
 * and is not empty) while writers go on appending. The copy holds every
 * record up to the last commit that was durable when the call started
 * (so everything acknowledged before the call), re-checked record by
 * record, plus a copy of each of the |num_extra| files at |extra_paths|
 * (each opened once and copied to its base name: files replaced by
 * rename, like the keyring, are copied consistently). Files and the
 * directory are synced and MANIFEST is written last. |info| (required)
 * gets the last sequence number, counts, and on failure the file and
 * offset involved; a failed snapshot leaves no MANIFEST (see backup.h). */
tv_status tv_store_snapshot(tv_store *s, const char *dest_dir, const char *const *extra_paths, size_t num_extra,
                            tv_store_snapshot_info *info);

/* tv_store_compact rewrites the sealed segments of |s| without
 * superseded, deleted and (|opts->now_ms|) expired values, on the
 * caller's thread, while writers keep appending and readers keep reading
 * (see compact.h for what is kept). It first seals the active segment so
 * everything written before the call is covered. The swap is atomic
 * through a manifest: a crash at any point leaves, after reopen, either
 * the old segments or the new ones. |opts| may be NULL (no rate limit,
 * expired values kept); |progress| (may be NULL) is updated as it goes
 * and can be read from another thread. TV_OK when swapped;
 * TV_E_STORE_BUSY if a compaction is already running; TV_E_STORE_LAYOUT
 * if an earlier swap could not finish (reopen the store to complete it);
 * TV_E_STORE_CORRUPT if a sealed segment does not decode; write errors
 * (TV_E_STORE_NO_SPACE, ...) leave the old segments in use. */
tv_status tv_store_compact(tv_store *s, const tv_store_compact_options *opts, tv_store_compact_progress *progress);
/* (A database store has no superseded copies to drop: a re-put replaces
 * its row, and the database's VACUUM reclaims the space. Its compaction
 * is the purge of expired values: each live row expired at
 * |opts->now_ms| becomes its stub, as the log's compaction keeps it;
 * progress counts rows looked at and stubbed.) */

/* tv_store_health says whether the store can serve operations now: TV_OK,
 * or for a database store TV_E_STORE_UNAVAILABLE (unreachable, shutting
 * down) or TV_E_STORE_TIMEOUT (too slow to answer). One round trip to the
 * database; the log backend answers TV_OK without any I/O (its disk's
 * space is readiness's own check). For health probes, not per call. */
tv_status tv_store_health(tv_store *s);

/* tv_store_lease takes or renews lease |name| (once-per-fleet work, e.g.
 * a namespace's rotation) for |holder| until |ttl_ms| from now, by the
 * database's clock, and publishes |progress| (up to
 * TV_STORE_LEASE_PROGRESS_LEN_MAX bytes) with it. It is taken when free,
 * already |holder|'s, or expired (its holder died or stalled: the caller
 * takes over and resumes). |out->held| says whether the caller holds it;
 * when not, |out| names the holder and its last progress. A store of one
 * process (the log) holds every lease without I/O. */
tv_status tv_store_lease(tv_store *s, const char *name, const char *holder, uint32_t ttl_ms,
                         const uint8_t *progress, size_t progress_len, tv_store_lease_info *out);

/* tv_store_lease_release gives up |holder|'s lease |name| (another node
 * can take it at once); nothing if |holder| does not hold it. */
tv_status tv_store_lease_release(tv_store *s, const char *name, const char *holder);

/* tv_store_get_stats fills |out| with counters since open. */
void tv_store_get_stats(tv_store *s, tv_store_stats *out);

/* tv_store_backend_impl returns |s|'s backend state when |s| was opened
 * with |backend|, else NULL: for a backend's own calls (e.g.
 * tv_pg_store_get_stats) to reach it safely. */
void *tv_store_backend_impl(tv_store *s, const tv_store_backend *backend);

/* tv_store_get_open_report fills |out| with what the open did to the log
 * (a tail cut, the checkpoint's fate), for the caller's log. */
void tv_store_get_open_report(tv_store *s, tv_store_open_report *out);

#endif
