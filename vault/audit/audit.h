/* tv_audit — the vault's tamper-evident audit log.
 *
 * Every call of the service is recorded as one line (JSON Lines, format in
 * vault/audit/line.h) carrying the hash of the line before it, from a
 * genesis value bound to a random log id. Every |checkpoint_entries|
 * lines (the checkpoint closes the batch that reaches the count) or
 * |checkpoint_interval_ms|, at each segment's end (a segment is closed once
 * it has reached |segment_bytes_max|) and at a clean close, a checkpoint
 * line is sealed with HMAC-SHA-256 by a key held in the
 * HSM, and the HSM's monotonic counter for the log is raised to the
 * checkpoint's sequence number, so a log cut after a checkpoint is told
 * apart from a complete one (vault/audit/verify.h).
 *
 * Durability and failing closed: an append completes only when its line is
 * on disk (write + fdatasync; one writer thread batches the entries of many
 * producers into one write and one fdatasync). If the line cannot be made
 * durable — I/O error, disk full, file unwritable, or the HSM unavailable
 * when a checkpoint is due — the append fails with TV_E_AUDIT_NO_SPACE
 * (disk full, file size limit), TV_E_AUDIT_UNAVAILABLE (any other write
 * failure) or the HSM's status, and the caller MUST refuse the data call: the
 * service maps every non-TV_OK append status to gRPC UNAVAILABLE before it
 * answers. The appends return a tv_status marked warn_unused_result, so a
 * caller that ignores it does not build (-Werror). After a failure the
 * next batch tries again (the file is first cut back to its last durable
 * length), so the log recovers when the disk or the HSM does.
 *
 * Entries never hold a value or token, only counts. */
#ifndef TV_AUDIT_AUDIT_H
#define TV_AUDIT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "hsm/hsm.h"
#include "vault/util/latency.h"
#include "vault/util/status.h"

#if defined(__GNUC__) || defined(__clang__)
#define TV_AUDIT_MUST_CHECK __attribute__((warn_unused_result))
#else
#define TV_AUDIT_MUST_CHECK
#endif

typedef enum tv_audit_entry_type {
  TV_AUDIT_CALL = 1,  /* one call of the service */
  TV_AUDIT_ALERT = 2, /* an event to raise, e.g. a reveal-rate limit exceeded */
} tv_audit_entry_type;

/* What one entry says. Text fields may be NULL (written as "") and are at
 * most AUDIT_FIELD_BYTES_MAX bytes of UTF-8 each. Never put a value, a
 * token or key material in any of them. */
typedef struct tv_audit_entry {
  tv_audit_entry_type type;
  uint64_t time_ms;       /* Unix time in ms; 0 means "now" at append */
  const char *principal;  /* authenticated caller */
  const char *peer;       /* network peer, e.g. "ipv4:10.0.0.5:51234" */
  const char *method;     /* e.g. "Detokenize" */
  const char *ns;         /* namespace */
  uint64_t items;         /* items in the request (alert: items counted) */
  const char *request_id;
  /* TV_AUDIT_CALL only: */
  uint32_t code;          /* outcome: status code (gRPC code of the answer) */
  const char *outcome;    /* short, non-secret reason, e.g. "PERMISSION_DENIED" */
  uint64_t latency_us;
  const char *purpose;    /* the caller's stated reason, whenever one is given */
  /* Data calls (counted != 0) also say what was answered, so the log can
   * tell how many values of which reveal level each caller saw: */
  int counted;            /* 1: write "reveal", "ok" and "failed" */
  const char *reveal;     /* "FULL", "MASKED", "NONE"; "" for non-reveals */
  uint64_t items_ok;      /* items answered OK */
  const char *failed;     /* "class:count,..." of the items that failed
                             (classes: vault/service/item_outcome.h); "" */
  /* TV_AUDIT_ALERT only: */
  const char *alert;      /* kind, e.g. "reveal_rate_exceeded" */
  uint64_t limit;         /* the limit that was crossed */
  const char *detail;     /* short, non-secret explanation */
} tv_audit_entry;

