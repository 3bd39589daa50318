/* Internals of the audit log writer, shared by its files. */
#ifndef TV_AUDIT_AUDIT_INTERNAL_H
#define TV_AUDIT_AUDIT_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/audit/audit.h"
#include "vault/audit/audit_limits.h"
#include "vault/audit/chain.h"
#include "vault/audit/line.h"

/* Bytes the writer adds around a producer's body: {"seq":N, before it and
 * ,"prev":"..." ,"hash":"..."} after it. */
#define AUDIT_FRAME_BYTES (7u + 20u + 1u + 9u + 64u + 1u + 9u + 64u + 2u)
#define AUDIT_BODY_BYTES_MAX (AUDIT_LINE_BYTES_MAX - AUDIT_FRAME_BYTES)

/* The chain position: what the next line needs. Copied before a batch and
 * committed only when the batch is durable, so a failed batch leaves no
 * trace in it. */
typedef struct audit_chain_state {
  uint64_t next_seq;
  uint8_t prev[AUDIT_HASH_LEN];
  uint64_t since_checkpoint;   /* lines since the last checkpoint */
  uint64_t last_checkpoint_seq;
} audit_chain_state;

/* The writer's file: only the writer thread touches it after open. */
typedef struct audit_file {
  char dir[PATH_MAX];
  int dir_fd;
  int lock_fd;
  int fd;
  uint64_t segment;
  uint64_t size;   /* durable length of the current segment */
  int broken;      /* a write failed: cut back to |size| before the next */
  uint64_t last_sync_us;    /* how long the last successful fdatasync took */
  uint64_t counter_pending; /* checkpoint seq the HSM counter still lacks */
  uint8_t log_id[AUDIT_LOG_ID_LEN];
  char counter_label[AUDIT_COUNTER_LABEL_MAX];
} audit_file;

typedef struct audit_waiter {
  int done;
  tv_status status;
  uint64_t seq;
} audit_waiter;

typedef struct audit_slot {
  size_t body_len;
  tv_audit_done_fn done;
  void *arg;
  audit_waiter *waiter;
  char body[AUDIT_BODY_BYTES_MAX];
} audit_slot;

struct tv_audit_log {
  tv_hsm *hsm;
  char mac_label[TV_HSM_LABEL_MAX + 1];
  uint32_t checkpoint_entries;
  uint32_t checkpoint_interval_ms;
  uint64_t segment_bytes_max;

  /* Writer thread only. */
  audit_file file;
  audit_chain_state chain;
  uint64_t last_checkpoint_ms; /* CLOCK_MONOTONIC */
  uint64_t idle_retry_ms;      /* no timed checkpoint before this */
  char *batch;                 /* lines of one batch, AUDIT_BATCH_BYTES_MAX */
  tv_status batch_results[AUDIT_BATCH_ENTRIES_MAX];
  uint64_t batch_seqs[AUDIT_BATCH_ENTRIES_MAX];
  tv_audit_stats wstats;       /* copied to |stats| under |mu| */

  /* Under |mu|. */
  pthread_mutex_t mu;
  pthread_cond_t work_cv;  /* queue filled, checkpoint asked, or stop */
  pthread_cond_t space_cv; /* queue slots freed */
  pthread_cond_t done_cv;  /* blocking appends completed */
  audit_slot *ring;        /* AUDIT_QUEUE_ENTRIES_MAX slots */
  uint64_t head, tail;     /* slots [head, tail) are queued */
  uint64_t checkpoints_asked, checkpoints_done;
  tv_status checkpoint_status;
  int stopping;
  tv_audit_stats stats;
  pthread_t thread;
};

/* Room for one batch: its entries, a checkpoint and, on rotation, a
 * checkpoint and a segment header. */
#define AUDIT_BATCH_BYTES_MAX ((AUDIT_BATCH_ENTRIES_MAX + 3u) * (AUDIT_LINE_BYTES_MAX + 1u))

