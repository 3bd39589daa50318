#include "client/c/cli/cmd_fpe.h"

#include <assert.h>
#include <string.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cli_hex.h"
#include "client/c/cli/fpe_args.h"
#include "client/c/cli/fpe_key.h"
#include "client/c/cli/fpe_stream.h"
#include "client/c/cli/fpe_value.h"
#include "vault/util/secure_mem.h"

static const char fpe_usage[] =
    "usage: tokenvault fpe encrypt|decrypt (--key-file PATH | --key HEX) [--tweak HEX]\n"
    "                      (--radix N | --alphabet CHARS) [--impl NAME]\n"
    "                      [VALUE ...]\n"
    "\n"
    "Plain NIST SP 800-38G FF1 with AES-128/192/256 (chosen by the key length).\n"
    "With VALUEs, prints one result per VALUE. Without, reads one value per line\n"
    "from stdin (LF or CRLF, kept in the output) and writes one result per line,\n"
    "in bulk; the first bad line stops the run after the results of the lines\n"
    "before it.\n"
    "\n"
    "  --key-file PATH   file holding the key as 32, 48 or 64 hex digits\n"
    "  --key HEX         the key on the command line; other users can see it in\n"
    "                    the process list, so use it for test keys only\n"
    "                    (" FPE_KEY_ENV " in the environment is the third way)\n"
    "  --tweak HEX       FF1 tweak, 0 to 256 bytes (default: empty)\n"
    "  --radix N         alphabet = the first N characters of 0-9a-z (N <= 36)\n"
    "  --alphabet CHARS  any 2 to 255 distinct bytes except CR and LF; the\n"
    "                    character at position i is numeral i\n"
    "  --impl NAME       FF1 implementation: auto (default: the fastest this CPU\n"
    "                    runs), aesni, vaes, openssl\n"
    "\n"
    "Values need radix^length >= 1,000,000 and at most 4096 characters.\n"
    "Exit status: 0 success, 1 I/O or system failure, 2 bad usage or bad input\n"
    "(one line on stderr names the problem and, for stdin, the line number).\n";

/* What a run needs besides the parsed arguments; wiped and released by
 * fpe_run_cleanup. */
typedef struct fpe_run {
  tv_alphabet alphabet;
  uint8_t tweak[FF1_TWEAK_MAX];
  size_t tweak_len;
  ff1_key *key;
} fpe_run;

static tv_status alphabet_from_args(tv_alphabet *out, const fpe_args *args, cli_diag *diag) {
  if (args->alphabet == NULL) {
    if (args->radix == 0) {
      return cli_fail(diag, TV_E_INVALID_ARGUMENT, "give --radix N or --alphabet CHARS");
    }
    if (args->radix > 36) {
      return cli_fail(diag, TV_E_FF1_RADIX,
                      "--radix %u needs --alphabet: without it the radix is at most 36",
                      args->radix);
    }
    return alphabet_init_radix(out, args->radix);
  }
  size_t len = strlen(args->alphabet);
  /* Results are written one per line, so a line break cannot be a numeral. */
  if (strpbrk(args->alphabet, "\r\n") != NULL) {
    return cli_fail(diag, TV_E_ALPHABET_CHAR, "--alphabet must not contain CR or LF");
  }
  tv_status status = alphabet_init(out, args->alphabet, len);
  if (status != TV_OK) {
    return cli_fail(diag, status, "--alphabet: %s", tv_status_message(status));
  }
  if (args->radix != 0 && args->radix != out->size) {
    return cli_fail(diag, TV_E_FF1_RADIX, "--radix %u does not match the %u characters of --alphabet",
                    args->radix, out->size);
  }
  return TV_OK;
}

static tv_status tweak_from_args(fpe_run *run, const fpe_args *args, cli_diag *diag) {
  run->tweak_len = 0;
  if (args->tweak_hex == NULL) {
    return TV_OK;
  }
  size_t hex_len = strlen(args->tweak_hex);
  if (hex_len > 2 * FF1_TWEAK_MAX) {
    return cli_fail(diag, TV_E_FF1_TWEAK_TOO_LONG, "--tweak: at most %u bytes (%u hex digits)",
                    FF1_TWEAK_MAX, 2 * FF1_TWEAK_MAX);
  }
  size_t bad_index = 0;
  if (cli_hex_decode(run->tweak, sizeof run->tweak, args->tweak_hex, hex_len, &bad_index) !=
      TV_OK) {
    if (bad_index == hex_len) {
      return cli_fail(diag, TV_E_INVALID_ARGUMENT, "--tweak: odd number of hex digits");
    }
    return cli_fail(diag, TV_E_INVALID_ARGUMENT, "--tweak: not hex (bad digit at position %zu)",
                    bad_index + 1);
  }
  run->tweak_len = hex_len / 2;
  return TV_OK;
}

