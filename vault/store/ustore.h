/* Internal state of the io_uring log backend, shared by its parts:
 * uring_store.c (open/close), recovery.c (replay at open), writer.c
 * (group commit) and reader.c (batched reads, fingerprint lookup, scan).
 * Not a public header. */
#ifndef TV_STORE_USTORE_H
#define TV_STORE_USTORE_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "vault/store/index.h"
#include "vault/store/opqueue.h"
#include "vault/store/store.h"
#include "vault/store/store_limits.h"

#define TV_CONFLICT_SLOTS (TV_STORE_BATCH_RECORDS_MAX * 2)

typedef struct tv_ustore {
  char dir[TV_STORE_PATH_LEN_MAX];
  int dir_fd;
  int lock_fd;
  uint64_t segment_bytes;
  tv_store_fault_fn fault;
  void *fault_ctx;
  tv_index *index;

  /* Open file per segment id, stored as fd + 1 (0: none). Written by the
   * writer before any location in that segment is published; read by any
   * thread. Sized for every possible id; untouched pages cost nothing. */
  atomic_int *seg_fds;
  /* Read-only shared maps of segment files, one per id, made by the first
   * point read that needs one (reader.c) and dropped whenever the id's fd
   * changes (compaction's swap holds swap_lock exclusive then, so no
   * reader is copying from it). Every map is |map_len| bytes: more than a
   * segment can grow to, so the active segment's map serves its new
   * records too; pages past the end of the file are never touched because
   * only durable records, found in the index, are read through it. */
  _Atomic(uint8_t *) *seg_maps;
  size_t map_len;
  pthread_mutex_t map_mu;
  int uring_reads; /* tv_store_options.uring_reads: no maps */
  uint32_t first_seg; /* changed only by a compaction's swap (see below) */

  /* Compaction (compact.c). A swap replaces segment files whose ids are
   * reused, so a location read from the index must be used before the
   * swap or not at all: point readers hold |swap_lock| shared from index
   * lookup to the end of their reads, and the writer holds it exclusive
   * while it installs the new files and remaps the index (writer-
   * preferring, so a stream of readers cannot starve the swap). Scans and
   * snapshots walk first_seg.. for a long time: they hold |maint_lock|
   * shared, and the compacting thread takes it exclusive around the swap
   * (so a scan sees the old files or the new ones, never half of each).
   * maint_lock is reader-preferring because a scan may nest another
   * scan, so overlapping scans could hold the swap off forever: a waiting
   * swap raises |swap_waiting| and a new outermost scan or snapshot waits
   * for it at the gate (maint_gate.c); nested scans pass. */
  pthread_rwlock_t swap_lock;
  pthread_rwlock_t maint_lock;
  pthread_mutex_t gate_mu;
  pthread_cond_t gate_cv;
  int swap_waiting; /* under gate_mu */
  atomic_int compacting;

  /* A job for the writer thread, run between two batches (so no write
   * is in flight): rolling the segment and the swap are done there. */
  pthread_mutex_t task_mu;
  pthread_cond_t task_cv;
  tv_status (*task_fn)(struct tv_ustore *u, void *ctx);
  void *task_ctx;
  tv_status task_status;
  char task_io_error[TV_STORE_IO_ERROR_LEN_MAX]; /* the failed task's call and errno, for its caller */
  int task_state; /* 0 none, 1 posted, 2 done */
  atomic_int task_posted;

  /* Durable end of the log, packed (segment id << 32 | offset), for scan. */
  _Atomic uint64_t durable;

  /* Writer thread state: touched only by the writer once it runs. */
  uint32_t active_seg;
  int active_fd;
  uint64_t write_off;
  uint64_t alloc_end;
  uint64_t next_seq;
  uint64_t batch_no;
  tv_store_loc last_loc;  /* last record of the log (ends at write_off) */
  uint64_t ckpt_every;    /* records between checkpoints; 0: none */
  uint64_t ckpt_since;    /* records since the last checkpoint */
  tv_status failed; /* non-OK: the log could not be repaired; refuse writes */
  char logged_failure[TV_STORE_IO_ERROR_LEN_MAX]; /* last failure logged; "" after a success */
  uint8_t *batch_buf;
  uint8_t *scratch; /* one record, for reading back an old version */
  uint64_t *conflicts;       /* hashes in the batch being built... */
  uint32_t *conflict_gen;    /* ...valid where the generation matches */
  uint32_t batch_gen;
  tv_store_op **batch_ops;
  tv_store_op *carry_head;
  tv_store_op *carry_tail;
  struct io_uring wring;
  int wring_ok;

  /* O_DIRECT experiment (opts.direct_io): a 4 KiB-aligned buffer, whose
   * first bytes hold the log's last partial block (rewritten with each
   * batch, since direct writes are whole blocks), registered with wring
   * when the kernel allows; and an O_DIRECT fd of the active segment. */
  int direct;
  int direct_fd;
  uint32_t direct_seg;
  uint8_t *dbuf;
  uint64_t dbuf_base; /* file offset of dbuf[0]; UINT64_MAX: not loaded */
  int dbuf_registered;

  /* Producers -> writer. */
  tv_opqueue queue;
  atomic_int closing;
  atomic_int submitters;
  atomic_int writer_sleeping;
  pthread_mutex_t wake_mu;
  pthread_cond_t wake_cv;
  /* Producers blocked in submit_wait on a full queue. The writer wakes
   * them all once it has drained the queue to half (a batch or more of
   * room each time), not one per freed cell: see tv_ustore_submit_wait. */
  atomic_int space_waiters;
  pthread_mutex_t space_mu;
  pthread_cond_t space_cv;
  pthread_t writer;
  int writer_started;

  /* Writer -> completer: durable batches whose producers are still to be
   * told. A separate thread runs the callbacks so the writer can start
   * the next write + fdatasync while hundreds of producers are woken. */
  pthread_mutex_t done_mu;
  pthread_cond_t done_cv;
  tv_store_op *done_head;
  tv_store_op *done_tail;
  int completer_stop;
  pthread_t completer;
  int completer_started;

  /* Readers share a few rings, each used by one batch at a time. */
  struct io_uring rrings[TV_STORE_READ_RINGS];
  pthread_mutex_t rring_mu[TV_STORE_READ_RINGS];
  int rrings_ok;
  atomic_uint rring_next;

  /* Counters. */
  atomic_uint_fast64_t st_batches;
  atomic_uint_fast64_t st_records;
  atomic_uint_fast64_t st_bytes;
  atomic_uint_fast64_t st_failed;
  uint64_t st_recovered;
  uint64_t st_torn_cut;
  uint64_t st_ckpt_tokens;
  uint64_t st_checked; /* records verified, not replayed, under a checkpoint */
  uint64_t st_covered_data; /* of those, put/re-put/delete records */
  tv_store_open_report open_report; /* filled by recovery, then read-only */
  atomic_uint_fast64_t st_ckpt_written;
  /* Written by the writer thread only; atomics so stats can read them. */
  atomic_uint_fast64_t st_fsyncs;
  atomic_uint_fast64_t st_fsync_us_sum;
  atomic_uint_fast64_t st_fsync_us_max;
  atomic_uint_fast64_t st_fsync_buckets[TV_LATENCY_BUCKETS_COUNT + 1];
} tv_ustore;

