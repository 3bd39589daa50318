/* `tokenvault hsm` — HSM administration from the command line.
 *
 *   tokenvault hsm init --dir DIR [--label LABEL] [--module PATH]
 *
 * `init` creates a development SoftHSM2 token in DIR (its own
 * softhsm2.conf, random PINs in 0600 files, the KEK and the MAC key
 * generated inside the token) and prints where everything is. PINs are
 * never taken from, nor printed to, the command line.
 * Exit status: 0 success, 1 failure, 2 bad usage (as client/c/cli/cli_exit.h). */
#ifndef TV_CLI_CMD_HSM_H
#define TV_CLI_CMD_HSM_H

#include <stdio.h>

/* hsm_cmd_main runs the command with |argc|/|argv| (argv[0] is "hsm"),
 * writing results to |out| and at most one line of error to |err|. |in| is
 * unused (every command has the same signature).
 * Returns the exit status. Note: `init` sets SOFTHSM2_CONF in this
 * process's environment. */
int hsm_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

#endif
