/* The job's progress lives in the migrated database itself, in
 * tokenvault_migration (one row per job) and tokenvault_migration_failure
 * (its bad cells), written in the same transaction as each batch's
 * updates: after a crash or a kill the table and the recorded last key
 * always agree, so a rerun continues after the last committed batch and
 * never sends a token to be tokenized again (a token may look exactly
 * like a value: an IBAN token is a valid IBAN). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/db_conn.h"
#include "client/c/cli/db_job.h"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS tokenvault_migration ("
    " id bigserial PRIMARY KEY, table_name text NOT NULL, spec text NOT NULL,"
    " column_names text[] NOT NULL, direction text NOT NULL CHECK (direction IN ('tokenize', 'detokenize')),"
    " key_column text NOT NULL, last_key text, rows_done bigint NOT NULL DEFAULT 0,"
    " cells_done bigint NOT NULL DEFAULT 0, cells_failed bigint NOT NULL DEFAULT 0,"
    " started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz);"
    "CREATE TABLE IF NOT EXISTS tokenvault_migration_failure ("
    " job_id bigint NOT NULL REFERENCES tokenvault_migration (id) ON DELETE CASCADE,"
    " key text NOT NULL, column_name text NOT NULL, status text NOT NULL,"
    " PRIMARY KEY (job_id, key, column_name))";

static const char *direction(const db_job *job) {
  return job->tokenize ? "tokenize" : "detokenize";
}

/* The job's identity: each column with its namespace (or "row:" and the
 * namespace column), in the order given. */
static int make_spec(db_job *job, db_text_array *names) {
  size_t len = 0;
  job->spec[0] = '\0';
  for (size_t t = 0; t < job->targets_count; t++) {
    const db_target *x = &job->targets[t];
    int n = snprintf(job->spec + len, sizeof job->spec - len, "%s%s:%s%s", t > 0 ? "," : "", x->column,
                     x->ns != NULL ? x->ns : "row:", x->ns != NULL ? "" : job->a->ns_column);
    if (n < 0 || (size_t)n >= sizeof job->spec - len) return -1;
    len += (size_t)n;
    db_text_array_push(names, x->column);
  }
  return 0;
}

typedef struct prior_job {
  char id[32];
  int same_direction;
  int finished;
  int same_spec;
  char spec[2048];
} prior_job;

static int refuse(db_job *job, const char *why, const char *spec) {
  fprintf(job->err, "tokenvault %s: table %s: %s (job columns %s)\n", job->command, job->table, why, spec);
  return CLI_EXIT_USAGE;
}

/* Decides from one earlier job on overlapping columns: 0 go on, 1 done,
 * else the exit status. */
static int judge(db_job *job, const prior_job *p) {
  if (!p->finished && !p->same_direction) {
    return refuse(job, job->tokenize ? "an unfinished db detokenize covers these columns: finish it first"
                                     : "an unfinished db tokenize covers these columns: finish it first",
                  p->spec);
  }
  if (!p->same_direction) return 0;
  if (!p->same_spec) {
    return refuse(job, p->finished ? "these columns were already migrated by an earlier job with other --columns"
                                   : "an unfinished job covers these columns: rerun it with the same --columns",
                  p->spec);
  }
  memcpy(job->job_id, p->id, sizeof job->job_id);
  return p->finished ? 1 : 0;
}

static int scan_prior(db_job *job, const char *cols, int cols_len) {
  static const char sql[] =
      "SELECT id, direction = $3, finished_at IS NOT NULL, spec = $4, spec FROM tokenvault_migration "
      "WHERE table_name = $1 AND column_names && $2 ORDER BY id";
  const Oid types[] = {DB_TEXT_OID, DB_TEXT_ARRAY_OID, DB_TEXT_OID, DB_TEXT_OID};
  const char *params[] = {job->table, cols, direction(job), job->spec};
  const int lens[] = {0, cols_len, 0, 0}, formats[] = {0, 1, 0, 0};
  PGresult *r = db_exec_binary(job->pg, sql, 4, types, params, lens, formats, PGRES_TUPLES_OK, job->err, job->command);
  if (r == NULL) return CLI_EXIT_FAILURE;
  int rc = 0;
  for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
    prior_job p = {.same_direction = PQgetvalue(r, i, 1)[0] == 't', .finished = PQgetvalue(r, i, 2)[0] == 't',
                   .same_spec = PQgetvalue(r, i, 3)[0] == 't'};
    snprintf(p.id, sizeof p.id, "%s", PQgetvalue(r, i, 0));
    snprintf(p.spec, sizeof p.spec, "%s", PQgetvalue(r, i, 4));
    rc = judge(job, &p);
    /* detokenize: the finished tokenize it undoes keeps its bad cells as
     * they are (they were never tokens). */
    if (rc == 0 && !job->tokenize && !p.same_direction) memcpy(job->undo_id, p.id, sizeof job->undo_id);
  }
  PQclear(r);
  return rc;
}