/* tv_ustore_seg_fd returns the open fd of segment |id|, or -1. */
int tv_ustore_seg_fd(tv_ustore *u, uint32_t id);

/* tv_ustore_seg_map returns segment |id|'s read-only map (map_len bytes),
 * making it if needed, or NULL (none wanted, or mmap failed: read with
 * pread instead). The caller holds swap_lock shared while using it. */
uint8_t *tv_ustore_seg_map(tv_ustore *u, uint32_t id);

/* tv_ustore_set_seg_fd publishes |fd| for segment |id| and drops the
 * segment's map, if any (callers exclude point readers: see seg_maps). */
void tv_ustore_set_seg_fd(tv_ustore *u, uint32_t id, int fd);

/* tv_ustore_read_loc reads and decodes the record at |loc| synchronously
 * into |buf| (TV_STORE_RECORD_LEN_MAX bytes). */
tv_status tv_ustore_read_loc(tv_ustore *u, tv_store_loc loc, uint8_t *buf, tv_record *out);

/* tv_ustore_find_live looks for the live put of (ns, token) among the
 * index candidates for |hash|, reading each candidate (writer or recovery
 * only: no lock). Sets |*out_loc| (0 if none) and |*out_fp_hash|. */
tv_status tv_ustore_find_live(tv_ustore *u, uint64_t hash, const uint8_t *ns, size_t ns_len, const uint8_t *token,
                              size_t token_len, tv_store_loc *out_loc, uint64_t *out_fp_hash);

