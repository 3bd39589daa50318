/* `tokenvault fpe` run in-process: NIST SP 800-38G FF1 samples through the
 * command in both modes and with every implementation, the key sources,
 * and every bad-input error with its exact message and exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/c/cli/cmd_fpe.h"
#include "tests/unit/crypto/ff1_test_util.h"
#include "vault/crypto/ff1.h"

#define KEY128 "2B7E151628AED2A6ABF7158809CF4F3C"
#define KEY192 "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F"
#define KEY256 "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94"
#define TWEAK_DIGITS "39383736353433323130"
#define TWEAK_ALNUM "3737373770717273373737"
#define ALNUM36 "0123456789abcdefghijklmnopqrstuvwxyz"
#define ALNUM62 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define ARGS_MAX 24

typedef struct nist_sample {
  int number;
  const char *key;
  const char *radix;
  const char *tweak;
  const char *plaintext;
  const char *ciphertext;
} nist_sample;

/* NIST SP 800-38G, "FF1 samples" (AES-128: 1-3, AES-192: 4-6, AES-256: 7-9);
 * the same values were cross-checked against Bouncy Castle 1.72. */
static const nist_sample nist_samples[] = {
    {1, KEY128, "10", "", "0123456789", "2433477484"},
    {2, KEY128, "10", TWEAK_DIGITS, "0123456789", "6124200773"},
    {3, KEY128, "36", TWEAK_ALNUM, "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
    {4, KEY192, "10", "", "0123456789", "2830668132"},
    {5, KEY192, "10", TWEAK_DIGITS, "0123456789", "2496655549"},
    {6, KEY192, "36", TWEAK_ALNUM, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
    {7, KEY256, "10", "", "0123456789", "6657667009"},
    {8, KEY256, "10", TWEAK_DIGITS, "0123456789", "1001623463"},
    {9, KEY256, "36", TWEAK_ALNUM, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
};
#define NIST_SAMPLES_COUNT (sizeof nist_samples / sizeof nist_samples[0])

typedef struct run_result {
  int status;
  char *out;
  size_t out_len;
  char *err;
  size_t err_len;
} run_result;

static void run_result_free(run_result *r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof *r);
}

/* Runs fpe_cmd_main with a writable copy of |args| (NULL-terminated, "fpe"
 * prepended) and |in_len| bytes of stdin. If |argv_out| is not NULL the
 * argv copy is handed back (caller frees) so tests can inspect it. */
static run_result run_fpe_argv(const char *in_text, size_t in_len, const char *const *args,
                               char ***argv_out) {
  char **argv = calloc(ARGS_MAX + 1, sizeof *argv);
  assert_non_null(argv);
  int argc = 0;
  argv[argc++] = strdup("fpe");
  for (; args[argc - 1] != NULL; argc++) {
    assert_true(argc < ARGS_MAX);
    argv[argc] = strdup(args[argc - 1]);
  }
  static const char empty[1] = "";
  FILE *in = fmemopen((void *)(uintptr_t)(in_text != NULL ? in_text : empty), in_len, "r");
  assert_non_null(in);
  run_result r;
  memset(&r, 0, sizeof r);
  FILE *out = open_memstream(&r.out, &r.out_len);
  FILE *err = open_memstream(&r.err, &r.err_len);
  assert_non_null(out);
  assert_non_null(err);
  r.status = fpe_cmd_main(argc, argv, in, out, err);
  fclose(in);
  fclose(out);
  fclose(err);
  if (argv_out != NULL) {
    *argv_out = argv;
  } else {
    for (int i = 0; i < argc; i++) {
      free(argv[i]);
    }
    free(argv);
  }
  return r;
}

static run_result run_fpe(const char *in_text, const char *const *args) {
  return run_fpe_argv(in_text, in_text != NULL ? strlen(in_text) : 0, args, NULL);
}

static void free_argv(char **argv) {
  for (int i = 0; argv[i] != NULL; i++) {
    free(argv[i]);
  }
  free(argv);
}

/* Asserts a usage failure: exit 2, no output, exactly |line| on stderr. */
static void assert_fails(const run_result *r, const char *line) {
  assert_int_equal(r->status, 2);
  char expected[512];
  snprintf(expected, sizeof expected, "tokenvault fpe: %s\n", line);
  assert_string_equal(r->err, expected);
}

static const char *const impl_names[] = {"openssl", "aesni", "vaes", "auto"};

/* An implementation this CPU lacks (CPUID) is skipped and the program
 * then exits 77; the library must agree with CPUID (ff1_test_util.h). */
static int impl_usable(const char *name) {
  if (strcmp(name, "aesni") == 0) {
    return test_impl_usable(FF1_IMPL_AESNI);
  }
  if (strcmp(name, "vaes") == 0) {
    return test_impl_usable(FF1_IMPL_VAES);
  }
  return 1;
}

static void test_nist_samples_as_arguments(void **state) {
  (void)state;
  for (size_t s = 0; s < NIST_SAMPLES_COUNT; s++) {
    const nist_sample *n = &nist_samples[s];
    for (size_t i = 0; i < sizeof impl_names / sizeof impl_names[0]; i++) {
      if (!impl_usable(impl_names[i])) {
        continue;
      }
      const char *enc[] = {"encrypt", "--key", n->key, "--tweak", n->tweak, "--radix", n->radix,
                           "--impl", impl_names[i], n->plaintext, NULL};
      run_result r = run_fpe(NULL, enc);
      char expected[64];
      snprintf(expected, sizeof expected, "%s\n", n->ciphertext);
      assert_int_equal(r.status, 0);
      assert_string_equal(r.out, expected);
      assert_int_equal(r.err_len, 0);
      run_result_free(&r);

      const char *dec[] = {"decrypt", "--key", n->key, "--tweak", n->tweak, "--radix", n->radix,
                           "--impl", impl_names[i], n->ciphertext, NULL};
      r = run_fpe(NULL, dec);
      snprintf(expected, sizeof expected, "%s\n", n->plaintext);
      assert_int_equal(r.status, 0);
      assert_string_equal(r.out, expected);
      run_result_free(&r);
    }
  }
}

/* The same samples through stdin, several per run, with LF and CRLF lines
 * and a last line without a newline. */
static void test_nist_samples_through_stdin(void **state) {
  (void)state;
  for (size_t s = 0; s < NIST_SAMPLES_COUNT; s++) {
    const nist_sample *n = &nist_samples[s];
    char in[256];
    char expected[256];
    snprintf(in, sizeof in, "%s\n%s\r\n%s", n->plaintext, n->plaintext, n->plaintext);
    snprintf(expected, sizeof expected, "%s\n%s\r\n%s\n", n->ciphertext, n->ciphertext,
             n->ciphertext);
    const char *enc[] = {"encrypt", "--key", n->key, "--tweak", n->tweak, "--radix", n->radix, NULL};
    run_result r = run_fpe(in, enc);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, expected);
    assert_int_equal(r.err_len, 0);
    run_result_free(&r);
  }
}

static void test_empty_stdin_gives_empty_output(void **state) {
  (void)state;
  const char *args[] = {"encrypt", "--key", KEY128, "--radix", "10", NULL};
  run_result r = run_fpe("", args);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out_len, 0);
  assert_int_equal(r.err_len, 0);
  run_result_free(&r);
}