/* audit_body_format writes the producer's part of |entry|'s line (from
 * "type" up to, not including, ,"prev") into |out| (AUDIT_BODY_BYTES_MAX).
 * TV_E_AUDIT_ENTRY_INVALID if a field is too long, not UTF-8, or the type
 * unknown. */
tv_status audit_body_format(char *out, size_t *out_len, const tv_audit_entry *entry);

/* audit_now_ms returns CLOCK_REALTIME (|realtime| non-zero) or
 * CLOCK_MONOTONIC in ms. */
uint64_t audit_now_ms(int realtime);

/* ---- segment files (segment.c) ---------------------------------------- */

/* audit_segment_name writes "audit-NNNNNN.log". */
void audit_segment_name(char *out, size_t out_max, uint64_t segment);

/* audit_file_lock creates |dir| if needed, opens it and takes the log's
 * lock file; TV_E_AUDIT_UNAVAILABLE if another process holds it. */
tv_status audit_file_lock(audit_file *file, const char *dir);

/* audit_file_latest sets |*out_segment| to the highest segment number in
 * the directory, 0 if there is none. */
tv_status audit_file_latest(audit_file *file, uint64_t *out_segment);

/* audit_file_create makes segment |segment| (must not exist) durable with
 * |header| (its first line) in it and makes it the current one. */
tv_status audit_file_create(audit_file *file, uint64_t segment, const char *header,
                            size_t header_len);

/* audit_file_write writes |len| bytes at the durable end and fdatasyncs
 * (its duration in |last_sync_us|). On failure the file is marked broken;
 * TV_E_AUDIT_UNAVAILABLE. */
tv_status audit_file_write(audit_file *file, const char *buf, size_t len);

/* audit_file_repair cuts a broken file back to its durable length. */
tv_status audit_file_repair(audit_file *file);

/* audit_file_close_all closes every descriptor. */
void audit_file_close_all(audit_file *file);

/* ---- recovery (recover.c) --------------------------------------------- */

/* audit_recover opens the newest segment |segment| of an existing log,
 * checks its chain, cuts a torn last line, and fills |file| and |chain|. */
tv_status audit_recover(audit_file *file, audit_chain_state *chain, uint64_t segment);

/* ---- lines the writer composes (compose.c) ---------------------------- */

/* audit_compose_entry appends the line for |body| at |*pos| of |buf|,
 * advancing |chain|. */
tv_status audit_compose_entry(char *buf, size_t *pos, audit_chain_state *chain,
                              const char *body, size_t body_len);

/* audit_compose_segment appends a segment header line. */
tv_status audit_compose_segment(char *buf, size_t *pos, audit_chain_state *chain,
                                const audit_file *file, uint64_t segment);

/* audit_compose_checkpoint appends a checkpoint line MACed in the HSM; on
 * failure nothing is appended and |chain| is unchanged. */
tv_status audit_compose_checkpoint(tv_audit_log *log, char *buf, size_t *pos,
                                   audit_chain_state *chain);

/* ---- the writer thread (writer.c) ------------------------------------- */

/* audit_write_batch writes the |count| queued bodies in |slots| (in ring
 * order from |first|) and, if due or |force_checkpoint|, a checkpoint;
 * rotates the segment first when it is full. Sets log->batch_results and
 * batch_seqs. Returns the batch's status. */
tv_status audit_write_batch(tv_audit_log *log, uint64_t first, size_t count,
                            int force_checkpoint);

/* audit_writer_main is the writer thread (log.c). */
void *audit_writer_main(void *arg);

/* audit_stats_sync counts one successful fdatasync that took |us| in
 * |stats| (syncs, latency sum, max and bucket). */
void audit_stats_sync(tv_audit_stats *stats, uint64_t us);

/* audit_checkpoint_due says whether a checkpoint must seal the next batch. */
int audit_checkpoint_due(const tv_audit_log *log, size_t count);

#endif
