/* cli_exit — the one mapping from tv_status to the CLI's exit codes.
 *
 *   CLI_EXIT_OK (0)       success
 *   CLI_EXIT_FAILURE (1)  the work could not be done for a reason outside the
 *                         input: I/O error, out of memory, crypto library or
 *                         HSM failure
 *   CLI_EXIT_USAGE (2)    bad usage or bad input: unknown or missing option,
 *                         bad key, bad hex, a value the format rejects */
#ifndef TV_CLI_CLI_EXIT_H
#define TV_CLI_CLI_EXIT_H

#include "vault/util/status.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

/* cli_exit_code returns the exit code for |status|. */
int cli_exit_code(tv_status status);

#endif
