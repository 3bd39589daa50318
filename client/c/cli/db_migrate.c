/* The migration loop: one short transaction per batch (lock the job's
 * progress row, read the next rows after its last key FOR UPDATE, ask the
 * vault, write the cells, record the bad ones and the new last key,
 * commit). A dry run walks the same batches without a transaction and
 * writes nothing to the database. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cli_diag.h"
#include "client/c/cli/db_conn.h"
#include "client/c/cli/db_job.h"
#include "client/c/cli/db_migrate.h"

enum { BATCH_MORE = 0, BATCH_END = -2 };

static void tally(db_job *job, PGresult *rows, uint64_t *cells, uint64_t *failed) {
  *cells = *failed = 0;
  for (int r = 0; r < PQntuples(rows); r++) {
    for (size_t t = 0; t < job->targets_count; t++) {
      size_t i = db_cell_index(job, r, t);
      if (job->new_text[i] != NULL) (*cells)++;
      else if (job->bad_name[i] != NULL) (*failed)++;
      else if (job->skip[i] == 2) job->skipped_run++;
    }
  }
}

static void show_progress(db_job *job, uint64_t rows) {
  job->rows_run += rows;
  progress_update(&job->prog, job->rows_run, job->rows_run);
}

/* One batch in its transaction. BATCH_MORE, BATCH_END, or an exit status. */
static int migrate_batch(db_job *job) {
  if (db_command(job->pg, "BEGIN", job->err, job->command) != 0) return CLI_EXIT_FAILURE;
  char last[DB_NAME_BYTES_MAX];
  int have = db_progress_lock(job, last, sizeof last);
  PGresult *rows = have >= 0 && have < 2 ? db_batch_select(job, have == 1 ? last : NULL) : NULL;
  int rc = have == 2 ? BATCH_END : rows == NULL ? CLI_EXIT_FAILURE : BATCH_MORE;
  if (rc == BATCH_MORE && PQntuples(rows) == 0) rc = BATCH_END;
  if (rc == BATCH_MORE && db_batch_mark_skips(job, rows) != 0) rc = CLI_EXIT_FAILURE;
  if (rc == BATCH_MORE) rc = db_batch_vault(job, rows, job->tokenize, TV_CLIENT_REVEAL_FULL);
  uint64_t cells = 0, failed = 0;
  if (rc == BATCH_MORE) {
    tally(job, rows, &cells, &failed);
    db_batch_collect_bad(job, rows);
    if (db_batch_update(job, rows) != 0) rc = CLI_EXIT_FAILURE;
  }
  const char *new_last = rc == BATCH_MORE ? PQgetvalue(rows, PQntuples(rows) - 1, 0) : NULL;
  if (rc == BATCH_MORE && db_progress_save(job, new_last, (uint64_t)PQntuples(rows), cells, failed) != 0) {
    rc = CLI_EXIT_FAILURE;
  }
  if (rc == BATCH_MORE && db_command(job->pg, "COMMIT", job->err, job->command) != 0) rc = CLI_EXIT_FAILURE;
  if (rc != BATCH_MORE) PQclear(PQexec(job->pg, "ROLLBACK"));
  if (rc == BATCH_MORE) {
    job->cells_run += cells;
    job->failed_run += failed;
    show_progress(job, (uint64_t)PQntuples(rows));
  }
  db_batch_done(job, rows);
  return rc;
}

/* A dry run lists the first bad cells by key and rule, never by value. */
static void dry_run_report(db_job *job, PGresult *rows) {
  for (int r = 0; r < PQntuples(rows); r++) {
    for (size_t t = 0; t < job->targets_count; t++) {
      const char *name = job->bad_name[db_cell_index(job, r, t)];
      if (name == NULL || job->failures_shown >= DB_DRY_RUN_SAMPLE_MAX) continue;
      job->failures_shown++;
      fprintf(job->err, "tokenvault %s: dry run: %s=%s column %s: %s\n", job->command, job->key_name,
              PQgetvalue(rows, r, 0), job->targets[t].column, name);
    }
  }
}

static int dry_run_batch(db_job *job) {
  PGresult *rows = db_batch_select(job, job->have_last_key ? job->last_key : NULL);
  int rc = rows == NULL ? CLI_EXIT_FAILURE : PQntuples(rows) == 0 ? BATCH_END : BATCH_MORE;
  if (rc == BATCH_MORE && db_batch_mark_skips(job, rows) != 0) rc = CLI_EXIT_FAILURE;
  /* tokenize checks each value's format against the namespace (in a
   * convergent namespace the real run gets the same tokens back);
   * detokenize only checks that each cell is a token (reveal none). */
  if (rc == BATCH_MORE) rc = db_batch_vault(job, rows, job->tokenize, TV_CLIENT_REVEAL_NONE);
  if (rc == BATCH_MORE) {
    uint64_t cells = 0, failed = 0;
    tally(job, rows, &cells, &failed);
    job->cells_run += cells;
    job->failed_run += failed;
    dry_run_report(job, rows);
    const char *last = PQgetvalue(rows, PQntuples(rows) - 1, 0);
    if (strlen(last) >= sizeof job->last_key) rc = CLI_EXIT_FAILURE;
    else memcpy(job->last_key, last, strlen(last) + 1);
    job->have_last_key = 1;
    show_progress(job, (uint64_t)PQntuples(rows));
  }
  db_batch_done(job, rows);
  return rc;
}

/* Rows still to do, for the progress bar's fraction and ETA. */
static void count_remaining(db_job *job) {
  char sql[DB_SQL_BYTES_MAX], last[DB_NAME_BYTES_MAX];
  int have = job->a->dry_run ? 0 : db_progress_lock(job, last, sizeof last);
  int n = db_sql_append(sql, sizeof sql, 0, "SELECT count(*) FROM %s", job->table_quoted);
  if (have == 1) n = db_sql_append(sql, sizeof sql, n, " WHERE %s > $1", job->key_quoted);
  const char *params[] = {last};
  PGresult *r = n > 0 ? db_exec(job->pg, sql, have == 1 ? 1 : 0, params, PGRES_TUPLES_OK, job->err, job->command)
                      : NULL;
  job->rows_total = r != NULL ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
  PQclear(r);
}

int db_migrate_run(db_job *job) {
  count_remaining(job);
  progress_start(&job->prog, job->err, job->a->net.progress, job->rows_total);
  int rc = BATCH_MORE;
  while (rc == BATCH_MORE) rc = job->a->dry_run ? dry_run_batch(job) : migrate_batch(job);
  progress_end(&job->prog);
  if (rc != BATCH_END) return rc;
  if (job->a->dry_run) {
    fprintf(job->out, "dry run: %" PRIu64 " rows, %" PRIu64 " cells would be %s, %" PRIu64
                      " bad cells (left as they are), nothing written\n",
            job->rows_run, job->cells_run, job->tokenize ? "tokenized" : "detokenized", job->failed_run);
    return job->failed_run > 0 ? CLI_EXIT_ITEMS : CLI_EXIT_OK;
  }
  return db_progress_finish(job) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
