/* bulk_csv: RFC 4180 records into a batch — raw bytes kept, target cells
 * decoded — and every way a record can be malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/cli/bulk_csv.h"

typedef struct fixture {
  FILE *file;
  bulk_in in;
  bulk_batch batch;
  bulk_csv_map map;
} fixture;

/* Reads |text| with column |target_col| as target 0 (namespace 0). */
static fixture *open_text(const char *text, size_t len, int target_col) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->file = fmemopen((void *)(uintptr_t)text, len, "rb");
  assert_non_null(f->file);
  f->in.file = f->file;
  f->in.buf = malloc(BULK_IN_BUFFER_BYTES);
  assert_non_null(f->in.buf);
  memset(f->map.target, 0xff, sizeof f->map.target);
  f->map.target[target_col] = 0;
  bulk_batch_reset(&f->batch, 1);
  return f;
}

static void close_fixture(fixture *f) {
  bulk_batch_cleanup(&f->batch);
  fclose(f->file);
  free(f->in.buf);
  free(f);
}

static const char *value_of(const fixture *f, size_t cell) {
  return f->batch.values + f->batch.cells[cell].val_off;
}

static void test_quoted_commas_quotes_newlines(void **state) {
  (void)state;
  static const char text[] = "1,\"a, b\",x\r\n2,\"say \"\"hi\"\"\",y\n3,\"two\nlines\",z";
  fixture *f = open_text(text, sizeof text - 1, 1);
  cli_diag diag;
  int eof = 0;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(bulk_csv_read(&f->in, &f->batch, &f->map, &eof, &diag), TV_OK);
    assert_false(eof);
  }
  assert_int_equal(bulk_csv_read(&f->in, &f->batch, &f->map, &eof, &diag), TV_OK);
  assert_true(eof);
  assert_int_equal(f->batch.rows, 3);
  assert_int_equal(f->batch.cells_count, 3);
  assert_string_equal(value_of(f, 0), "a, b");
  assert_string_equal(value_of(f, 1), "say \"hi\"");
  assert_string_equal(value_of(f, 2), "two\nlines");
  for (size_t i = 0; i < 3; i++) assert_true(f->batch.cells[i].quoted);
  /* The raw bytes are the input, unchanged, and the cell spans hold the
   * quotes. */
  assert_int_equal(f->batch.raw_len, sizeof text - 1);
  assert_memory_equal(f->batch.raw, text, sizeof text - 1);
  assert_memory_equal(f->batch.raw + f->batch.cells[0].raw_off, "\"a, b\"", 6);
  assert_int_equal(f->batch.row_ends[0], strlen("1,\"a, b\",x\r\n"));
  close_fixture(f);
}

static void test_empty_and_missing_cells(void **state) {
  (void)state;
  static const char text[] = "1,,x\n2\n\n";
  fixture *f = open_text(text, sizeof text - 1, 1);
  cli_diag diag;
  int eof = 0;
  while (!eof) assert_int_equal(bulk_csv_read(&f->in, &f->batch, &f->map, &eof, &diag), TV_OK);
  assert_int_equal(f->batch.rows, 3); /* the empty line is a record too */
  assert_int_equal(f->batch.cells_count, 1); /* row 2 has no second column */
  assert_true(f->batch.cells[0].skip);
  assert_int_equal(f->batch.cells[0].val_len, 0);
  close_fixture(f);
}

static void expect_error(const char *text, tv_status want, const char *phrase) {
  fixture *f = open_text(text, strlen(text), 1);
  cli_diag diag;
  int eof = 0;
  tv_status st = TV_OK;
  while (st == TV_OK && !eof) st = bulk_csv_read(&f->in, &f->batch, &f->map, &eof, &diag);
  assert_int_equal(st, want);
  assert_non_null(strstr(diag.text, phrase));
  close_fixture(f);
}

static void test_malformed_records(void **state) {
  (void)state;
  expect_error("1,\"open\n", TV_E_FORMAT_CHAR, "row 1: a quoted field is not closed");
  expect_error("1,x\n2,\"a\"b\n", TV_E_FORMAT_CHAR, "row 2: text after a closing quote");
  expect_error("1,\"a\"\rb\n", TV_E_FORMAT_CHAR, "CR after a quoted field");
}

static void test_row_too_long(void **state) {
  (void)state;
  size_t len = BULK_ROW_BYTES_MAX + 10;
  char *text = malloc(len + 1);
  assert_non_null(text);
  memset(text, 'a', len);
  text[0] = '"'; /* an unclosed quote must not swallow the whole input */
  text[len] = '\0';
  expect_error(text, TV_E_FORMAT_TOO_LONG, "over 1048576 bytes");
  free(text);
}

static void test_header_captures_every_column(void **state) {
  (void)state;
  static const char text[] = "id,\"full name\",pan\n";
  fixture *f = open_text(text, sizeof text - 1, 0);
  cli_diag diag;
  int eof = 0;
  assert_int_equal(bulk_csv_read(&f->in, &f->batch, NULL, &eof, &diag), TV_OK);
  assert_int_equal(f->batch.cells_count, 3);
  assert_string_equal(value_of(f, 1), "full name");
  assert_int_equal(f->batch.cells[2].target, 2);
  close_fixture(f);
}

static void test_write_field_quotes_when_needed(void **state) {
  (void)state;
  char buf[128] = {0};
  FILE *out = fmemopen(buf, sizeof buf, "w");
  assert_non_null(out);
  bulk_csv_write_field(out, "plain", 5, 0);
  fputc('|', out);
  bulk_csv_write_field(out, "a,b", 3, 0);
  fputc('|', out);
  bulk_csv_write_field(out, "q\"x", 3, 0);
  fputc('|', out);
  bulk_csv_write_field(out, "kept", 4, 1);
  fputc('|', out);
  bulk_csv_write_field(out, "l\nf", 3, 0);
  fclose(out);
  assert_string_equal(buf, "plain|\"a,b\"|\"q\"\"x\"|\"kept\"|\"l\nf\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quoted_commas_quotes_newlines),
      cmocka_unit_test(test_empty_and_missing_cells),
      cmocka_unit_test(test_malformed_records),
      cmocka_unit_test(test_row_too_long),
      cmocka_unit_test(test_header_captures_every_column),
      cmocka_unit_test(test_write_field_quotes_when_needed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