/* Fills |out| with |count| random lines over |alphabet| (lengths
 * length_min..length_min+span) and returns the text length. */
static size_t random_lines(char *out, size_t out_max, const char *alphabet, size_t count,
                           size_t length_min, size_t span, unsigned seed) {
  srand(seed);
  size_t pos = 0;
  size_t radix = strlen(alphabet);
  for (size_t i = 0; i < count; i++) {
    size_t len = length_min + (size_t)rand() % (span + 1);
    assert_true(pos + len + 1 < out_max);
    for (size_t j = 0; j < len; j++) {
      out[pos++] = alphabet[(size_t)rand() % radix];
    }
    out[pos++] = '\n';
  }
  out[pos] = '\0';
  return pos;
}

static void test_round_trip_through_stdin(void **state) {
  (void)state;
  size_t cap = 400000;
  char *plain = malloc(cap);
  assert_non_null(plain);
  size_t len = random_lines(plain, cap, ALNUM62, 5000, 4, 60, 7);
  const char *enc[] = {"encrypt", "--key", KEY256, "--tweak", "00ff", "--alphabet", ALNUM62, NULL};
  run_result e = run_fpe_argv(plain, len, enc, NULL);
  assert_int_equal(e.status, 0);
  assert_int_equal(e.out_len, len);
  assert_memory_not_equal(e.out, plain, len);
  const char *dec[] = {"decrypt", "--key", KEY256, "--tweak", "00ff", "--alphabet", ALNUM62, NULL};
  run_result d = run_fpe_argv(e.out, e.out_len, dec, NULL);
  assert_int_equal(d.status, 0);
  assert_int_equal(d.out_len, len);
  assert_memory_equal(d.out, plain, len);
  run_result_free(&e);
  run_result_free(&d);
  free(plain);
}