static int create_job(db_job *job, const char *cols, int cols_len) {
  /* A new tokenize starts a new round trip: finished detokenize jobs of
   * these columns are history. */
  static const char forget_sql[] =
      "DELETE FROM tokenvault_migration WHERE table_name = $1 AND column_names && $2 "
      "AND direction <> $3 AND finished_at IS NOT NULL AND $3 = 'tokenize'";
  static const char insert_sql[] =
      "INSERT INTO tokenvault_migration (table_name, spec, column_names, direction, key_column) "
      "VALUES ($1, $4, $2, $3, $5) RETURNING id";
  const Oid types[] = {DB_TEXT_OID, DB_TEXT_ARRAY_OID, DB_TEXT_OID, DB_TEXT_OID, DB_TEXT_OID};
  const char *params[] = {job->table, cols, direction(job), job->spec, job->key_name};
  const int lens[] = {0, cols_len, 0, 0, 0}, formats[] = {0, 1, 0, 0, 0};
  PGresult *r = db_exec_binary(job->pg, forget_sql, 3, types, params, lens, formats, PGRES_COMMAND_OK, job->err,
                               job->command);
  if (r == NULL) return CLI_EXIT_FAILURE;
  PQclear(r);
  r = db_exec_binary(job->pg, insert_sql, 5, types, params, lens, formats, PGRES_TUPLES_OK, job->err, job->command);
  if (r == NULL) return CLI_EXIT_FAILURE;
  snprintf(job->job_id, sizeof job->job_id, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  return 0;
}

int db_progress_begin(db_job *job) {
  db_text_array names = {0};
  db_text_array_reset(&names);
  int cols_len = 0, rc = make_spec(job, &names);
  const char *cols = rc == 0 ? db_text_array_finish(&names, &cols_len) : NULL;
  if (cols == NULL) rc = refuse(job, "--columns is too long", "");
  if (rc == 0 && job->a->dry_run) { /* a dry run writes nothing, not even these tables */
    db_text_array_free(&names);
    return 0;
  }
  /* One job decides at a time: the table lock serialises two starts. */
  if (rc == 0 && (db_command(job->pg, schema_sql, job->err, job->command) != 0 ||
                  db_command(job->pg, "BEGIN; LOCK TABLE tokenvault_migration IN SHARE ROW EXCLUSIVE MODE",
                             job->err, job->command) != 0)) {
    rc = CLI_EXIT_FAILURE;
  }
  if (rc == 0) rc = scan_prior(job, cols, cols_len);
  if (rc == 0 && job->job_id[0] == '\0') rc = create_job(job, cols, cols_len);
  if (rc == 0 || rc == 1) {
    if (db_command(job->pg, "COMMIT", job->err, job->command) != 0) rc = CLI_EXIT_FAILURE;
  } else {
    PQclear(PQexec(job->pg, "ROLLBACK"));
  }
  db_text_array_free(&names);
  return rc;
}

int db_progress_lock(db_job *job, char *out_key, size_t cap) {
  static const char sql[] =
      "SELECT last_key, finished_at IS NOT NULL FROM tokenvault_migration WHERE id = $1 FOR UPDATE";
  const char *params[] = {job->job_id};
  PGresult *r = db_exec(job->pg, sql, 1, params, PGRES_TUPLES_OK, job->err, job->command);
  if (r == NULL) return -1;
  int rc = PQntuples(r) != 1 || PQgetvalue(r, 0, 1)[0] == 't' ? 2 : PQgetisnull(r, 0, 0) ? 0 : 1;
  if (rc == 1 && strlen(PQgetvalue(r, 0, 0)) >= cap) rc = -1;
  if (rc == 1) memcpy(out_key, PQgetvalue(r, 0, 0), strlen(PQgetvalue(r, 0, 0)) + 1);
  PQclear(r);
  return rc;
}

static int save_failures(db_job *job) {
  static const char sql[] =
      "INSERT INTO tokenvault_migration_failure (job_id, key, column_name, status) "
      "SELECT $1, k, c, s FROM unnest($2::text[], $3::text[], $4::text[]) AS u(k, c, s) "
      "ON CONFLICT (job_id, key, column_name) DO UPDATE SET status = EXCLUDED.status";
  if (job->bad_keys.count == 0) return 0;
  const Oid types[] = {0, DB_TEXT_ARRAY_OID, DB_TEXT_ARRAY_OID, DB_TEXT_ARRAY_OID};
  int lens[4] = {0};
  const int formats[] = {0, 1, 1, 1};
  const char *params[] = {job->job_id, db_text_array_finish(&job->bad_keys, &lens[1]),
                          db_text_array_finish(&job->bad_columns, &lens[2]),
                          db_text_array_finish(&job->bad_names, &lens[3])};
  if (params[1] == NULL || params[2] == NULL || params[3] == NULL) return -1;
  PGresult *r = db_exec_binary(job->pg, sql, 4, types, params, lens, formats, PGRES_COMMAND_OK, job->err,
                               job->command);
  PQclear(r);
  return r != NULL ? 0 : -1;
}

int db_progress_save(db_job *job, const char *last_key, uint64_t rows, uint64_t cells, uint64_t failed) {
  static const char sql[] =
      "UPDATE tokenvault_migration SET last_key = $2, rows_done = rows_done + $3::bigint, "
      "cells_done = cells_done + $4::bigint, cells_failed = cells_failed + $5::bigint WHERE id = $1";
  char n_rows[24], n_cells[24], n_failed[24];
  snprintf(n_rows, sizeof n_rows, "%" PRIu64, rows);
  snprintf(n_cells, sizeof n_cells, "%" PRIu64, cells);
  snprintf(n_failed, sizeof n_failed, "%" PRIu64, failed);
  const char *params[] = {job->job_id, last_key, n_rows, n_cells, n_failed};
  if (save_failures(job) != 0) return -1;
  PGresult *r = db_exec(job->pg, sql, 5, params, PGRES_COMMAND_OK, job->err, job->command);
  PQclear(r);
  return r != NULL ? 0 : -1;
}

int db_progress_finish(db_job *job) {
  static const char done_sql[] = "UPDATE tokenvault_migration SET finished_at = now() WHERE id = $1";
  static const char undo_sql[] = "DELETE FROM tokenvault_migration WHERE id = $1";
  const char *params[] = {job->job_id};
  const char *undo[] = {job->undo_id};
  if (db_command(job->pg, "BEGIN", job->err, job->command) != 0) return -1;
  PGresult *r = db_exec(job->pg, done_sql, 1, params, PGRES_COMMAND_OK, job->err, job->command);
  PQclear(r);
  if (r != NULL && job->undo_id[0] != '\0') {
    r = db_exec(job->pg, undo_sql, 1, undo, PGRES_COMMAND_OK, job->err, job->command);
    PQclear(r);
  }
  if (r == NULL) {
    PQclear(PQexec(job->pg, "ROLLBACK"));
    return -1;
  }
  return db_command(job->pg, "COMMIT", job->err, job->command);
}

int db_progress_report(db_job *job, uint64_t *out_failed) {
  char sql[DB_SQL_BYTES_MAX];
  snprintf(sql, sizeof sql,
           "SELECT key, column_name, status, count(*) OVER () FROM tokenvault_migration_failure "
           "WHERE job_id = $1 ORDER BY key::%s, column_name LIMIT %u", job->key_type, DB_FAILURES_SHOWN_MAX);
  const char *params[] = {job->job_id};
  PGresult *r = db_exec(job->pg, sql, 1, params, PGRES_TUPLES_OK, job->err, job->command);
  if (r == NULL) return -1;
  *out_failed = PQntuples(r) > 0 ? strtoull(PQgetvalue(r, 0, 3), NULL, 10) : 0;
  for (int i = 0; i < PQntuples(r); i++) {
    fprintf(job->err, "tokenvault %s: %s=%s column %s: %s (left as it is)\n", job->command, job->key_name,
            PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
  }
  PQclear(r);
  return 0;
}
