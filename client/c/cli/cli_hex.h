/* cli_hex — hex text to bytes for keys and tweaks given on the command
 * line, in a file or in the environment. */
#ifndef TV_CLI_CLI_HEX_H
#define TV_CLI_CLI_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

/* cli_hex_decode decodes the |hex_len| hex digits at |hex| (either case)
 * into |out| (hex_len / 2 bytes). |hex_len| must be even and hex_len / 2 at
 * most |out_max|, else TV_E_INVALID_ARGUMENT with *out_bad_index =
 * hex_len. A character that is not a hex digit gives TV_E_INVALID_ARGUMENT
 * with its index in *out_bad_index; |out| may then hold partial bytes,
 * which the caller wipes. The time taken does not depend on the digits'
 * values (they may be a key). */
tv_status cli_hex_decode(uint8_t *out, size_t out_max, const char *hex, size_t hex_len,
                         size_t *out_bad_index);

#endif
