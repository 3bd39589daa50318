/* What the table looks like: its canonical name, the key that orders the
 * batches, and the columns to migrate. Every name reaches SQL quoted by
 * PQescapeIdentifier; the catalog is asked with bound parameters. */
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/cli_exit.h"
#include "client/c/cli/db_conn.h"
#include "client/c/cli/db_job.h"

static int usage(db_job *job, const char *what, const char *name) {
  char quoted[CLI_QUOTE_MAX];
  fprintf(job->err, "tokenvault %s: %s%s%s\n", job->command, what, name != NULL ? ": " : "",
          name != NULL ? cli_quote(quoted, sizeof quoted, name) : "");
  return CLI_EXIT_USAGE;
}

static char *quote(db_job *job, const char *name) {
  return PQescapeIdentifier(job->pg, name, strlen(name));
}

/* --columns card_number:pan,national_id — a column without a namespace
 * takes --namespace, else the row's --namespace-column. */
static int parse_columns(db_job *job) {
  const db_args *a = job->a;
  if (strlen(a->columns) >= sizeof job->columns_text) return usage(job, "--columns is too long", NULL);
  memcpy(job->columns_text, a->columns, strlen(a->columns) + 1);
  char *save = NULL;
  for (char *tok = strtok_r(job->columns_text, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
    if (job->targets_count == DB_TARGETS_MAX) return usage(job, "too many columns (at most 16)", NULL);
    char *colon = strchr(tok, ':');
    const char *ns = a->net.ns;
    if (colon != NULL) {
      *colon = '\0';
      ns = colon + 1;
    }
    if (ns != NULL && ns[0] == '\0') ns = NULL;
    if (tok[0] == '\0') return usage(job, "a column name is empty in --columns", a->columns);
    if (ns == NULL && a->ns_column == NULL) {
      return usage(job, "this column needs a namespace (column:namespace, --namespace, or "
                        "--namespace-column for one per row)", tok);
    }
    for (size_t t = 0; t < job->targets_count; t++) {
      if (strcmp(job->targets[t].column, tok) == 0) return usage(job, "a column is named twice", tok);
    }
    db_target *target = &job->targets[job->targets_count++];
    target->column = tok;
    target->ns = ns;
    target->quoted = quote(job, tok);
    if (target->quoted == NULL) return usage(job, "cannot quote the column name", tok);
  }
  if (job->targets_count == 0) return usage(job, "--columns names no column", NULL);
  return 0;
}

/* schema.table or table, each part quoted. */
static int quote_table(db_job *job) {
  char name[DB_NAME_BYTES_MAX];
  if (strlen(job->a->table) >= sizeof name) return usage(job, "--table is too long", NULL);
  memcpy(name, job->a->table, strlen(job->a->table) + 1);
  char *dot = strchr(name, '.');
  if (dot != NULL) *dot = '\0';
  char *qs = dot != NULL ? quote(job, name) : NULL;
  char *qt = quote(job, dot != NULL ? dot + 1 : name);
  if (qt != NULL && (dot == NULL || qs != NULL)) {
    size_t need = (qs != NULL ? strlen(qs) + 1 : 0) + strlen(qt) + 1;
    job->table_quoted = malloc(need);
    if (job->table_quoted != NULL) {
      snprintf(job->table_quoted, need, "%s%s%s", qs != NULL ? qs : "", qs != NULL ? "." : "", qt);
    }
  }
  PQfreemem(qs);
  PQfreemem(qt);
  return job->table_quoted != NULL ? 0 : usage(job, "cannot quote the table name", job->a->table);
}

static int copy_field(db_job *job, char *dst, size_t cap, PGresult *r, int row, int col) {
  const char *v = PQgetvalue(r, row, col);
  if (strlen(v) >= cap) return usage(job, "a name in the catalog is too long", NULL);
  memcpy(dst, v, strlen(v) + 1);
  return 0;
}

/* The key: the single-column primary key, or --key when it has a unique
 * index of its own (batches are keyed ranges, so it must be unique). */
static int find_key(db_job *job) {
  static const char pk_sql[] =
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_index i "
      "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
      "WHERE i.indrelid = $1::regclass AND i.indisprimary AND i.indnatts = 1";
  static const char unique_sql[] =
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_index i "
      "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
      "WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indnatts = 1 AND i.indpred IS NULL "
      "AND a.attname = $2 LIMIT 1";
  const char *params[] = {job->table_quoted, job->a->key};
  PGresult *r = db_exec(job->pg, job->a->key != NULL ? unique_sql : pk_sql, job->a->key != NULL ? 2 : 1, params,
                        PGRES_TUPLES_OK, job->err, job->command);
  if (r == NULL) return CLI_EXIT_USAGE;
  int rc = 0;
  if (PQntuples(r) != 1) {
    rc = job->a->key != NULL ? usage(job, "--key must name a column with a unique index of its own", job->a->key)
                             : usage(job, "the table has no single-column primary key: name a unique column with --key",
                                     job->table);
  }
  if (rc == 0) rc = copy_field(job, job->key_name, sizeof job->key_name, r, 0, 0);
  if (rc == 0) rc = copy_field(job, job->key_type, sizeof job->key_type, r, 0, 1);
  PQclear(r);
  if (rc == 0 && (job->key_quoted = quote(job, job->key_name)) == NULL) rc = usage(job, "cannot quote the key", NULL);
  return rc;
}

/* Each column must exist and hold text (a token replaces the text of the
 * value; a numeric column would lose leading zeros and separators). */
static int check_column(db_job *job, const char *column, int must_be_text) {
  static const char sql[] =
      "SELECT atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype) FROM pg_attribute "
      "WHERE attrelid = $1::regclass AND attname = $2 AND attnum > 0 AND NOT attisdropped";
  const char *params[] = {job->table_quoted, column};
  PGresult *r = db_exec(job->pg, sql, 2, params, PGRES_TUPLES_OK, job->err, job->command);
  if (r == NULL) return CLI_EXIT_USAGE;
  int rc = 0;
  if (PQntuples(r) != 1) rc = usage(job, "no such column in the table", column);
  else if (must_be_text && strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
    rc = usage(job, "the column is not text, varchar or char: tokens are text", column);
  }
  PQclear(r);
  return rc;
}

static int canonical_name(db_job *job) {
  const char *params[] = {job->table_quoted};
  PGresult *r = db_exec(job->pg, "SELECT $1::regclass::text", 1, params, PGRES_TUPLES_OK, job->err, job->command);
  if (r == NULL) return CLI_EXIT_USAGE;
  int rc = copy_field(job, job->table, sizeof job->table, r, 0, 0);
  PQclear(r);
  return rc;
}

int db_table_open(db_job *job) {
  int rc = parse_columns(job);
  if (rc == 0) rc = quote_table(job);
  if (rc == 0) rc = canonical_name(job);
  if (rc == 0) rc = find_key(job);
  for (size_t t = 0; rc == 0 && t < job->targets_count; t++) {
    if (strcmp(job->targets[t].column, job->key_name) == 0) rc = usage(job, "the key cannot be migrated", job->key_name);
    if (rc == 0) rc = check_column(job, job->targets[t].column, 1);
  }
  if (rc == 0 && job->a->ns_column != NULL) {
    rc = check_column(job, job->a->ns_column, 0);
    if (rc == 0 && (job->ns_quoted = quote(job, job->a->ns_column)) == NULL) rc = usage(job, "cannot quote", NULL);
  }
  return rc;
}
