/* db_conn — the PostgreSQL connection of `tokenvault db`: where the
 * conninfo comes from (never a password on the command line), and the
 * small helpers that run a statement and say what failed. */
#ifndef TV_CLI_DB_CONN_H
#define TV_CLI_DB_CONN_H

#include <stdio.h>

#include <libpq-fe.h>

/* A conninfo file is one line; longer is not a connection string. */
#define DB_CONNINFO_FILE_BYTES_MAX 4096u

/* db_connect opens the connection from --conninfo or --conninfo-file.
 * A password inside --conninfo is refused (argv is visible to every user
 * of the machine: use PGPASSFILE or a --conninfo-file); a conninfo file
 * that holds a password must not be readable by group or others. Returns
 * NULL after printing why to |err|, with |*out_exit| the exit status: 2
 * for a refused or unreadable conninfo, 3 when the connection failed. */
PGconn *db_connect(const char *conninfo, const char *conninfo_file, FILE *err, const char *command,
                   int *out_exit);

/* db_exec runs |sql| with |n| text parameters (NULL = SQL NULL); prints
 * the server's message and returns NULL unless the result is |want|
 * (PGRES_COMMAND_OK or PGRES_TUPLES_OK). */
PGresult *db_exec(PGconn *pg, const char *sql, int n, const char *const *params, ExecStatusType want,
                  FILE *err, const char *command);

/* db_exec_binary is db_exec with each parameter's type oid, length and
 * format (1: binary) given, for the binary text[] arrays of a batch. */
PGresult *db_exec_binary(PGconn *pg, const char *sql, int n, const Oid *types, const char *const *params,
                         const int *lens, const int *formats, ExecStatusType want, FILE *err,
                         const char *command);

/* db_command runs fixed SQL (one or more statements, no parameters)
 * without result rows; 0 or -1 (printed). */
int db_command(PGconn *pg, const char *sql, FILE *err, const char *command);

/* db_sql_append appends formatted statement text (identifiers already
 * quoted, never values) to |sql| at |len|; returns the new length, or -1
 * when it does not fit or |len| is already -1, so calls chain. */
int db_sql_append(char *sql, size_t cap, int len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
