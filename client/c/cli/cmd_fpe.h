/* `tokenvault fpe` — plain NIST FF1 (SP 800-38G) on the command line, for
 * interoperability checks against other implementations and for bulk
 * transformation of values piped through stdin.
 *
 *   tokenvault fpe encrypt|decrypt (--key-file PATH | --key HEX)
 *                  [--tweak HEX] (--radix N | --alphabet CHARS)
 *                  [--impl auto|aesni|vaes|openssl] [VALUE ...]
 *
 * The key may also come from the TOKENVAULT_FPE_KEY environment variable.
 * Exit status: 0 success, 1 I/O or system failure, 2 bad usage or input
 * (client/c/cli/cli_exit.h). */
#ifndef TV_CLI_CMD_FPE_H
#define TV_CLI_CMD_FPE_H

#include <stdio.h>

/* fpe_cmd_main runs the command with |argc|/|argv| (argv[0] is "fpe"),
 * reading values from |in| when none are given as arguments, writing
 * results to |out| and at most one line of error to |err|. Returns the
 * exit status. The --key text in |argv| is overwritten (argv strings must
 * be writable). */
int fpe_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

#endif
