/* The final verification of a job. Chosen to be cheap on a large table
 * and still catch what matters:
 *  - count check: the rows and non-NULL cells of the table equal what the
 *    job's batches recorded (over every run, a killed one included): a
 *    row inserted behind the job's key, or a batch lost, shows here;
 *  - sample check: --verify N random rows (default 10,000; drawn --batch
 *    rows at a time, so a row may be drawn twice) are detokenized
 *    with reveal none (nothing revealed): after tokenize every cell that
 *    is not listed as bad must be a token the vault resolves. After
 *    detokenize there is no such check: a value may itself be a token (of
 *    another value: tokens and values share one format), so "no cell is
 *    still a token" would fail on correct tables; only the counts are
 *    checked. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/db_conn.h"
#include "client/c/cli/db_job.h"

static int count_check(db_job *job) {
  char sql[DB_SQL_BYTES_MAX];
  int n = db_sql_append(sql, sizeof sql, 0, "SELECT count(*), 0");
  for (size_t t = 0; t < job->targets_count; t++) {
    n = db_sql_append(sql, sizeof sql, n, " + count(%s)", job->targets[t].quoted);
  }
  n = db_sql_append(sql, sizeof sql, n, ", (SELECT rows_done FROM tokenvault_migration WHERE id = $1), "
                                        "(SELECT cells_done + cells_failed FROM tokenvault_migration WHERE id = $1) "
                                        "FROM %s", job->table_quoted);
  const char *params[] = {job->job_id};
  PGresult *r = n > 0 ? db_exec(job->pg, sql, 1, params, PGRES_TUPLES_OK, job->err, job->command) : NULL;
  if (r == NULL) return CLI_EXIT_FAILURE;
  uint64_t rows = strtoull(PQgetvalue(r, 0, 0), NULL, 10), cells = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
  uint64_t rows_done = strtoull(PQgetvalue(r, 0, 2), NULL, 10), cells_done = strtoull(PQgetvalue(r, 0, 3), NULL, 10);
  PQclear(r);
  /* detokenize does not send the tokenize job's bad cells: they were
   * counted there; here only the rows are comparable. */
  int cells_ok = !job->tokenize || cells == cells_done;
  if (rows != rows_done || !cells_ok) {
    fprintf(job->err, "tokenvault %s: verification failed: the table has %" PRIu64 " rows and %" PRIu64
                      " cells, the job went through %" PRIu64 " rows and %" PRIu64 " cells (rows written "
                      "during the migration?): run the job again after it stopped writing\n",
            job->command, rows, cells, rows_done, cells_done);
    return CLI_EXIT_FAILURE;
  }
  fprintf(job->out, "verified: %" PRIu64 " rows, %" PRIu64 " cells (count check)\n", rows, cells);
  return 0;
}

/* A sampled cell fails if it does not resolve as a token; the job's bad
 * cells are skipped. */
static uint64_t sample_failures(db_job *job, PGresult *rows, uint64_t *checked, uint64_t shown) {
  uint64_t bad = 0;
  for (int r = 0; r < PQntuples(rows); r++) {
    for (size_t t = 0; t < job->targets_count; t++) {
      size_t i = db_cell_index(job, r, t);
      if (job->skip[i] || job->cell_of[i] == UINT32_MAX) continue;
      (*checked)++;
      if (job->new_text[i] != NULL) continue;
      if (shown + bad++ < DB_FAILURES_SHOWN_MAX) {
        fprintf(job->err, "tokenvault %s: verification: %s=%s column %s: %s\n", job->command, job->key_name,
                PQgetvalue(rows, r, 0), job->targets[t].column, job->bad_name[i]);
      }
    }
  }
  return bad;
}

/* One round of at most --batch random rows (the batch arrays' size). */
static int sample_round(db_job *job, uint32_t limit, uint64_t *checked, uint64_t *bad, uint64_t *sampled) {
  char sql[DB_SQL_BYTES_MAX];
  int n = db_batch_select_sql(job, sql, sizeof sql);
  n = db_sql_append(sql, sizeof sql, n, " ORDER BY random() LIMIT %u", limit);
  PGresult *rows = n > 0 ? db_exec(job->pg, sql, 0, NULL, PGRES_TUPLES_OK, job->err, job->command) : NULL;
  if (rows == NULL) return CLI_EXIT_FAILURE;
  /* The cells this job listed as bad hold values, not tokens. */
  snprintf(job->undo_id, sizeof job->undo_id, "%s", job->job_id);
  int rc = db_batch_mark_skips(job, rows) != 0 ? CLI_EXIT_FAILURE : 0;
  job->undo_id[0] = '\0';
  if (rc == 0) rc = db_batch_vault(job, rows, 0, TV_CLIENT_REVEAL_NONE);
  if (rc == 0) *bad += sample_failures(job, rows, checked, *bad);
  *sampled += (uint64_t)PQntuples(rows);
  db_batch_done(job, rows);
  return rc;
}

static int sample_check(db_job *job) {
  uint64_t checked = 0, bad = 0, sampled = 0;
  int rc = 0;
  for (uint32_t left = job->a->verify_rows; left > 0 && rc == 0;) {
    uint32_t limit = left < job->a->batch_rows ? left : job->a->batch_rows;
    uint64_t before = sampled;
    rc = sample_round(job, limit, &checked, &bad, &sampled);
    left = sampled - before < limit ? 0 : left - limit; /* a short round drew the whole table */
  }
  if (rc != 0) return rc;
  if (bad > 0) {
    fprintf(job->err, "tokenvault %s: verification failed: %" PRIu64 " of %" PRIu64
                      " sampled cells are not tokens the vault resolves\n", job->command, bad, checked);
    return CLI_EXIT_FAILURE;
  }
  fprintf(job->out, "verified: %" PRIu64 " cells of %" PRIu64 " random rows resolve as tokens (reveal none)\n",
          checked, sampled);
  return 0;
}

int db_verify(db_job *job) {
  int rc = count_check(job);
  if (rc == 0 && job->tokenize && job->a->verify_rows > 0) rc = sample_check(job);
  return rc;
}