/* tv_ustore_recover replays every segment into the index, cuts a torn
 * tail, and leaves the writer state (active segment, offset, next seq)
 * ready. Damage before the last commit: TV_E_STORE_CORRUPT with |diag|. */
tv_status tv_ustore_recover(tv_ustore *u, tv_store_diag *diag);

/* tv_ustore_writer_start starts the writer thread; tv_ustore_writer_stop
 * completes every accepted op and joins it. */
tv_status tv_ustore_writer_start(tv_ustore *u);
void tv_ustore_writer_stop(tv_ustore *u);

/* tv_ustore_writer_call runs |fn(u, ctx)| on the writer thread between
 * two batches and returns its status (blocks the caller until then). */
tv_status tv_ustore_writer_call(tv_ustore *u, tv_status (*fn)(tv_ustore *u, void *ctx), void *ctx);

/* tv_ustore_roll_if_used seals the active segment and starts a new one
 * if the active segment holds any record; tv_ustore_checkpoint writes an
 * index checkpoint if they are enabled. Writer thread only. */
tv_status tv_ustore_roll_if_used(tv_ustore *u);
void tv_ustore_checkpoint(tv_ustore *u);

/* tv_ustore_compact compacts the sealed segments (see tv_store_compact). */
tv_status tv_ustore_compact(void *impl, const tv_store_compact_options *opts, tv_store_compact_progress *progress);

/* tv_ustore_submit queues |op| for the writer (see tv_store_submit). */
tv_status tv_ustore_submit(void *impl, tv_store_op *op);

/* tv_ustore_submit_wait is tv_ustore_submit that blocks while the queue is
 * full (see tv_store_submit_wait). */
tv_status tv_ustore_submit_wait(void *impl, tv_store_op *op);

/* tv_ustore_space_signal wakes producers blocked in submit_wait if the
 * queue has drained to its low-water mark. Writer thread. */
void tv_ustore_space_signal(tv_ustore *u);

/* Readers (see the matching tv_store_* functions). */
tv_status tv_ustore_get_batch(void *impl, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                              tv_store_buf *buf);
tv_status tv_ustore_find_fingerprint(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t fp[16],
                                     tv_store_item *out_items, size_t items_max, size_t *out_num,
                                     tv_store_buf *buf);
tv_status tv_ustore_find_fingerprints(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t *fps,
                                      size_t num_fps, size_t per_fp_max, tv_store_item *out_items,
                                      size_t *out_counts, tv_store_buf *buf);
tv_status tv_ustore_read_locations(void *impl, const tv_store_loc *locs, size_t num, tv_store_item *out_items,
                                   tv_store_buf *buf);
tv_status tv_ustore_scan(void *impl, tv_store_scan_fn fn, void *ctx);

/* tv_ustore_snapshot copies the log up to its durable mark (see
 * tv_store_snapshot). */
tv_status tv_ustore_snapshot(void *impl, const char *dest_dir, const char *const *extra_paths, size_t num_extra,
                             tv_store_snapshot_info *info);

/* tv_key_equal compares two (namespace, token) pairs. */
int tv_key_equal(const uint8_t *ns_a, size_t ns_a_len, const uint8_t *tok_a, size_t tok_a_len, const uint8_t *ns_b,
                 size_t ns_b_len, const uint8_t *tok_b, size_t tok_b_len);

/* The maintenance lock with its gate (maint_gate.c): scans and snapshots
 * take it shared, compaction's swap exclusive; see |maint_lock| above. */
void tv_ustore_maint_gate_init(tv_ustore *u);
void tv_ustore_maint_gate_destroy(tv_ustore *u);
void tv_ustore_maint_shared_begin(tv_ustore *u);
void tv_ustore_maint_shared_end(tv_ustore *u);
void tv_ustore_maint_exclusive_begin(tv_ustore *u);
void tv_ustore_maint_exclusive_end(tv_ustore *u);

#endif