/* Arguments and stdin give the same results, and every implementation
 * gives the same results. */
static void test_modes_and_impls_agree(void **state) {
  (void)state;
  char lines[4096];
  size_t len = random_lines(lines, sizeof lines, "0123456789", 40, 6, 30, 11);
  const char *base[] = {"encrypt", "--key", KEY192, "--radix", "10", "--impl", "openssl", NULL};
  run_result reference = run_fpe_argv(lines, len, base, NULL);
  assert_int_equal(reference.status, 0);
  assert_int_equal(reference.out_len, len);

  const char *args[ARGS_MAX] = {"encrypt", "--key", KEY192, "--radix", "10", "--"};
  size_t argc = 6;
  char *copy = strdup(lines);
  for (char *tok = strtok(copy, "\n"); tok != NULL; tok = strtok(NULL, "\n")) {
    if (argc + 1 < ARGS_MAX) {
      args[argc++] = tok;
    }
  }
  args[argc] = NULL;
  run_result as_args = run_fpe(NULL, args);
  assert_int_equal(as_args.status, 0);
  /* The first argc - 6 results equal the first lines of the stdin run. */
  assert_true(as_args.out_len > 0 && as_args.out_len <= reference.out_len);
  assert_memory_equal(as_args.out, reference.out, as_args.out_len);
  free(copy);
  run_result_free(&as_args);

  for (size_t i = 0; i < sizeof impl_names / sizeof impl_names[0]; i++) {
    if (!impl_usable(impl_names[i])) {
      continue;
    }
    const char *other[] = {"encrypt", "--key", KEY192, "--radix", "10", "--impl", impl_names[i], NULL};
    run_result r = run_fpe_argv(lines, len, other, NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.out_len, reference.out_len);
    assert_memory_equal(r.out, reference.out, len);
    run_result_free(&r);
  }
  run_result_free(&reference);
}

static void test_key_file_and_environment(void **state) {
  (void)state;
  char path[] = "/tmp/tv_test_key_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char text[] = "  " KEY128 "\r\n";
  assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
  close(fd);
  const char *from_file[] = {"encrypt", "--key-file", path, "--radix", "10", "0123456789", NULL};
  run_result r = run_fpe(NULL, from_file);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "2433477484\n");
  run_result_free(&r);
  unlink(path);

  const char *missing_file[] = {"encrypt", "--key-file", path, "--radix", "10", "0123456789", NULL};
  r = run_fpe(NULL, missing_file);
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "--key-file: cannot open"));
  run_result_free(&r);

  setenv("TOKENVAULT_FPE_KEY", KEY256, 1);
  const char *from_env[] = {"encrypt", "--radix", "10", "0123456789", NULL};
  r = run_fpe(NULL, from_env);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "6657667009\n");
  run_result_free(&r);
  /* The environment's copy is overwritten once decoded. */
  const char *left = getenv("TOKENVAULT_FPE_KEY");
  assert_true(left == NULL || left[0] == '\0');
  unsetenv("TOKENVAULT_FPE_KEY");

  r = run_fpe(NULL, from_env);
  assert_fails(&r, "no key: use --key-file PATH or TOKENVAULT_FPE_KEY (--key HEX only for test keys)");
  run_result_free(&r);
}

