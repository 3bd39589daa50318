/* libFuzzer target for the input handling of `tokenvault fpe`.
 *
 * Input layout: byte 0 picks the options, byte 1 the tweak length; the
 * rest is stdin (structured mode) or, when byte 0 has its top bit set, up
 * to ARGS_MAX NUL-separated arguments, then "\0\0", then stdin (raw mode).
 *
 * Properties checked (abort on violation):
 *   - the exit status is 0 or 2, and a failure prints exactly one line
 *     starting with "tokenvault fpe: ";
 *   - structured mode, encrypt exited 0: decrypting its output gives back
 *     the input lines (a last line without a newline gets LF), and each
 *     result has the length of its line;
 *   - structured mode, encrypt exited 2: the results written (lines before
 *     the bad one) decrypt to a prefix of the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cmd_fpe.h"

#define ARGS_MAX 16u
#define TWEAK_BYTES_MAX 40u
#define ALPHABET_CUSTOM_MAX 80u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_output {
  int status;
  char *out;
  size_t out_len;
  char *err;
  size_t err_len;
} fuzz_output;

static void output_free(fuzz_output *o) {
  free(o->out);
  free(o->err);
}

/* Runs the command on a writable copy of |args| with |in_len| bytes of
 * stdin and checks the exit-status and stderr contract. */
static fuzz_output run(const char *const *args, size_t argc, const char *in, size_t in_len) {
  char *argv[ARGS_MAX + 16];
  for (size_t i = 0; i < argc; i++) {
    argv[i] = strdup(args[i]);
  }
  argv[argc] = NULL;
  static char empty[1];
  FILE *in_file = fmemopen(in_len > 0 ? (void *)(uintptr_t)in : empty, in_len, "r");
  fuzz_output o = {0, NULL, 0, NULL, 0};
  FILE *out = open_memstream(&o.out, &o.out_len);
  FILE *err = open_memstream(&o.err, &o.err_len);
  if (in_file == NULL || out == NULL || err == NULL) {
    abort();
  }
  o.status = fpe_cmd_main((int)argc, argv, in_file, out, err);
  fclose(in_file);
  fclose(out);
  fclose(err);
  for (size_t i = 0; i < argc; i++) {
    free(argv[i]);
  }
  if (o.status == 0 && o.err_len != 0) {
    abort();
  }
  if (o.status == 2) {
    const char *newline = memchr(o.err, '\n', o.err_len);
    if (strncmp(o.err, "tokenvault fpe: ", 16) != 0 || newline != o.err + o.err_len - 1) {
      abort();
    }
  }
  if (o.status != 0 && o.status != 2) {
    abort();
  }
  return o;
}

