#include "client/c/cli/fpe_key.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_hex.h"
#include "vault/util/secure_mem.h"

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decodes |len| characters of |text| (surrounding whitespace ignored, as
 * editors and `echo` add a newline) into a 16/24/32-byte key. */
static tv_status key_decode(uint8_t out_key[FPE_KEY_BYTES_MAX], size_t *out_key_len,
                            const char *text, size_t len, const char *source, cli_diag *diag) {
  while (len > 0 && is_space(text[0])) {
    text++;
    len--;
  }
  while (len > 0 && is_space(text[len - 1])) {
    len--;
  }
  if (len != 32 && len != 48 && len != 64) {
    return cli_fail(diag, TV_E_FF1_KEY_LENGTH,
                    "%s: key must be 32, 48 or 64 hex digits (AES-128/192/256), got %zu", source,
                    len);
  }
  size_t bad_index = 0;
  if (cli_hex_decode(out_key, FPE_KEY_BYTES_MAX, text, len, &bad_index) != TV_OK) {
    tv_wipe(out_key, FPE_KEY_BYTES_MAX);
    return cli_fail(diag, TV_E_INVALID_ARGUMENT,
                    "%s: key is not hex (bad digit at position %zu)", source, bad_index + 1);
  }
  *out_key_len = len / 2;
  return TV_OK;
}

static tv_status key_from_file(uint8_t out_key[FPE_KEY_BYTES_MAX], size_t *out_key_len,
                               const char *path, cli_diag *diag) {
  char quoted[CLI_QUOTE_MAX];
  cli_quote(quoted, sizeof quoted, path);
  FILE *file = fopen(path, "rbe");
  if (file == NULL) {
    return cli_fail(diag, TV_E_INVALID_ARGUMENT, "--key-file: cannot open '%s': %s", quoted,
                    strerror(errno));
  }
  /* Unbuffered, so the key's bytes are not left in a stdio buffer. */
  setvbuf(file, NULL, _IONBF, 0);
  char text[FPE_KEY_FILE_BYTES_MAX + 1];
  size_t len = fread(text, 1, sizeof text, file);
  int read_failed = ferror(file);
  (void)fclose(file);
  tv_status status;
  if (read_failed) {
    status = cli_fail(diag, TV_E_IO, "--key-file: cannot read '%s'", quoted);
  } else if (len > FPE_KEY_FILE_BYTES_MAX) {
    status = cli_fail(diag, TV_E_FF1_KEY_LENGTH, "--key-file: '%s' is too large for a hex key",
                      quoted);
  } else {
    status = key_decode(out_key, out_key_len, text, len, "--key-file", diag);
  }
  tv_wipe(text, sizeof text);
  return status;
}

tv_status fpe_key_load(uint8_t out_key[FPE_KEY_BYTES_MAX], size_t *out_key_len,
                       const fpe_args *args, cli_diag *diag) {
  assert(out_key != NULL && out_key_len != NULL && args != NULL);
  *out_key_len = 0;
  char *env = getenv(FPE_KEY_ENV);
  tv_status status;
  if (args->key_hex != NULL && args->key_file != NULL) {
    status = cli_fail(diag, TV_E_INVALID_ARGUMENT, "give only one of --key and --key-file");
  } else if (args->key_hex != NULL) {
    status = key_decode(out_key, out_key_len, args->key_hex, strlen(args->key_hex), "--key", diag);
  } else if (args->key_file != NULL) {
    status = key_from_file(out_key, out_key_len, args->key_file, diag);
  } else if (env != NULL && env[0] != '\0') {
    status = key_decode(out_key, out_key_len, env, strlen(env), FPE_KEY_ENV, diag);
  } else {
    status = cli_fail(diag, TV_E_INVALID_ARGUMENT,
                      "no key: use --key-file PATH or " FPE_KEY_ENV " (--key HEX only for test keys)");
  }
  /* The process list shows argv to every user, and /proc/PID/environ to
   * the owner: overwrite both copies now that the key is decoded. */
  if (args->key_hex != NULL) {
    tv_wipe(args->key_hex, strlen(args->key_hex));
  }
  if (env != NULL) {
    tv_wipe(env, strlen(env));
  }
  if (status != TV_OK) {
    tv_wipe(out_key, FPE_KEY_BYTES_MAX);
    *out_key_len = 0;
  }
  return status;
}
