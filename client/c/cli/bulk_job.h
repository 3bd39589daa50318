/* The state of one bulk job, shared by bulk_run.c (the pipeline) and
 * bulk_write.c (turning answers into output rows). Internal to the CLI. */
#ifndef TV_CLI_BULK_JOB_H
#define TV_CLI_BULK_JOB_H

#include "client/c/cli/atomic_out.h"
#include "client/c/cli/bulk_batch.h"
#include "client/c/cli/bulk_csv.h"
#include "client/c/cli/bulk_jsonl.h"
#include "client/c/cli/net_args.h"
#include "client/c/cli/progress.h"

/* Failures printed one per line; beyond this only counted, so a file of
 * bad rows cannot flood the terminal. */
#define BULK_FAILURES_SHOWN_MAX 100u
#define BULK_COLUMNS_TEXT_MAX 2048u
/* Streams per namespace: tokenvaultd answers one stream's requests one
 * after the other (each audited durably first), so parallel streams are
 * what lets its workers and the audit log's group commit overlap. */
#define BULK_LANES_MAX 16u

typedef struct bulk_job {
  const net_args *a;
  const char *command;
  int tokenize;
  int jsonl;
  FILE *err;
  char columns[BULK_COLUMNS_TEXT_MAX];
  const char *target_names[BULK_TARGETS_MAX];
  uint16_t target_ns[BULK_TARGETS_MAX];
  size_t targets_count;
  const char *ns_names[BULK_NS_MAX];
  size_t ns_count;
  size_t rows_per_batch;
  bulk_csv_map *csv_map;
  /* The CSV header row, held back until the first output row (or the end
   * of an empty input) so a job that fails before any answer writes
   * nothing to stdout. */
  uint8_t *header;
  size_t header_len;
  bulk_jsonl_map jsonl_map;
  bulk_in in;
  FILE *in_file;
  FILE *out;
  atomic_out atomic;
  int atomic_open;
  tv_client_stream *streams[BULK_NS_MAX][BULK_LANES_MAX];
  size_t lanes;
  uint64_t batches_sent;
  bulk_batch ring[64];
  size_t ring_size, head, count;
  uint64_t next_row;
  uint64_t rows_done;
  uint64_t items_failed;
  progress prog;
  const char *ptrs[TV_CLIENT_BATCH_ITEMS_MAX];
  size_t lens[TV_CLIENT_BATCH_ITEMS_MAX];
} bulk_job;

/* bulk_write_batch writes |b|'s rows to the job's output with each sent
 * cell replaced by its answer, reporting failed items. */
void bulk_write_batch(bulk_job *job, const bulk_batch *b);

/* bulk_write_header writes the held-back CSV header, once; no-op after. */
void bulk_write_header(bulk_job *job);

#endif
