/* db_args — the options of `tokenvault db tokenize|detokenize`: the
 * database side (--conninfo, --table, --key, --columns, --namespace-column,
 * --batch, --dry-run, --verify) is parsed here; everything else (TLS or
 * --dev, --namespace, --reason, --progress, ...) is the server commands'
 * shared options (net_args.h). */
#ifndef TV_CLI_DB_ARGS_H
#define TV_CLI_DB_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "client/c/cli/net_args.h"

/* Rows per transaction: large enough to amortise a commit, small enough
 * that a transaction (and the locks it holds on its rows) stays short. */
#define DB_BATCH_ROWS_DEFAULT 2000u
#define DB_BATCH_ROWS_MAX 20000u
/* Rows the verification pass detokenizes (reveal none) by default. */
#define DB_VERIFY_ROWS_DEFAULT 10000u
#define DB_VERIFY_ROWS_MAX 100000000u
/* Options one command line may pass on to net_args. */
#define DB_NET_ARGV_MAX 64

typedef struct db_args {
  net_args net;
  const char *conninfo;
  const char *conninfo_file;
  const char *table;
  const char *key;       /* NULL: the table's single-column primary key */
  const char *columns;   /* col[:ns],... */
  const char *ns_column; /* NULL: every column has a namespace */
  uint32_t batch_rows;
  uint32_t verify_rows;  /* 0: no sample detokenize in the verification */
  int dry_run;
  int help;
} db_args;

/* db_args_parse fills |a| from |argv| (argv[0] is "tokenize" or
 * "detokenize"); prints one line to |err| and returns CLI_EXIT_USAGE on a
 * bad or missing option, else 0. */
int db_args_parse(db_args *a, int argc, char **argv, FILE *err, const char *command);

#endif