/* The key text in argv is overwritten, whether the run succeeds or not. */
static void test_key_is_wiped_from_argv(void **state) {
  (void)state;
  const char *ok[] = {"encrypt", "--key", KEY128, "--radix", "10", "0123456789", NULL};
  const char *bad[] = {"encrypt", "--radix", "10", "--key=" KEY128, "--bogus", NULL};
  const char *twice[] = {"encrypt", "--key", KEY256, "--key", KEY128, NULL};
  const char *const *cases[] = {ok, bad, twice};
  const size_t key_index[] = {3, 4, 5}; /* argv[0] is "fpe" */
  const size_t key_offset[] = {0, 6, 0};
  for (size_t c = 0; c < 3; c++) {
    char **argv = NULL;
    run_result r = run_fpe_argv(NULL, 0, cases[c], &argv);
    assert_int_equal(r.status, c == 0 ? 0 : 2);
    const char *key_text = argv[key_index[c]] + key_offset[c];
    for (size_t i = 0; i < strlen(KEY128); i++) {
      assert_int_equal(key_text[i], 0);
    }
    free_argv(argv);
    run_result_free(&r);
  }
}

static void test_key_errors(void **state) {
  (void)state;
  const char *short_key[] = {"encrypt", "--key", "2B7E151628AED2A6ABF7158809CF4F", "--radix", "10", "0123456789", NULL};
  run_result r = run_fpe(NULL, short_key);
  assert_fails(&r, "--key: key must be 32, 48 or 64 hex digits (AES-128/192/256), got 30");
  run_result_free(&r);

  const char *bad_hex[] = {"encrypt", "--key", "2B7g151628AED2A6ABF7158809CF4F3C", "--radix", "10", "0123456789", NULL};
  r = run_fpe(NULL, bad_hex);
  assert_fails(&r, "--key: key is not hex (bad digit at position 4)");
  run_result_free(&r);

  const char *both[] = {"encrypt", "--key", KEY128, "--key-file", "x", "--radix", "10", "0123456789", NULL};
  r = run_fpe(NULL, both);
  assert_fails(&r, "give only one of --key and --key-file");
  run_result_free(&r);
}

static void test_tweak_errors(void **state) {
  (void)state;
  const char *bad_hex[] = {"encrypt", "--key", KEY128, "--tweak", "39x8", "--radix", "10", "0123456789", NULL};
  run_result r = run_fpe(NULL, bad_hex);
  assert_fails(&r, "--tweak: not hex (bad digit at position 3)");
  run_result_free(&r);

  const char *odd[] = {"encrypt", "--key", KEY128, "--tweak", "393", "--radix", "10", "0123456789", NULL};
  r = run_fpe(NULL, odd);
  assert_fails(&r, "--tweak: odd number of hex digits");
  run_result_free(&r);

  char long_tweak[2 * FF1_TWEAK_MAX + 3];
  memset(long_tweak, 'a', sizeof long_tweak - 1);
  long_tweak[sizeof long_tweak - 1] = '\0';
  const char *too_long[] = {"encrypt", "--key", KEY128, "--tweak", long_tweak, "--radix", "10", "0123456789", NULL};
  r = run_fpe(NULL, too_long);
  assert_fails(&r, "--tweak: at most 256 bytes (512 hex digits)");
  run_result_free(&r);

  /* The longest tweak is accepted. */
  long_tweak[2 * FF1_TWEAK_MAX] = '\0';
  const char *longest[] = {"encrypt", "--key", KEY128, "--tweak", long_tweak, "--radix", "10", "0123456789", NULL};
  r = run_fpe(NULL, longest);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out_len, 11);
  run_result_free(&r);
}

