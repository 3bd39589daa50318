/* net_args — the options every command that talks to tokenvaultd shares,
 * the client made from them, and the one mapping from a client code to an
 * exit status and an error sentence that says what to do.
 *
 * Exit status of the server commands:
 *   0 ok, 1 some items failed (each reported), 2 usage error or bad input,
 *   3 server or connection error, 4 permission denied. */
#ifndef TV_CLI_NET_ARGS_H
#define TV_CLI_NET_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "client/c/lib/tokenvault.h"

#define CLI_EXIT_ITEMS 1
#define CLI_EXIT_SERVER 3
#define CLI_EXIT_DENIED 4

/* Without --target: the address tokenvaultd --dev and the quickstart use. */
#define NET_TARGET_DEFAULT "127.0.0.1:7443"
/* Values or tokens on one command line: an interactive limit; files are
 * for more. */
#define NET_VALUES_MAX 1000u

typedef struct net_args {
  const char *target;
  int dev;
  const char *ca;
  const char *cert;
  const char *key;
  const char *server_name;
  uint32_t deadline_ms;
  uint32_t retries;
  uint32_t batch;
  uint32_t window;
  uint32_t streams;
  const char *ns;
  tv_client_reveal reveal;
  const char *reason;
  const char *csv;
  const char *jsonl;
  const char *columns; /* --columns or --fields */
  const char *ns_column; /* --namespace-column: each row's namespace */
  const char *out;
  int retry_tokenize; /* --retry-tokenize: the namespace is convergent */
  int progress; /* -1 auto (stderr is a terminal), 0 off, 1 on */
  int help;
  char *rest[NET_VALUES_MAX]; /* positional arguments (argv is not changed) */
  int rest_count;
} net_args;

/* The text describing the shared options, for each command's --help. */
extern const char net_args_help[];

/* net_args_parse fills |a| from |argv| (argv[0] is the command name);
 * unknown options and bad values print one line to |err| and return
 * CLI_EXIT_USAGE, else 0. */
int net_args_parse(net_args *a, int argc, char **argv, FILE *err, const char *command);

/* net_connect makes the client for |a| (caller frees) or prints why not
 * and returns the exit status. */
int net_connect(const net_args *a, tv_client **out_client, FILE *err, const char *command);

/* net_exit_code maps a client code to the exit status. */
int net_exit_code(tv_client_code code);

/* net_report prints the failed call's sentence and what to do about it,
 * and returns net_exit_code(code). */
int net_report(FILE *err, const char *command, const net_args *a, const tv_client_error *e);

/* net_require_ns prints a usage line and returns CLI_EXIT_USAGE when no
 * --namespace was given, else 0. */
int net_require_ns(const net_args *a, FILE *err, const char *command);

#endif
