/* The state of one `tokenvault db tokenize|detokenize` job, shared by its
 * files: db_table.c (what the table looks like), db_progress.c (the job's
 * row in tokenvault_migration), db_batch.c (reading and writing one batch
 * of rows), db_vault.c (its cells through the vault's streams),
 * db_migrate.c (the loop), db_verify.c (the final check). */
#ifndef TV_CLI_DB_JOB_H
#define TV_CLI_DB_JOB_H

#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "client/c/cli/db_args.h"
#include "client/c/cli/db_text_array.h"
#include "client/c/cli/progress.h"
#include "client/c/lib/tokenvault.h"

/* Columns one job migrates: a table with more card-like columns than this
 * is better done in two jobs. */
#define DB_TARGETS_MAX 16u
/* Distinct namespaces in one batch (per-row namespaces included). */
#define DB_BATCH_NS_MAX 32u
/* Bad cells printed one per line; beyond this only counted (all of them
 * stay listed in tokenvault_migration_failure). */
#define DB_FAILURES_SHOWN_MAX 100u
/* Bad rows listed by a dry run. */
#define DB_DRY_RUN_SAMPLE_MAX 20u
/* SQL text of one statement: identifiers only, never values. */
#define DB_SQL_BYTES_MAX 8192u
#define DB_NAME_BYTES_MAX 512u

typedef struct db_target {
  const char *column; /* as given in --columns */
  char *quoted;       /* PQescapeIdentifier'd (PQfreemem) */
  const char *ns;     /* NULL: the row's --namespace-column */
} db_target;

/* Namespaces (with direction and reveal) one job keeps streams open to. */
#define DB_STREAMS_MAX 32u
/* Streams per namespace: see db_vault.c. */
#define DB_LANES_MAX 16u

typedef struct db_stream {
  char ns[128];
  int tokenize;
  tv_client_reveal reveal;
  tv_client_stream *lanes[DB_LANES_MAX];
  int dead;              /* failed in this batch: dropped at its end */
  const char *dead_name; /* the failure's code name */
} db_stream;

/* One request: |count| cells from order[first], on one lane. */
typedef struct db_chunk {
  db_stream *stream;
  size_t lane;
  size_t first;
  size_t count;
} db_chunk;

typedef struct db_job {
  const db_args *a;
  char command[32]; /* "db tokenize" */
  int tokenize;
  FILE *out, *err;
  PGconn *pg;
  tv_client *vault;
  char columns_text[1024]; /* --columns, split in place */
  db_target targets[DB_TARGETS_MAX];
  size_t targets_count;
  char table[DB_NAME_BYTES_MAX];     /* canonical name (regclass::text) */
  char *table_quoted;                /* schema-qualified, quoted */
  char key_name[DB_NAME_BYTES_MAX];  /* primary key column */
  char *key_quoted;
  char key_type[DB_NAME_BYTES_MAX];  /* format_type() of the key */
  char *ns_quoted;                   /* --namespace-column, quoted; NULL */
  char spec[2048];                   /* the job's identity: columns and namespace column */
  char job_id[32];                   /* tokenvault_migration.id */
  char undo_id[32];                  /* detokenize: the tokenize job whose bad cells stay; "" */
  char last_key[DB_NAME_BYTES_MAX];  /* dry run: where the walk is */
  int have_last_key;
  uint64_t rows_total;               /* at the start of this run, still to do */
  uint64_t rows_run, cells_run, failed_run, skipped_run; /* this run */
  uint64_t failures_shown;
  progress prog;
  /* per batch, allocated once for batch_rows x targets */
  const char **new_text;  /* answer per cell, or NULL: unchanged */
  const char **bad_name;  /* status name of a bad cell, or NULL */
  uint8_t *skip;          /* 1: not sent (NULL, or a bad cell of the tokenize job) */
  const char **ptrs;     /* the sent values, grouped by namespace */
  uint32_t *cell_of;     /* each cell's namespace index in the batch */
  uint32_t *order;       /* sent cells, grouped by namespace */
  db_chunk *chunks;
  size_t chunks_count, chunks_cap;
  tv_client_result **results; /* one per chunk, freed by db_batch_done */
  size_t results_count;
  db_stream streams[DB_STREAMS_MAX];
  size_t streams_count;
  size_t lanes;
  db_text_array arrays[DB_TARGETS_MAX + 1];
  db_text_array bad_keys, bad_columns, bad_names;
} db_job;

/* db_table_open finds the table, its primary key and the columns, and
 * checks that each holds text. 0, or the exit status (printed). */
int db_table_open(db_job *job);

/* db_progress_begin creates the progress tables if needed and finds or
 * creates this job's row: resumes an unfinished one, refuses to start over
 * a job on the same columns that is unfinished or already done. Sets
 * job_id; returns 0, 1 when the job is already done (nothing to do), or
 * the exit status (printed). */
int db_progress_begin(db_job *job);

/* db_progress_lock, inside a batch's transaction, locks the job's row and
 * reads its last key into |out_key| (returns 0 when there is none yet, 1
 * when there is, -1 on error). */
int db_progress_lock(db_job *job, char *out_key, size_t cap);

/* db_progress_save records a batch in the same transaction as its updates:
 * the new last key, the counts, and the bad cells. 0 or -1 (printed). */
int db_progress_save(db_job *job, const char *last_key, uint64_t rows, uint64_t cells, uint64_t failed);

/* db_progress_finish marks the job done (and, for detokenize, forgets the
 * tokenize job it undid). 0 or -1 (printed). */
int db_progress_finish(db_job *job);

/* db_progress_report prints the job's bad cells (first 100) from the
 * database, so a resumed job reports those of its earlier runs too. */
int db_progress_report(db_job *job, uint64_t *out_failed);

/* db_batch_select_sql writes "SELECT key, targets..., ns FROM table"
 * (every column as text) into |sql|; returns its length or -1. */
int db_batch_select_sql(const db_job *job, char *sql, size_t cap);

/* db_batch_select reads the next batch after |last_key| (NULL: from the
 * start), FOR UPDATE unless a dry run. NULL on error (printed). */
PGresult *db_batch_select(db_job *job, const char *last_key);

/* db_batch_mark_skips marks the cells not to send: NULLs and, for
 * detokenize, the bad cells the tokenize job left as they were. */
int db_batch_mark_skips(db_job *job, PGresult *rows);

/* db_batch_vault sends the batch's cells, grouped by namespace, with
 * |reveal| for detokenize (tokenize ignores it), and fills new_text and
 * bad_name. Returns 0 or the exit status (printed). */
int db_batch_vault(db_job *job, PGresult *rows, int tokenize, tv_client_reveal reveal);

/* db_vault_close closes the job's streams. */
void db_vault_close(db_job *job);

/* db_batch_update writes the changed cells back. 0 or -1 (printed). */
int db_batch_update(db_job *job, PGresult *rows);

/* db_batch_collect_bad fills bad_keys, bad_columns and bad_names from
 * the batch's bad cells. */
void db_batch_collect_bad(db_job *job, PGresult *rows);

/* db_batch_done wipes the batch's values and frees its answers. */
void db_batch_done(db_job *job, PGresult *rows);

/* db_verify runs the final check (count, and a sample detokenize); 0, or
 * the exit status (printed). */
int db_verify(db_job *job);

/* db_cell_index is the slot of row |r|, target |t|. */
static inline size_t db_cell_index(const db_job *job, int r, size_t t) {
  return (size_t)r * job->targets_count + t;
}

#endif