/* Bad values on stdin: the message names the line, results of the lines
 * before it are written, nothing after it. */
static void test_stdin_value_errors(void **state) {
  (void)state;
  const char *args[] = {"encrypt", "--key", KEY128, "--radix", "10", NULL};
  static const struct {
    const char *in;
    size_t good_lines;
    const char *message;
  } cases[] = {
      {"0123456789\n0123456789\n01234a6789\n0123456789\n", 2,
       "line 3: character 'a' at position 6 is not in the alphabet"},
      {"0123456789\r\n012345\t789\r\n", 1, "line 2: character byte 0x09 at position 7 is not in the alphabet"},
      {"0123456789\n12345\n", 1,
       "line 2: value too short: 5 characters, radix 10 needs at least 6 (radix^length >= 1000000)"},
      {"0123456789\n\n0123456789\n", 1, "line 2: empty value"},
      {"\r\n", 0, "line 1: empty value"},
      {"0123456789\n0123456789\n\n", 2, "line 3: empty value"},
      {"012345 6789\n", 0, "line 1: character byte 0x20 at position 7 is not in the alphabet"},
      {"0123456789\r\r\n", 0, "line 1: character byte 0x0d at position 11 is not in the alphabet"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    run_result r = run_fpe(cases[c].in, args);
    assert_fails(&r, cases[c].message);
    size_t lines = 0;
    for (size_t i = 0; i < r.out_len; i++) {
      lines += r.out[i] == '\n';
    }
    assert_int_equal(lines, cases[c].good_lines);
    run_result_free(&r);
  }
}

/* Lines over FF1_LENGTH_MAX: with a newline, at the end of input, and far
 * longer than the read buffer. The longest allowed line still works. */
static void test_long_lines(void **state) {
  (void)state;
  const char *args[] = {"encrypt", "--key", KEY128, "--radix", "10", NULL};
  size_t sizes[] = {FF1_LENGTH_MAX + 1, 3u << 20};
  for (size_t s = 0; s < 2; s++) {
    for (int with_newline = 0; with_newline < 2; with_newline++) {
      size_t len = sizes[s];
      char *in = malloc(len + 16);
      assert_non_null(in);
      memcpy(in, "0123456789\n", 11);
      memset(in + 11, '7', len);
      size_t total = 11 + len;
      if (with_newline) {
        in[total++] = '\n';
      }
      run_result r = run_fpe_argv(in, total, args, NULL);
      assert_fails(&r, "line 2: value too long: more than 4096 characters");
      assert_string_equal(r.out, "2433477484\n");
      run_result_free(&r);
      free(in);
    }
  }
  char *longest = malloc(FF1_LENGTH_MAX + 2);
  assert_non_null(longest);
  memset(longest, '3', FF1_LENGTH_MAX);
  memcpy(longest + FF1_LENGTH_MAX, "\r\n", 2);
  run_result r = run_fpe_argv(longest, FF1_LENGTH_MAX + 2, args, NULL);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.out_len, FF1_LENGTH_MAX + 2);
  assert_memory_equal(r.out + FF1_LENGTH_MAX, "\r\n", 2);
  run_result_free(&r);
  free(longest);
}

