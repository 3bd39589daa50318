/* tokenvault — the command-line client. main only dispatches: each command
 * is a function <name>_cmd_main(argc, argv, in, out, err) in
 * cli/cmd_<name>.c that returns the exit status (cli/cli_exit.h). */
#include <stdio.h>
#include <string.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cmd_audit.h"
#include "client/c/cli/cmd_fpe.h"
#include "client/c/cli/cmd_hsm.h"
#include "client/c/cli/cmd_net.h"
#include "client/c/cli/cmd_store.h"
#include "vault/util/secure_mem.h"

/* The command table. Adding a command is one line here plus its file
 * cli/cmd_<name>.c (and, to have the compiler check the signature against
 * the declaration generated below, an #include of its header above). */
#define TV_CLI_COMMANDS(X)                                                       \
  X(fpe, "encrypt or decrypt values with plain NIST FF1 (interop and bulk tool)") \
  X(hsm, "HSM administration: create a development SoftHSM2 token (hsm init)")     \
  X(audit, "verify the audit log's hash chain and checkpoints, or print its tail")        \
  X(tokenize, "replace values (arguments, CSV columns, JSON Lines fields) by tokens")   \
  X(detokenize, "turn tokens back into values: full, masked or none")                   \
  X(delete, "delete tokens so they no longer resolve")                                  \
  X(erase, "remove every token of a value (right to erasure)")                          \
  X(info, "what the vault knows about tokens (never their values)")                     \
  X(keys, "data keys and KEK rotation: list, rotate, propose-kek, approve-kek, status") \
  X(health, "is tokenvaultd serving")                                                   \
  X(whoami, "how tokenvaultd sees you (principal, transport)")                           \
  X(db, "tokenize or detokenize columns of a PostgreSQL table in place, resumably")      \
  X(store, "back up, restore or repair a data directory (offline); verify a running vault's store")

#define TV_CLI_DECLARE(name, summary) \
  int name##_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);
TV_CLI_COMMANDS(TV_CLI_DECLARE)

typedef int (*cli_command_fn)(int argc, char **argv, FILE *in, FILE *out, FILE *err);

typedef struct cli_command {
  const char *name;
  cli_command_fn run;
  const char *summary;
} cli_command;

#define TV_CLI_ENTRY(name, summary) {#name, name##_cmd_main, summary},
static const cli_command cli_commands[] = {TV_CLI_COMMANDS(TV_CLI_ENTRY)};
#define CLI_COMMANDS_COUNT (sizeof cli_commands / sizeof cli_commands[0])

static void print_usage(FILE *stream) {
  fputs("usage: tokenvault COMMAND [ARGS...]\n\ncommands:\n", stream);
  for (size_t i = 0; i < CLI_COMMANDS_COUNT; i++) {
    fprintf(stream, "  %-12s %s\n", cli_commands[i].name, cli_commands[i].summary);
  }
  fputs("\n'tokenvault COMMAND --help' describes a command.\n"
        "Exit status: 0 success, 1 I/O or system failure (server commands: some items\n"
        "failed), 2 bad usage or bad input, 3 server or connection error, 4 permission denied.\n",
        stream);
}

static const cli_command *command_find(const char *name) {
  for (size_t i = 0; i < CLI_COMMANDS_COUNT; i++) {
    if (strcmp(cli_commands[i].name, name) == 0) {
      return &cli_commands[i];
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  /* Commands hold keys and values in memory: no core dumps. Best effort, as
   * a refused hardening must not stop the tool. */
  (void)tv_harden_process();
  if (argc < 2) {
    print_usage(stderr);
    return CLI_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    print_usage(stdout);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
  }
  const cli_command *command = command_find(argv[1]);
  if (command == NULL) {
    char quoted[CLI_QUOTE_MAX];
    fprintf(stderr, "tokenvault: unknown command '%s' (see tokenvault --help)\n",
            cli_quote(quoted, sizeof quoted, argv[1]));
    return CLI_EXIT_USAGE;
  }
  /* audit remote-verify and store verify need the gRPC client, which
   * tv_audit_cli and tv_store_cli (the offline commands) do not link. */
  int status;
  if (argc > 2 && strcmp(argv[1], "audit") == 0 && strcmp(argv[2], "remote-verify") == 0) {
    status = audit_remote_verify_main(argc - 2, argv + 2, stdout, stderr);
  } else if (argc > 2 && strcmp(argv[1], "store") == 0 && strcmp(argv[2], "verify") == 0) {
    status = store_remote_verify_main(argc - 2, argv + 2, stdout, stderr);
  } else {
    status = command->run(argc - 1, argv + 1, stdin, stdout, stderr);
  }
  /* A write error surfacing only at exit (full disk, closed pipe) must not
   * turn into a silent success. */
  if (fflush(stdout) != 0 && status == CLI_EXIT_OK) {
    fprintf(stderr, "tokenvault: cannot write standard output\n");
    return CLI_EXIT_FAILURE;
  }
  return status;
}
