/* fpe_key — where `tokenvault fpe` gets its AES key, and how the copies of
 * it are destroyed.
 *
 * Sources, in order: --key HEX (test and interop keys only: argv is visible
 * to every user in the process list, so the argv copy is overwritten as
 * soon as it is decoded), --key-file PATH, the TOKENVAULT_FPE_KEY
 * environment variable (overwritten in place after decoding). */
#ifndef TV_CLI_FPE_KEY_H
#define TV_CLI_FPE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/fpe_args.h"
#include "vault/util/status.h"

#define FPE_KEY_ENV "TOKENVAULT_FPE_KEY"
/* AES-256; AES-128 and AES-192 keys use the first 16 or 24 bytes. */
#define FPE_KEY_BYTES_MAX 32u
/* A hex key with surrounding whitespace is under 100 bytes; anything much
 * larger is the wrong file, and is not read into memory. */
#define FPE_KEY_FILE_BYTES_MAX 1024u

/* fpe_key_load decodes the key from the source |args| names into |out_key|
 * and its length (16, 24 or 32) into *out_key_len. Whatever the outcome,
 * the --key text in argv and the environment variable's text are
 * overwritten with zeros, and no other copy is left behind; the caller
 * wipes |out_key| when done. On failure |diag| names the problem (never
 * the key's characters) and *out_key_len is 0. */
tv_status fpe_key_load(uint8_t out_key[FPE_KEY_BYTES_MAX], size_t *out_key_len,
                       const fpe_args *args, cli_diag *diag);

#endif
