/* One batch of rows: read in key order (the vault side is db_vault.c),
 * answers written back with one UPDATE FROM unnest(...) whose arrays are
 * bound in binary. Values exist only in
 * the libpq result and the vault's answers, and both are wiped when the
 * batch is done. */
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/db_conn.h"
#include "client/c/cli/db_job.h"

/* Result columns of the batch SELECT: key, the targets, then the
 * namespace column when there is one. */
#define COL_KEY 0

/* The table is aliased tv_t and every column named through it: an output
 * column "id" (the key as text) must not be what ORDER BY id sorts by. */
int db_batch_select_sql(const db_job *job, char *sql, size_t cap) {
  int n = db_sql_append(sql, cap, 0, "SELECT tv_t.%s::text", job->key_quoted);
  for (size_t t = 0; t < job->targets_count; t++) {
    n = db_sql_append(sql, cap, n, ", tv_t.%s::text", job->targets[t].quoted);
  }
  if (job->ns_quoted != NULL) n = db_sql_append(sql, cap, n, ", tv_t.%s::text", job->ns_quoted);
  return db_sql_append(sql, cap, n, " FROM %s AS tv_t", job->table_quoted);
}

PGresult *db_batch_select(db_job *job, const char *last_key) {
  char sql[DB_SQL_BYTES_MAX];
  int n = db_batch_select_sql(job, sql, sizeof sql);
  /* $1 untyped: the server reads it as the key's own type, so the range
   * scan uses the key's index and its ordering. */
  if (last_key != NULL) n = db_sql_append(sql, sizeof sql, n, " WHERE tv_t.%s > $1", job->key_quoted);
  n = db_sql_append(sql, sizeof sql, n, " ORDER BY tv_t.%s LIMIT %u%s", job->key_quoted, job->a->batch_rows,
                    job->a->dry_run ? "" : " FOR UPDATE");
  if (n < 0) {
    fprintf(job->err, "tokenvault %s: names too long for one statement\n", job->command);
    return NULL;
  }
  const char *params[] = {last_key};
  return db_exec(job->pg, sql, last_key != NULL ? 1 : 0, params, PGRES_TUPLES_OK, job->err, job->command);
}

/* detokenize: the cells the tokenize job could not tokenize hold values,
 * not tokens; they stay as they are. */
static int skip_undo_cells(db_job *job, PGresult *rows, const char *undo_id) {
  static const char sql[] =
      "SELECT u.ord, f.column_name FROM unnest($2::text[]) WITH ORDINALITY AS u(k, ord) "
      "JOIN tokenvault_migration_failure f ON f.job_id = $1 AND f.key = u.k";
  db_text_array *keys = &job->arrays[0];
  db_text_array_reset(keys);
  for (int r = 0; r < PQntuples(rows); r++) db_text_array_push(keys, PQgetvalue(rows, r, COL_KEY));
  const Oid types[] = {0, DB_TEXT_ARRAY_OID};
  int lens[] = {0, 0};
  const int formats[] = {0, 1};
  const char *params[] = {undo_id, db_text_array_finish(keys, &lens[1])};
  if (params[1] == NULL) return -1;
  PGresult *f = db_exec_binary(job->pg, sql, 2, types, params, lens, formats, PGRES_TUPLES_OK, job->err,
                               job->command);
  if (f == NULL) return -1;
  for (int i = 0; i < PQntuples(f); i++) {
    int r = atoi(PQgetvalue(f, i, 0)) - 1;
    for (size_t t = 0; t < job->targets_count && r >= 0 && r < PQntuples(rows); t++) {
      if (strcmp(job->targets[t].column, PQgetvalue(f, i, 1)) == 0) job->skip[db_cell_index(job, r, t)] = 2;
    }
  }
  PQclear(f);
  return 0;
}

int db_batch_mark_skips(db_job *job, PGresult *rows) {
  int n = PQntuples(rows);
  for (int r = 0; r < n; r++) {
    for (size_t t = 0; t < job->targets_count; t++) {
      size_t i = db_cell_index(job, r, t);
      job->new_text[i] = NULL;
      job->bad_name[i] = NULL;
      job->skip[i] = PQgetisnull(rows, r, (int)t + 1) ? 1 : 0;
    }
  }
  return job->undo_id[0] != '\0' ? skip_undo_cells(job, rows, job->undo_id) : 0;
}

