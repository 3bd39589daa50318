/* fpe_stream with small buffers and batches, so lines cross read-buffer
 * boundaries and batch boundaries; results must not depend on either. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/cli/fpe_stream.h"
#include "vault/format/alphabet.h"

typedef struct stream_fixture {
  ff1_key *key;
  tv_alphabet alphabet;
  fpe_job job;
} stream_fixture;

static int setup(void **state) {
  stream_fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  static const uint8_t key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                  0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
  assert_int_equal(ff1_key_new(&f->key, FF1_IMPL_AUTO, key, sizeof key), TV_OK);
  assert_int_equal(alphabet_init_radix(&f->alphabet, 10), TV_OK);
  f->job = (fpe_job){f->key, &f->alphabet, NULL, 0, FPE_DIRECTION_ENCRYPT, fpe_length_min(10)};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  stream_fixture *f = *state;
  ff1_key_free(f->key);
  free(f);
  return 0;
}

typedef struct stream_output {
  tv_status status;
  char *out;
  size_t out_len;
  cli_diag diag;
} stream_output;

static stream_output run_stream(const fpe_job *job, const char *in, size_t in_len,
                                size_t read_bytes, size_t batch_items) {
  static char empty[1];
  FILE *in_file = fmemopen(in_len > 0 ? (void *)(uintptr_t)in : empty, in_len, "r");
  stream_output o;
  memset(&o, 0, sizeof o);
  FILE *out = open_memstream(&o.out, &o.out_len);
  assert_non_null(in_file);
  assert_non_null(out);
  fpe_stream_limits limits = {read_bytes, batch_items};
  o.status = fpe_stream_run(job, &limits, in_file, out, &o.diag);
  fclose(in_file);
  fclose(out);
  return o;
}

/* Lines of 6..45 digits with LF or CRLF, every 6th 700..1000 digits so
 * that lines straddle the refills of a minimum-size buffer. (Long values
 * are kept few: FF1 cost grows with the square of the length.) */
static char *make_lines(size_t count, unsigned seed, size_t *out_len) {
  srand(seed);
  size_t cap = count * (FF1_LENGTH_MAX + 2) + 1;
  char *text = malloc(cap);
  assert_non_null(text);
  size_t pos = 0;
  for (size_t i = 0; i < count; i++) {
    size_t len = 6 + (size_t)rand() % 40;
    if (i % 6 == 0) {
      len = 700 + (size_t)rand() % 301;
    }
    for (size_t j = 0; j < len; j++) {
      text[pos++] = (char)('0' + rand() % 10);
    }
    if (i % 3 == 0) {
      text[pos++] = '\r';
    }
    text[pos++] = '\n';
  }
  *out_len = pos;
  return text;
}

static void test_results_do_not_depend_on_buffer_or_batch_size(void **state) {
  stream_fixture *f = *state;
  size_t len = 0;
  char *lines = make_lines(80, 5, &len);
  stream_output reference = run_stream(&f->job, lines, len, FPE_STREAM_READ_BYTES_DEFAULT, 1024);
  assert_int_equal(reference.status, TV_OK);
  assert_int_equal(reference.out_len, len);
  const size_t reads[] = {FPE_STREAM_READ_BYTES_MIN, FPE_STREAM_READ_BYTES_MIN + 1,
                          FPE_STREAM_READ_BYTES_MIN + 4099, 3 * FPE_STREAM_READ_BYTES_MIN};
  const size_t batches[] = {1, 2, 7, 64};
  for (size_t r = 0; r < sizeof reads / sizeof reads[0]; r++) {
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
      stream_output o = run_stream(&f->job, lines, len, reads[r], batches[b]);
      assert_int_equal(o.status, TV_OK);
      assert_int_equal(o.out_len, reference.out_len);
      assert_memory_equal(o.out, reference.out, o.out_len);
      free(o.out);
    }
  }
  /* And they decrypt back to the input, CRLFs included. */
  fpe_job decrypt = f->job;
  decrypt.direction = FPE_DIRECTION_DECRYPT;
  stream_output back = run_stream(&decrypt, reference.out, reference.out_len,
                                  FPE_STREAM_READ_BYTES_MIN, 3);
  assert_int_equal(back.status, TV_OK);
  assert_int_equal(back.out_len, len);
  assert_memory_equal(back.out, lines, len);
  free(back.out);
  free(reference.out);
  free(lines);
}

/* An error deep in the input, after several refills and batches: the
 * line number is exact and every earlier line has its result. */
static void test_error_line_number_after_refills(void **state) {
  stream_fixture *f = *state;
  size_t len = 0;
  char *lines = make_lines(50, 9, &len);
  /* Corrupt the first character of line 41. */
  size_t pos = 0;
  for (int line = 1; line < 41; line++) {
    pos = (size_t)((char *)memchr(lines + pos, '\n', len - pos) - lines) + 1;
  }
  lines[pos] = 'x';
  stream_output o = run_stream(&f->job, lines, len, FPE_STREAM_READ_BYTES_MIN, 4);
  assert_int_equal(o.status, TV_E_ALPHABET_CHAR);
  assert_string_equal(o.diag.text, "line 41: character 'x' at position 1 is not in the alphabet");
  assert_int_equal(o.out_len, pos);
  free(o.out);
  free(lines);
}

/* A line longer than the read buffer is reported as too long without
 * reading it whole. */
static void test_line_longer_than_buffer(void **state) {
  stream_fixture *f = *state;
  size_t len = 5 * FPE_STREAM_READ_BYTES_MIN;
  char *in = malloc(len);
  assert_non_null(in);
  memcpy(in, "123456\n", 7);
  memset(in + 7, '5', len - 7);
  stream_output o = run_stream(&f->job, in, len, FPE_STREAM_READ_BYTES_MIN, 8);
  assert_int_equal(o.status, TV_E_FF1_TOO_LONG);
  assert_string_equal(o.diag.text, "line 2: value too long: more than 4096 characters");
  assert_int_equal(o.out_len, 7);
  free(o.out);
  free(in);
}

static void test_length_min(void **state) {
  (void)state;
  assert_int_equal(fpe_length_min(2), 20);   /* 2^19 < 10^6 <= 2^20 */
  assert_int_equal(fpe_length_min(10), 6);
  assert_int_equal(fpe_length_min(26), 5);   /* 26^4 = 456976 */
  assert_int_equal(fpe_length_min(36), 4);   /* 36^4 = 1679616 */
  assert_int_equal(fpe_length_min(62), 4);   /* 62^3 = 238328 */
  assert_int_equal(fpe_length_min(100), 3);  /* 100^3 = 10^6 exactly */
  assert_int_equal(fpe_length_min(256), 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_results_do_not_depend_on_buffer_or_batch_size, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_error_line_number_after_refills, setup, teardown),
      cmocka_unit_test_setup_teardown(test_line_longer_than_buffer, setup, teardown),
      cmocka_unit_test(test_length_min),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
