/* Compaction: the public options and progress of tv_store_compact (the
 * call itself is declared in store.h, next to the other store calls).
 *
 * Compaction rewrites the sealed segments of the log keeping only what a
 * reopen would need: the newest record of every live token (engine
 * tombstones included: they are live records). Superseded puts, delete
 * records and records of deleted tokens are dropped. A token whose expiry
 * has passed (|now_ms| given) keeps its record but loses its ciphertext:
 * it becomes an "expired stub" (key version 0, no ciphertext, nonce and
 * tag zeroed; namespace, token, fingerprint, created, expiry and metadata
 * kept), so the token still answers EXPIRED and is never handed out again.
 *
 * The store never sees keys: records under an old key version are moved
 * to the newest one by the engine (tv_engine_reencrypt) *before*
 * compaction; compaction then drops the superseded old-version copies
 * (tv_engine_complete_rotation does both). */
#ifndef TV_STORE_COMPACT_H
#define TV_STORE_COMPACT_H

#include <stdatomic.h>
#include <stdint.h>

/* Points where tests can stop a compaction (see fault below). */
typedef enum tv_store_compact_step {
  TV_COMPACT_STEP_ROLLED = 1,       /* active segment sealed, nothing written */
  TV_COMPACT_STEP_COPYING = 2,      /* first output segment partly written */
  TV_COMPACT_STEP_COPIED = 3,       /* every output written and synced */
  TV_COMPACT_STEP_MANIFEST_TMP = 4, /* manifest written, not yet renamed */
  TV_COMPACT_STEP_COMMITTED = 5,    /* manifest in place: the swap will happen */
  TV_COMPACT_STEP_CKPT_REMOVED = 6, /* stale index checkpoint removed */
  TV_COMPACT_STEP_RENAMED_ONE = 7,  /* first output renamed over a segment */
  TV_COMPACT_STEP_RENAMED_ALL = 8,  /* every output renamed */
  TV_COMPACT_STEP_SWAPPED = 9,      /* readers and index moved to the outputs */
  TV_COMPACT_STEP_OLD_REMOVED = 10, /* segments no longer needed unlinked */
  TV_COMPACT_STEP_DONE = 11,        /* manifest removed */
} tv_store_compact_step;

/* Test hook, called at each step (from the compacting thread up to
 * COMMITTED, then from the store's writer thread). Tests kill the process
 * in it to prove every step is crash-safe; it cannot fail the call. */
typedef void (*tv_store_compact_fault_fn)(void *ctx, tv_store_compact_step step);

typedef struct tv_store_compact_options {
  uint64_t bytes_per_s; /* segment bytes read per second; 0: unlimited */
  uint64_t now_ms;      /* unix ms: strip expired ciphertext; 0: keep it */
  tv_store_compact_fault_fn fault; /* tests only; NULL in production */
  void *fault_ctx;
  /* Non-zero *cancel (set by any thread) stops the compaction between
   * records of the copy, or in a throttling pause; it then returns
   * TV_E_STORE_COMPACT_CANCELLED with its outputs discarded and the old
   * segments untouched, as a crash before the commit would leave them.
   * Once the manifest is committed the swap finishes regardless. NULL:
   * cannot be cancelled. */
  const atomic_int *cancel;
} tv_store_compact_options;

typedef enum tv_store_compact_phase {
  TV_COMPACT_IDLE = 0,
  TV_COMPACT_COPYING = 1,  /* reading sealed segments, writing outputs */
  TV_COMPACT_SWAPPING = 2, /* committing the manifest, swapping files */
  TV_COMPACT_FINISHED = 3, /* returned TV_OK */
  TV_COMPACT_FAILED = 4,   /* returned an error; nothing was swapped, or
                              the swap completes at the next open */
} tv_store_compact_phase;

/* Live progress, written by the compacting thread and read by any other
 * (a daemon's status call) through tv_store_compact_progress_get. */
typedef struct tv_store_compact_progress {
  atomic_int phase;
  atomic_uint_fast64_t segments_total; /* sealed segments being compacted */
  atomic_uint_fast64_t segments_done;
  atomic_uint_fast64_t records_total; /* records in them (headers excluded) */
  atomic_uint_fast64_t records_done;
  atomic_uint_fast64_t bytes_total; /* their size in bytes */
  atomic_uint_fast64_t bytes_done;
  atomic_uint_fast64_t records_kept;    /* copied (expired stubs included) */
  atomic_uint_fast64_t records_expired; /* copied as expired stubs */
  atomic_uint_fast64_t bytes_written;   /* size of the output segments */
  atomic_uint_fast64_t swap_stall_us;   /* point reads held off by the swap */
} tv_store_compact_progress;

/* A plain copy of the progress counters. */
typedef struct tv_store_compact_report {
  tv_store_compact_phase phase;
  uint64_t segments_total;
  uint64_t segments_done;
  uint64_t records_total;
  uint64_t records_done;
  uint64_t bytes_total;
  uint64_t bytes_done;
  uint64_t records_kept;
  uint64_t records_expired;
  uint64_t bytes_written;
  uint64_t swap_stall_us;
} tv_store_compact_report;

/* tv_store_compact_progress_init zeroes |p| (IDLE) before a compaction. */
void tv_store_compact_progress_init(tv_store_compact_progress *p);

/* tv_store_compact_progress_get copies |p| into |*out|; safe from any
 * thread while the compaction runs. */
void tv_store_compact_progress_get(const tv_store_compact_progress *p, tv_store_compact_report *out);

#endif
