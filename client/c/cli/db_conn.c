#include "client/c/cli/db_conn.h"

#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "client/c/lib/tokenvault.h"

/* 1 when the parsed conninfo carries a non-empty password. */
static int has_password(const char *conninfo, FILE *err, const char *command, int *out) {
  char *message = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo, &message);
  if (opts == NULL) {
    /* libpq's message quotes the offending part of the string, which may
     * be a password: say only that it does not parse. */
    fprintf(err, "tokenvault %s: the connection string does not parse (libpq conninfo or "
                 "postgresql:// URI expected)\n", command);
    PQfreemem(message);
    return -1;
  }
  *out = 0;
  for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
    if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0') *out = 1;
  }
  PQconninfoFree(opts);
  return 0;
}

/* Reads the file's first line into |buf|; refuses a password in a file
 * others may read. */
static int read_conninfo_file(const char *path, char *buf, size_t cap, FILE *err, const char *command) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(err, "tokenvault %s: cannot open the --conninfo-file\n", command);
    return -1;
  }
  struct stat st;
  int private_file = fstat(fileno(f), &st) == 0 && (st.st_mode & 077) == 0;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = '\0';
  buf[strcspn(buf, "\r\n")] = '\0';
  int password = 0;
  if (has_password(buf, err, command, &password) != 0) return -1;
  if (password && !private_file) {
    fprintf(err, "tokenvault %s: the --conninfo-file holds a password and is readable by others: "
                 "chmod 600 it (or use PGPASSFILE)\n", command);
    return -1;
  }
  return 0;
}

static void ignore_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

PGconn *db_connect(const char *conninfo, const char *conninfo_file, FILE *err, const char *command,
                   int *out_exit) {
  char buf[DB_CONNINFO_FILE_BYTES_MAX];
  *out_exit = 2; /* bad usage, until the connection itself fails */
  if (conninfo_file != NULL) {
    if (read_conninfo_file(conninfo_file, buf, sizeof buf, err, command) != 0) return NULL;
    conninfo = buf;
  } else {
    int password = 0;
    if (has_password(conninfo, err, command, &password) != 0) return NULL;
    if (password) {
      fprintf(err, "tokenvault %s: --conninfo holds a password, which every user of this machine "
                   "can read in the process list: put it in a PGPASSFILE, or use --conninfo-file\n",
              command);
      return NULL;
    }
  }
  const char *const keys[] = {"dbname", "application_name", NULL};
  const char *const values[] = {conninfo, "tokenvault db", NULL};
  PGconn *pg = PQconnectdbParams(keys, values, 1);
  *out_exit = 3;
  if (conninfo == buf) tv_client_wipe(buf, sizeof buf);
  if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
    fprintf(err, "tokenvault %s: cannot connect to the database: %s", command,
            pg != NULL ? PQerrorMessage(pg) : "out of memory\n");
    PQfinish(pg);
    return NULL;
  }
  /* "relation already exists, skipping" and the like are not for users. */
  PQsetNoticeProcessor(pg, ignore_notice, NULL);
  /* Each batch commits its updates and its progress atomically; waiting
   * for the WAL flush adds nothing to that: a server crash loses at most
   * the last batches as a whole, and the rerun redoes them (the vault
   * returns the same tokens in a convergent namespace). */
  PQclear(PQexec(pg, "SET synchronous_commit = off"));
  return pg;
}

static PGresult *checked(PGconn *pg, PGresult *r, ExecStatusType want, FILE *err, const char *command) {
  if (r != NULL && PQresultStatus(r) == want) return r;
  /* Only the primary message and the SQLSTATE: a DETAIL line may quote a
   * row (a unique violation shows the duplicate key, which may be a value
   * or a token). */
  const char *primary = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (primary != NULL) {
    fprintf(err, "tokenvault %s: database: %s (SQLSTATE %s)\n", command, primary, state != NULL ? state : "?");
  } else {
    fprintf(err, "tokenvault %s: database: %s", command, PQerrorMessage(pg));
  }
  PQclear(r);
  return NULL;
}

PGresult *db_exec(PGconn *pg, const char *sql, int n, const char *const *params, ExecStatusType want,
                  FILE *err, const char *command) {
  return checked(pg, PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0), want, err, command);
}

PGresult *db_exec_binary(PGconn *pg, const char *sql, int n, const Oid *types, const char *const *params,
                         const int *lens, const int *formats, ExecStatusType want, FILE *err,
                         const char *command) {
  return checked(pg, PQexecParams(pg, sql, n, types, params, lens, formats, 0), want, err, command);
}

int db_command(PGconn *pg, const char *sql, FILE *err, const char *command) {
  /* PQexec, not PQexecParams: |sql| may be several statements. */
  PGresult *r = checked(pg, PQexec(pg, sql), PGRES_COMMAND_OK, err, command);
  PQclear(r);
  return r != NULL ? 0 : -1;
}

int db_sql_append(char *sql, size_t cap, int len, const char *fmt, ...) {
  if (len < 0 || (size_t)len >= cap) return -1;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(sql + len, cap - (size_t)len, fmt, ap);
  va_end(ap);
  return n < 0 || (size_t)n >= cap - (size_t)len ? -1 : len + n;
}
