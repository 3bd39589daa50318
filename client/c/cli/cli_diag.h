/* cli_diag — the one-line explanation that goes with a failed tv_status.
 *
 * A tv_status says what kind of problem happened; the CLI must also say
 * where (which option, which line, which character). Functions that fail
 * write that sentence into a cli_diag and return the status, so the command
 * prints exactly one line and maps the status to an exit code. */
#ifndef TV_CLI_CLI_DIAG_H
#define TV_CLI_CLI_DIAG_H

#include <stddef.h>

#include "vault/util/status.h"

/* Long enough for a sentence naming an option, a line number and a
 * character; longer texts are cut, never overrun. */
#define CLI_DIAG_TEXT_MAX 256u

typedef struct cli_diag {
  char text[CLI_DIAG_TEXT_MAX];
} cli_diag;

/* cli_diag_clear empties |diag|. */
void cli_diag_clear(cli_diag *diag);

/* cli_fail formats the sentence into |diag| (printf-style, no trailing
 * newline) and returns |status| so callers can `return cli_fail(...)`.
 * |status| must not be TV_OK. */
tv_status cli_fail(cli_diag *diag, tv_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* cli_describe_byte writes a printable description of |c| into |out|
 * ("'x'" for printable ASCII, "byte 0x07" otherwise) and returns |out|.
 * |out_len| must be at least CLI_BYTE_TEXT_MAX. */
#define CLI_BYTE_TEXT_MAX 16u
const char *cli_describe_byte(char *out, size_t out_len, unsigned char c);

/* cli_quote copies |text| into |out| for an error message: bytes outside
 * printable ASCII become '?', so an argument cannot break the one-line
 * contract or send terminal escapes; text longer than |out| allows is cut
 * and ends in "...". Returns |out|. |out_len| must be at least 4. */
const char *cli_quote(char *out, size_t out_len, const char *text);

/* Room for a quoted argument in a message. */
#define CLI_QUOTE_MAX 44u

#endif