static const char *const alphabet_options[][2] = {
    {"--radix", "10"},
    {"--radix", "2"},
    {"--radix", "16"},
    {"--radix", "36"},
    {"--alphabet", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"},
    {"--alphabet", "abcdefghijklmnopqrstuvwxyz"},
    {"--radix", "7"},
};
#define ALPHABET_OPTIONS_COUNT (sizeof alphabet_options / sizeof alphabet_options[0])

static const char *const keys[] = {
    "000102030405060708090a0b0c0d0e0f",
    "000102030405060708090a0b0c0d0e0f1011121314151617",
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
};

/* The input with a newline added after a last line that lacks one: what
 * encrypt-then-decrypt must give back. */
static char *normalized(const char *in, size_t len, size_t *out_len) {
  char *copy = malloc(len + 1);
  if (copy == NULL) {
    abort();
  }
  memcpy(copy, in, len);
  *out_len = len;
  if (len > 0 && in[len - 1] != '\n') {
    copy[(*out_len)++] = '\n';
  }
  return copy;
}

static void fuzz_structured(uint8_t config, uint8_t tweak_len, const uint8_t *rest, size_t size) {
  char tweak_hex[2 * TWEAK_BYTES_MAX + 1];
  size_t tweak_bytes = tweak_len % (TWEAK_BYTES_MAX + 1);
  if (tweak_bytes > size) {
    tweak_bytes = size;
  }
  for (size_t i = 0; i < tweak_bytes; i++) {
    snprintf(tweak_hex + 2 * i, 3, "%02x", rest[i]);
  }
  tweak_hex[2 * tweak_bytes] = '\0';
  rest += tweak_bytes;
  size -= tweak_bytes;

  char custom[ALPHABET_CUSTOM_MAX + 1];
  const char *alphabet_option = alphabet_options[config % ALPHABET_OPTIONS_COUNT][0];
  const char *alphabet_value = alphabet_options[config % ALPHABET_OPTIONS_COUNT][1];
  if ((config & 0x40) != 0 && size > 0) {
    /* A fuzz-chosen alphabet: duplicates, CR/LF and NUL must be refused. */
    size_t n = 2 + rest[0] % (ALPHABET_CUSTOM_MAX - 1);
    n = n > size - 1 ? size - 1 : n;
    memcpy(custom, rest + 1, n);
    custom[n] = '\0';
    alphabet_option = "--alphabet";
    alphabet_value = custom;
    rest += 1 + n;
    size -= 1 + n;
  }
  const char *impl = (config & 0x08) != 0 ? "openssl" : "auto";
  const char *key = keys[(config >> 4) % 3];
  const char *enc[] = {"fpe", "encrypt", "--key", key, "--tweak", tweak_hex,
                       alphabet_option, alphabet_value, "--impl", impl};
  fuzz_output e = run(enc, 10, (const char *)rest, size);
  if (e.out_len > 0 || e.status == 0) {
    const char *dec[] = {"fpe", "decrypt", "--key", key, "--tweak", tweak_hex,
                         alphabet_option, alphabet_value, "--impl", impl};
    fuzz_output d = run(dec, 10, e.out, e.out_len);
    size_t expected_len = 0;
    char *expected = normalized((const char *)rest, size, &expected_len);
    if (d.status != 0 || d.out_len != e.out_len) {
      abort();
    }
    /* Success: everything comes back. Failure: what was written is the
     * transformation of the lines before the bad one. */
    if (e.status == 0 && (d.out_len != expected_len)) {
      abort();
    }
    if (d.out_len > expected_len || memcmp(d.out, expected, d.out_len) != 0) {
      abort();
    }
    free(expected);
    output_free(&d);
  }
  output_free(&e);
}

/* Raw mode: fuzz-chosen arguments. --key-file is neutralised so the target
 * never opens paths chosen by the fuzzer (a FIFO would hang it). */
static void fuzz_raw(const uint8_t *data, size_t size) {
  const char *args[ARGS_MAX + 1];
  char *copy = malloc(size + 1);
  if (copy == NULL) {
    abort();
  }
  memcpy(copy, data, size);
  copy[size] = '\0';
  size_t argc = 0;
  args[argc++] = "fpe";
  size_t pos = 0;
  while (argc < ARGS_MAX && pos < size && copy[pos] != '\0') {
    char *arg = copy + pos;
    pos += strlen(arg) + 1;
    if (strncmp(arg, "--key-f", 7) == 0) {
      arg = "--key-fuzz";
    }
    args[argc++] = arg;
  }
  pos = pos < size ? pos + 1 : size;
  fuzz_output o = run(args, argc, copy + pos, size - pos);
  output_free(&o);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int initialised;
  if (!initialised) {
    /* The key must come only from the arguments the fuzzer controls. */
    unsetenv("TOKENVAULT_FPE_KEY");
    initialised = 1;
  }
  if (size < 2) {
    return 0;
  }
  if ((data[0] & 0x80) != 0) {
    fuzz_raw(data + 1, size - 1);
  } else {
    fuzz_structured(data[0], data[1], data + 2, size - 2);
  }
  return 0;
}