int db_batch_update(db_job *job, PGresult *rows) {
  char sql[DB_SQL_BYTES_MAX];
  int n = db_sql_append(sql, sizeof sql, 0, "UPDATE %s AS tv_t SET ", job->table_quoted);
  for (size_t t = 0; t < job->targets_count; t++) {
    n = db_sql_append(sql, sizeof sql, n, "%s%s = COALESCE(u.v%zu, tv_t.%s)", t > 0 ? ", " : "",
                      job->targets[t].quoted, t, job->targets[t].quoted);
  }
  n = db_sql_append(sql, sizeof sql, n, " FROM unnest($1::text[]");
  for (size_t t = 0; t < job->targets_count; t++) n = db_sql_append(sql, sizeof sql, n, ", $%zu::text[]", t + 2);
  n = db_sql_append(sql, sizeof sql, n, ") AS u(k");
  for (size_t t = 0; t < job->targets_count; t++) n = db_sql_append(sql, sizeof sql, n, ", v%zu", t);
  n = db_sql_append(sql, sizeof sql, n, ") WHERE tv_t.%s = u.k::%s", job->key_quoted, job->key_type);
  if (n < 0) {
    fprintf(job->err, "tokenvault %s: names too long for one statement\n", job->command);
    return -1;
  }
  for (size_t a = 0; a <= job->targets_count; a++) db_text_array_reset(&job->arrays[a]);
  for (int r = 0; r < PQntuples(rows); r++) {
    int changed = 0;
    for (size_t t = 0; t < job->targets_count; t++) changed |= job->new_text[db_cell_index(job, r, t)] != NULL;
    if (!changed) continue;
    db_text_array_push(&job->arrays[0], PQgetvalue(rows, r, COL_KEY));
    for (size_t t = 0; t < job->targets_count; t++) {
      db_text_array_push(&job->arrays[t + 1], job->new_text[db_cell_index(job, r, t)]);
    }
  }
  if (job->arrays[0].count == 0) return 0;
  Oid types[DB_TARGETS_MAX + 1];
  const char *params[DB_TARGETS_MAX + 1];
  int lens[DB_TARGETS_MAX + 1], formats[DB_TARGETS_MAX + 1];
  for (size_t a = 0; a <= job->targets_count; a++) {
    types[a] = DB_TEXT_ARRAY_OID;
    formats[a] = 1;
    params[a] = db_text_array_finish(&job->arrays[a], &lens[a]);
    if (params[a] == NULL) {
      fprintf(job->err, "tokenvault %s: out of memory for the batch: lower --batch\n", job->command);
      return -1;
    }
  }
  PGresult *res = db_exec_binary(job->pg, sql, (int)job->targets_count + 1, types, params, lens, formats,
                                 PGRES_COMMAND_OK, job->err, job->command);
  PQclear(res);
  return res != NULL ? 0 : -1;
}

/* The bad cells of the batch, for tokenvault_migration_failure. */
void db_batch_collect_bad(db_job *job, PGresult *rows) {
  db_text_array_reset(&job->bad_keys);
  db_text_array_reset(&job->bad_columns);
  db_text_array_reset(&job->bad_names);
  for (int r = 0; r < PQntuples(rows); r++) {
    for (size_t t = 0; t < job->targets_count; t++) {
      const char *name = job->bad_name[db_cell_index(job, r, t)];
      if (name == NULL) continue;
      db_text_array_push(&job->bad_keys, PQgetvalue(rows, r, COL_KEY));
      db_text_array_push(&job->bad_columns, job->targets[t].column);
      db_text_array_push(&job->bad_names, name);
    }
  }
}

void db_batch_done(db_job *job, PGresult *rows) {
  if (rows != NULL) {
    /* libpq frees without wiping; the values are overwritten first. */
    for (int r = 0; r < PQntuples(rows); r++) {
      for (int c = 1; c < PQnfields(rows); c++) {
        char *v = PQgetvalue(rows, r, c);
        tv_client_wipe(v, strlen(v));
      }
    }
    PQclear(rows);
  }
  for (size_t i = 0; i < job->results_count; i++) tv_client_result_free(job->results[i]);
  job->results_count = 0;
  for (size_t a = 0; a <= job->targets_count; a++) db_text_array_reset(&job->arrays[a]);
}