typedef struct tv_audit_config {
  const char *dir;               /* segments audit-000001.log ...; created 0700 */
  tv_hsm *hsm;                   /* borrowed; must outlive the log */
  const char *mac_label;         /* HSM MAC key; NULL: TV_HSM_DEV_MAC_LABEL */
  uint32_t checkpoint_entries;   /* 0: AUDIT_CHECKPOINT_ENTRIES_DEFAULT */
  uint32_t checkpoint_interval_ms; /* 0: AUDIT_CHECKPOINT_INTERVAL_MS_DEFAULT */
  uint64_t segment_bytes_max;    /* 0: AUDIT_SEGMENT_BYTES_DEFAULT */
} tv_audit_config;

typedef struct tv_audit_log tv_audit_log;

/* tv_audit_open opens the log in |config->dir| for appending, creating a
 * new log (fresh log id, HSM counter, first segment) if the directory holds
 * none. An existing log is checked first: its newest segment's chain must
 * verify (a torn last line from a crash is cut off) and the HSM counter
 * must not be ahead of the last checkpoint, else TV_E_AUDIT_TRUNCATED,
 * TV_E_AUDIT_COUNTER or the verifier's status, and nothing is written.
 * One process at a time: a second open of the same directory fails with
 * TV_E_AUDIT_UNAVAILABLE. On success |*out_log| owns a writer thread;
 * release with tv_audit_close. |config|'s strings are copied. */
tv_status tv_audit_open(tv_audit_log **out_log, const tv_audit_config *config);

/* tv_audit_close drains the queue, writes a final checkpoint (if any entry
 * followed the last one), stops the writer and frees |log| (NULL is
 * accepted). Returns the status of that last checkpoint: not TV_OK means
 * the log's tail is not sealed. */
tv_status tv_audit_close(tv_audit_log *log);

/* tv_audit_append records |entry| and returns once it is durable: TV_OK
 * and its sequence number in |*out_seq| (may be NULL). On failure the entry
 * is not acknowledged and the caller must fail the call it describes:
 * TV_E_AUDIT_NO_SPACE (disk full), TV_E_AUDIT_UNAVAILABLE (log not
 * writable), an HSM status (checkpoint due
 * and the HSM failed), TV_E_AUDIT_ENTRY_INVALID (a field too long or not
 * UTF-8), TV_E_AUDIT_CLOSED. Blocks while the queue is full. Thread-safe. */
tv_status tv_audit_append(tv_audit_log *log, uint64_t *out_seq,
                          const tv_audit_entry *entry) TV_AUDIT_MUST_CHECK;

/* tv_audit_done_fn is called once per accepted asynchronous append, from
 * the writer thread, when the entry is durable (TV_OK, |seq| set) or has
 * failed (|seq| 0). It must not block or append. */
typedef void (*tv_audit_done_fn)(void *arg, tv_status status, uint64_t seq);

/* tv_audit_append_async queues |entry| and returns at once; |done|(|arg|,
 * ...) reports the outcome later. TV_OK means queued (|done| will be
 * called); any other status means it was refused now and |done| will not
 * be called. Blocks only while the queue is full. */
tv_status tv_audit_append_async(tv_audit_log *log, const tv_audit_entry *entry,
                                tv_audit_done_fn done, void *arg) TV_AUDIT_MUST_CHECK;

/* tv_audit_checkpoint writes a checkpoint now (if any entry followed the
 * last one) and waits for it; the service calls it on SIGTERM before
 * tv_audit_close, tests to get a sealed log. */
tv_status tv_audit_checkpoint(tv_audit_log *log) TV_AUDIT_MUST_CHECK;

typedef struct tv_audit_stats {
  uint64_t entries;     /* acknowledged entries */
  uint64_t syncs;       /* successful fdatasync calls */
  uint64_t checkpoints; /* checkpoints written */
  uint64_t failures;    /* batches that failed */
  uint64_t segment;     /* current segment number */
  uint64_t last_seq;    /* sequence number of the last line written */
  /* Latency of the fdatasyncs counted in |syncs| (the flush alone, not
   * the write before it): total, worst, and how many fell in each bucket
   * (not cumulative; the slots add up to |syncs|). */
  uint64_t sync_us_sum;
  uint64_t sync_us_max;
  uint64_t sync_buckets[TV_LATENCY_BUCKETS_COUNT + 1]; /* vault/util/latency.h; last is +Inf */
} tv_audit_stats;

/* tv_audit_stats_get copies the counters (a consistent snapshot). */
void tv_audit_stats_get(tv_audit_log *log, tv_audit_stats *out_stats);

#endif