static tv_status key_from_args(fpe_run *run, const fpe_args *args, cli_diag *diag) {
  uint8_t key_bytes[FPE_KEY_BYTES_MAX];
  size_t key_len = 0;
  TV_TRY(fpe_key_load(key_bytes, &key_len, args, diag));
  tv_status status = ff1_key_new(&run->key, args->impl, key_bytes, key_len);
  tv_wipe(key_bytes, sizeof key_bytes);
  if (status == TV_E_FF1_NO_AESNI) {
    return cli_fail(diag, status, "--impl %s: not supported by this CPU", ff1_impl_name(args->impl));
  }
  if (status != TV_OK) {
    return cli_fail(diag, status, "key: %s", tv_status_message(status));
  }
  return TV_OK;
}

/* Argument mode: every value is checked before any result is written, so
 * a bad value leaves no partial output. */
static tv_status run_values(const fpe_job *job, const fpe_args *args, FILE *out, cli_diag *diag) {
  uint8_t numerals[FF1_LENGTH_MAX];
  char text[FF1_LENGTH_MAX];
  for (size_t i = 0; i < args->values_count; i++) {
    fpe_where where = {"value", i + 1};
    TV_TRY(fpe_value_to_numerals(job, args->values[i], strlen(args->values[i]), numerals, where,
                                 diag));
  }
  tv_status status = TV_OK;
  for (size_t i = 0; i < args->values_count && status == TV_OK; i++) {
    fpe_where where = {"value", i + 1};
    size_t len = strlen(args->values[i]);
    status = fpe_value_to_numerals(job, args->values[i], len, numerals, where, diag);
    if (status == TV_OK) {
      status = fpe_value_transform(job, numerals, len, numerals, where, diag);
    }
    if (status == TV_OK) {
      status = alphabet_to_text(job->alphabet, numerals, len, text);
    }
    if (status == TV_OK && (fwrite(text, 1, len, out) != len || fputc('\n', out) == EOF)) {
      status = cli_fail(diag, TV_E_IO, "cannot write standard output");
    }
  }
  tv_wipe(numerals, sizeof numerals);
  tv_wipe(text, sizeof text);
  return status;
}

static tv_status fpe_execute(fpe_run *run, const fpe_args *args, FILE *in, FILE *out,
                             cli_diag *diag) {
  if (args->direction == FPE_DIRECTION_NONE) {
    return cli_fail(diag, TV_E_INVALID_ARGUMENT, "missing mode: 'encrypt' or 'decrypt' (see --help)");
  }
  TV_TRY(alphabet_from_args(&run->alphabet, args, diag));
  TV_TRY(tweak_from_args(run, args, diag));
  TV_TRY(key_from_args(run, args, diag));
  fpe_job job = {run->key,       &run->alphabet,  run->tweak,
                 run->tweak_len, args->direction, fpe_length_min(run->alphabet.size)};
  if (args->values_count > 0) {
    TV_TRY(run_values(&job, args, out, diag));
  } else {
    fpe_stream_limits limits = fpe_stream_limits_default();
    TV_TRY(fpe_stream_run(&job, &limits, in, out, diag));
  }
  if (fflush(out) != 0 || ferror(out)) {
    return cli_fail(diag, TV_E_IO, "cannot write standard output");
  }
  return TV_OK;
}

int fpe_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  assert(argc >= 1 && argv != NULL && in != NULL && out != NULL && err != NULL);
  cli_diag diag;
  cli_diag_clear(&diag);
  fpe_args args;
  tv_status status = fpe_args_parse(&args, argc, argv, &diag);
  if (status == TV_OK && args.help) {
    fputs(fpe_usage, out);
    fpe_args_cleanup(&args);
    return fflush(out) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
  }
  fpe_run run;
  memset(&run, 0, sizeof run);
  if (status == TV_OK) {
    status = fpe_execute(&run, &args, in, out, &diag);
  }
  if (status != TV_OK) {
    fprintf(err, "tokenvault fpe: %s\n", diag.text);
  }
  ff1_key_free(run.key);
  tv_wipe(&run, sizeof run);
  fpe_args_cleanup(&args);
  return cli_exit_code(status);
}
