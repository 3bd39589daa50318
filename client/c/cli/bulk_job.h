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
#include "client/c/cli/row_ns.h"

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
  /* The job's namespaces: those of --columns and --namespace first (a
   * failure there ends the job), then those rows name, in order of first
   * sight (copied to ns_store: rows are wiped batch by batch). */
  const char *ns_names[BULK_NS_MAX];
  size_t ns_count;
  uint8_t ns_fixed[BULK_NS_MAX];
  uint8_t ns_open[BULK_NS_MAX];     /* its streams are open */
  const char *ns_dead[BULK_NS_MAX]; /* a row's namespace the vault refused:
                                     * the status name its cells fail with */
  char ns_store[BULK_NS_MAX][ROW_NS_NAME_BYTES_MAX + 1];
  size_t row_targets; /* targets whose namespace each row names */
  tv_client *client;
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

/* bulk_ns_index finds or adds namespace |ns| (|len| bytes) in the job;
 * -1 when the job already has BULK_NS_MAX. */
int bulk_ns_index(bulk_job *job, const char *ns, size_t len, int fixed);

/* bulk_ns_resolve gives each cell of |b| that takes its row's namespace
 * the index of that namespace (added on first sight), or the status name
 * it fails with. 0, or the exit status (printed). */
int bulk_ns_resolve(bulk_job *job, bulk_batch *b);

/* bulk_ns_open opens namespace |n|'s streams. 0, or the exit status
 * (printed); a row's namespace the vault refuses is marked dead, not an
 * error. */
int bulk_ns_open(bulk_job *job, size_t n);

/* bulk_ns_failed handles |e|, a failure of namespace |n|'s streams: a
 * row's namespace is marked dead (0), else the job ends (exit status). */
int bulk_ns_failed(bulk_job *job, size_t n, const tv_client_error *e);

/* bulk_ns_live: namespace |n| has open streams that have not failed. */
static inline int bulk_ns_live(const bulk_job *job, size_t n) {
  return job->ns_open[n] && job->ns_dead[n] == NULL;
}

/* bulk_write_batch writes |b|'s rows to the job's output with each sent
 * cell replaced by its answer, reporting failed items. */
void bulk_write_batch(bulk_job *job, const bulk_batch *b);

/* bulk_write_header writes the held-back CSV header, once; no-op after. */
void bulk_write_header(bulk_job *job);

#endif
