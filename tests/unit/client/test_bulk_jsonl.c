/* bulk_jsonl: named top-level string fields found and decoded, the rest
 * skipped untouched; malformed lines refused with their number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/cli/bulk_jsonl.h"

typedef struct fixture {
  FILE *file;
  bulk_in in;
  bulk_batch batch;
  bulk_jsonl_map map;
} fixture;

static fixture *open_text(const char *text) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->file = fmemopen((void *)(uintptr_t)text, strlen(text), "rb");
  assert_non_null(f->file);
  f->in.file = f->file;
  f->in.buf = malloc(BULK_IN_BUFFER_BYTES);
  assert_non_null(f->in.buf);
  f->map.names[0] = "pan";
  f->map.names[1] = "iban";
  f->map.target_ns[1] = 1;
  f->map.count = 2;
  bulk_batch_reset(&f->batch, 1);
  return f;
}

static void close_fixture(fixture *f) {
  bulk_batch_cleanup(&f->batch);
  fclose(f->file);
  free(f->in.buf);
  free(f);
}

static tv_status read_all(fixture *f, cli_diag *diag) {
  int eof = 0;
  tv_status st = TV_OK;
  while (st == TV_OK && !eof) st = bulk_jsonl_read(&f->in, &f->batch, &f->map, &eof, diag);
  return st;
}

static void test_fields_found_and_decoded(void **state) {
  (void)state;
  fixture *f = open_text("{\"x\": {\"pan\": \"no\"}, \"iban\" : \"DE\\u00e9\\ud83d\\ude00\", \"pan\":\"41\\\"1\", "
                         "\"pan\": \"second\"}\n");
  cli_diag diag;
  assert_int_equal(read_all(f, &diag), TV_OK);
  assert_int_equal(f->batch.cells_count, 2);
  const bulk_cell *iban = &f->batch.cells[0], *pan = &f->batch.cells[1];
  assert_int_equal(iban->ns, 1);
  assert_string_equal(f->batch.values + iban->val_off, "DE\xc3\xa9\xf0\x9f\x98\x80");
  assert_string_equal(f->batch.values + pan->val_off, "41\"1");
  /* The span is the JSON string with its quotes, as in the line. */
  assert_memory_equal(f->batch.raw + pan->raw_off, "\"41\\\"1\"", pan->raw_len);
  assert_true(pan->quoted);
  close_fixture(f);
}

static void test_null_number_and_empty_lines(void **state) {
  (void)state;
  fixture *f = open_text("{\"pan\": null}\n\n  \n{\"pan\": 4111, \"iban\": [1, {\"a\": \"b\"}]}\n{}\n");
  cli_diag diag;
  assert_int_equal(read_all(f, &diag), TV_OK);
  assert_int_equal(f->batch.rows, 5);
  assert_int_equal(f->batch.cells_count, 3);
  assert_true(f->batch.cells[0].skip);
  assert_true(f->batch.cells[1].not_string);
  assert_true(f->batch.cells[2].not_string);
  assert_memory_equal(f->batch.raw + f->batch.cells[2].raw_off, "[1, {\"a\": \"b\"}]", f->batch.cells[2].raw_len);
  close_fixture(f);
}

static void expect_bad(const char *text, const char *phrase) {
  fixture *f = open_text(text);
  cli_diag diag;
  assert_int_equal(read_all(f, &diag), TV_E_FORMAT_CHAR);
  assert_non_null(strstr(diag.text, phrase));
  close_fixture(f);
}

static void test_malformed_lines(void **state) {
  (void)state;
  expect_bad("{\"pan\": \"x\"\n", "line 1 is not one JSON object");
  expect_bad("{}\n[1]\n", "line 2");
  expect_bad("{\"pan\": \"x\"} trailing\n", "line 1");
  expect_bad("{\"pan\": \"bad \\q escape\"}\n", "line 1");
  expect_bad("{\"pan\": \"\\ud800 lone surrogate\"}\n", "line 1");
  expect_bad("{\"pan\": \"raw\tcontrol\"}\n", "line 1");
  expect_bad("{\"a\" 1}\n", "line 1");
}

static void test_depth_is_bounded(void **state) {
  (void)state;
  char text[400];
  size_t n = 0;
  n += (size_t)snprintf(text, sizeof text, "{\"a\": ");
  for (int i = 0; i < 100; i++) text[n++] = '[';
  for (int i = 0; i < 100; i++) text[n++] = ']';
  memcpy(text + n, "}\n", 3);
  expect_bad(text, "line 1");
}

static void test_write_string_escapes(void **state) {
  (void)state;
  char buf[64] = {0};
  FILE *out = fmemopen(buf, sizeof buf, "w");
  assert_non_null(out);
  bulk_json_write_string(out, "a\"b\\c\nd\x01", 8);
  fclose(out);
  assert_string_equal(buf, "\"a\\\"b\\\\c\\u000ad\\u0001\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fields_found_and_decoded),
      cmocka_unit_test(test_null_number_and_empty_lines),
      cmocka_unit_test(test_malformed_lines),
      cmocka_unit_test(test_depth_is_bounded),
      cmocka_unit_test(test_write_string_escapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
