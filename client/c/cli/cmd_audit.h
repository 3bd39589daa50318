/* `tokenvault audit` — check and read the vault's audit log.
 *
 *   tokenvault audit verify (--token-label LABEL (--pin-file PATH | --pin-env NAME)
 *                            [--module PATH] | --chain-only) FILE...
 *   tokenvault audit tail [-n N] FILE...
 *   tokenvault audit remote-verify [connection options] [FROM_SEQ [TO_SEQ]]
 *
 * `verify` takes the segment files in order (audit-000001.log ...) and
 * reports the first bad spot (file, line, sequence number, what is wrong)
 * or confirms the chain with counts. Checkpoint MACs and truncation can
 * only be checked with the HSM that holds the log's MAC key and counter;
 * --chain-only checks the rest and says so. PINs are never on the command
 * line. `tail` prints the last N lines (default 10).
 * Exit status: 0 intact / ok, 1 a problem found or a failure (I/O, HSM),
 * 2 bad usage. */
#ifndef TV_CLI_CMD_AUDIT_H
#define TV_CLI_CMD_AUDIT_H

#include <stdio.h>

/* audit_cmd_main runs the command with |argc|/|argv| (argv[0] is "audit"),
 * writing results to |out| and errors to |err|; |in| is unused. Returns
 * the exit status. */
int audit_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* audit_remote_verify_main runs `audit remote-verify` with argv[0]
 * "remote-verify" and the shared connection options (net_args.h); returns
 * the exit status (0 intact, 1 not intact, else net_args.h's). It is in
 * cmd_audit_remote.c, built with the network commands (main.c routes to
 * it), so tv_audit_cli needs no gRPC client. */
int audit_remote_verify_main(int argc, char **argv, FILE *out, FILE *err);

#endif
