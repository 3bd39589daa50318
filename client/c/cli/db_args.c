/* Parsed by hand (no getopt), like net_args.c: the db options are taken
 * out, the rest goes to net_args_parse unchanged. */
#include "client/c/cli/db_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/cli_exit.h"

static int usage(FILE *err, const char *command, const char *what, const char *arg) {
  char quoted[CLI_QUOTE_MAX];
  fprintf(err, "tokenvault %s: %s%s%s (see tokenvault %s --help)\n", command, what,
          arg != NULL ? ": " : "", arg != NULL ? cli_quote(quoted, sizeof quoted, arg) : "", command);
  return CLI_EXIT_USAGE;
}

static int parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) return -1;
  *out = (uint32_t)v;
  return 0;
}

static const char **string_slot(db_args *a, const char *name) {
  if (strcmp(name, "--conninfo") == 0) return &a->conninfo;
  if (strcmp(name, "--conninfo-file") == 0) return &a->conninfo_file;
  if (strcmp(name, "--table") == 0) return &a->table;
  if (strcmp(name, "--key") == 0) return &a->key;
  if (strcmp(name, "--columns") == 0) return &a->columns;
  if (strcmp(name, "--namespace-column") == 0) return &a->ns_column;
  return NULL;
}

/* Options of the file commands that mean nothing for a table. */
static int file_option(const char *name) {
  static const char *const names[] = {"--csv", "--jsonl", "--fields", "--out"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (strcmp(name, names[i]) == 0) return 1;
  }
  return 0;
}

static int take_option(db_args *a, int argc, char **argv, int *i, FILE *err, const char *command) {
  const char *arg = argv[*i];
  const char **slot = string_slot(a, arg);
  int number = strcmp(arg, "--batch") == 0 || strcmp(arg, "--verify") == 0;
  if (slot == NULL && !number) return 1; /* not ours */
  if (*i + 1 >= argc) return usage(err, command, "option needs a value", arg);
  const char *value = argv[++*i];
  if (slot != NULL) {
    *slot = value;
  } else if (strcmp(arg, "--batch") == 0 && parse_u32(value, 1, DB_BATCH_ROWS_MAX, &a->batch_rows) != 0) {
    return usage(err, command, "--batch takes 1..20000 rows", value);
  } else if (strcmp(arg, "--verify") == 0 && parse_u32(value, 0, DB_VERIFY_ROWS_MAX, &a->verify_rows) != 0) {
    return usage(err, command, "--verify takes a number of rows (0: count check only)", value);
  }
  return 0;
}

static int check_required(const db_args *a, FILE *err, const char *command) {
  if ((a->conninfo == NULL) == (a->conninfo_file == NULL)) {
    return usage(err, command, "give the database with --conninfo or --conninfo-file (one of them)", NULL);
  }
  if (a->table == NULL || a->table[0] == '\0') return usage(err, command, "--table is required", NULL);
  if (a->columns == NULL || a->columns[0] == '\0') {
    return usage(err, command, "--columns is required, e.g. card_number:pan,iban:iban", NULL);
  }
  if (a->net.rest_count > 0) return usage(err, command, "unexpected argument", a->net.rest[0]);
  return 0;
}

int db_args_parse(db_args *a, int argc, char **argv, FILE *err, const char *command) {
  memset(a, 0, sizeof *a);
  a->batch_rows = DB_BATCH_ROWS_DEFAULT;
  a->verify_rows = DB_VERIFY_ROWS_DEFAULT;
  char *rest[DB_NET_ARGV_MAX];
  int rest_count = 0;
  rest[rest_count++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (file_option(argv[i])) return usage(err, command, "not an option of the db commands", argv[i]);
    if (strcmp(argv[i], "--dry-run") == 0) {
      a->dry_run = 1;
      continue;
    }
    int rc = take_option(a, argc, argv, &i, err, command);
    if (rc == 0) continue;
    if (rc != 1) return rc;
    if (rest_count == DB_NET_ARGV_MAX) return usage(err, command, "too many arguments", NULL);
    rest[rest_count++] = argv[i];
  }
  int rc = net_args_parse(&a->net, rest_count, rest, err, command);
  if (rc != 0) return rc;
  a->help = a->net.help;
  return a->help ? 0 : check_required(a, err, command);
}