static void test_argument_value_errors(void **state) {
  (void)state;
  const char *bad_char[] = {"encrypt", "--key", KEY128, "--radix", "10", "0123456789", "98765x4321", NULL};
  run_result r = run_fpe(NULL, bad_char);
  assert_fails(&r, "value 2: character 'x' at position 6 is not in the alphabet");
  assert_int_equal(r.out_len, 0); /* nothing written when any value is bad */
  run_result_free(&r);

  const char *too_short[] = {"encrypt", "--key", KEY128, "--alphabet", ALNUM62, "abc", NULL};
  r = run_fpe(NULL, too_short);
  assert_fails(&r, "value 1: value too short: 3 characters, radix 62 needs at least 4 (radix^length >= 1000000)");
  run_result_free(&r);

  char too_long[FF1_LENGTH_MAX + 2];
  memset(too_long, '1', sizeof too_long - 1);
  too_long[sizeof too_long - 1] = '\0';
  const char *long_args[] = {"decrypt", "--key", KEY128, "--radix", "2", too_long, NULL};
  r = run_fpe(NULL, long_args);
  assert_fails(&r, "value 1: value too long: more than 4096 characters");
  run_result_free(&r);
}

static void test_usage_errors(void **state) {
  (void)state;
  static const struct {
    const char *args[10];
    const char *message;
  } cases[] = {
      {{"--key", KEY128, "--radix", "10", NULL}, "missing mode: 'encrypt' or 'decrypt' (see --help)"},
      {{"scramble", "--key", KEY128, NULL}, "unknown mode 'scramble': expected 'encrypt' or 'decrypt'"},
      {{"encrypt", "--key", KEY128, "--colour", "red", NULL}, "unknown option '--colour' (see --help)"},
      {{"encrypt", "--radix", "10", "--key", NULL}, "--key needs a value"},
      {{"encrypt", "--key", KEY128, "123456", NULL}, "give --radix N or --alphabet CHARS"},
      {{"encrypt", "--key", KEY128, "--radix", "37", "123456", NULL},
       "--radix 37 needs --alphabet: without it the radix is at most 36"},
      {{"encrypt", "--key", KEY128, "--radix", "1", NULL},
       "--radix must be a number from 2 to 36 (256 with --alphabet)"},
      {{"encrypt", "--key", KEY128, "--radix", "10x", NULL},
       "--radix must be a number from 2 to 36 (256 with --alphabet)"},
      {{"encrypt", "--key", KEY128, "--radix", "12", "--alphabet", "0123456789", NULL},
       "--radix 12 does not match the 10 characters of --alphabet"},
      {{"encrypt", "--key", KEY128, "--alphabet", "abca", NULL},
       "--alphabet: alphabet has a repeated character"},
      {{"encrypt", "--key", KEY128, "--alphabet", "a", NULL},
       "--alphabet: alphabet must have between 2 and 256 characters"},
      {{"encrypt", "--key", KEY128, "--alphabet", "ab\ncd", NULL},
       "--alphabet must not contain CR or LF"},
      {{"encrypt", "--key", KEY128, "--radix", "10", "--impl", "fast", NULL},
       "--impl must be auto, aesni, vaes or openssl"},
      {{"encrypt", "--key", KEY128, "--radix", "10", "--radix", "10", NULL}, "--radix given more than once"},
      {{"encrypt", "--help=yes", NULL}, "--help takes no value"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    run_result r = run_fpe(NULL, cases[c].args);
    assert_fails(&r, cases[c].message);
    assert_int_equal(r.out_len, 0);
    run_result_free(&r);
  }
}

static void test_options_forms(void **state) {
  (void)state;
  /* --opt=value, options after values, "--" before a value that looks
   * like an option. */
  const char *args[] = {"--radix=36", "encrypt", "--key=" KEY128, "--", "-123456789", NULL};
  run_result r = run_fpe(NULL, args);
  assert_fails(&r, "value 1: character '-' at position 1 is not in the alphabet");
  run_result_free(&r);
  const char *ok[] = {"encrypt", "0123456789", "--tweak=", "--key=" KEY128, "--radix=10", NULL};
  r = run_fpe(NULL, ok);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "2433477484\n");
  run_result_free(&r);
}

static void test_help(void **state) {
  (void)state;
  const char *args[] = {"--help", NULL};
  run_result r = run_fpe(NULL, args);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "usage: tokenvault fpe encrypt|decrypt"));
  assert_non_null(strstr(r.out, "Exit status"));
  assert_int_equal(r.err_len, 0);
  run_result_free(&r);
  const char *args2[] = {"decrypt", "-h", "--radix", "10", NULL};
  r = run_fpe(NULL, args2);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "usage:"));
  run_result_free(&r);
}

/* A write failure is exit 1 (not a usage problem) and says so. */
static void test_write_error_is_exit_1(void **state) {
  (void)state;
  FILE *in = fmemopen((void *)(uintptr_t)"0123456789\n", 11, "r");
  FILE *out = fopen("/dev/null", "r"); /* not writable */
  char *err_text = NULL;
  size_t err_len = 0;
  FILE *err = open_memstream(&err_text, &err_len);
  assert_non_null(in);
  assert_non_null(out);
  assert_non_null(err);
  char *argv[] = {strdup("fpe"), strdup("encrypt"), strdup("--key"), strdup(KEY128),
                  strdup("--radix"), strdup("10"), NULL};
  int status = fpe_cmd_main(6, argv, in, out, err);
  fclose(in);
  fclose(out);
  fclose(err);
  assert_int_equal(status, 1);
  assert_non_null(strstr(err_text, "tokenvault fpe: cannot write standard output"));
  for (int i = 0; i < 6; i++) {
    free(argv[i]);
  }
  free(err_text);
}

/* With a real file descriptor stdin is read with read(2): same results. */
static void test_stdin_from_file_descriptor(void **state) {
  (void)state;
  FILE *in = tmpfile();
  assert_non_null(in);
  char lines[8192];
  size_t len = random_lines(lines, sizeof lines, ALNUM36, 300, 4, 12, 3);
  assert_int_equal(fwrite(lines, 1, len, in), len);
  fflush(in);
  rewind(in);
  char *out_text = NULL;
  size_t out_len = 0;
  FILE *out = open_memstream(&out_text, &out_len);
  FILE *err = fopen("/dev/null", "w");
  char *argv[] = {strdup("fpe"), strdup("encrypt"), strdup("--key"), strdup(KEY128),
                  strdup("--radix"), strdup("36"), NULL};
  int status = fpe_cmd_main(6, argv, in, out, err);
  fclose(in);
  fclose(out);
  fclose(err);
  assert_int_equal(status, 0);
  const char *args[] = {"encrypt", "--key", KEY128, "--radix", "36", NULL};
  run_result r = run_fpe_argv(lines, len, args, NULL);
  assert_int_equal(r.status, 0);
  assert_int_equal(out_len, r.out_len);
  assert_memory_equal(out_text, r.out, out_len);
  run_result_free(&r);
  for (int i = 0; i < 6; i++) {
    free(argv[i]);
  }
  free(out_text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nist_samples_as_arguments),
      cmocka_unit_test(test_nist_samples_through_stdin),
      cmocka_unit_test(test_empty_stdin_gives_empty_output),
      cmocka_unit_test(test_round_trip_through_stdin),
      cmocka_unit_test(test_modes_and_impls_agree),
      cmocka_unit_test(test_key_file_and_environment),
      cmocka_unit_test(test_key_is_wiped_from_argv),
      cmocka_unit_test(test_key_errors),
      cmocka_unit_test(test_tweak_errors),
      cmocka_unit_test(test_stdin_value_errors),
      cmocka_unit_test(test_long_lines),
      cmocka_unit_test(test_argument_value_errors),
      cmocka_unit_test(test_usage_errors),
      cmocka_unit_test(test_options_forms),
      cmocka_unit_test(test_help),
      cmocka_unit_test(test_write_error_is_exit_1),
      cmocka_unit_test(test_stdin_from_file_descriptor),
  };
  unsetenv("TOKENVAULT_FPE_KEY");
  return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
