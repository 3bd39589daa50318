/* An NDJSON stream's body spool (vault/server/http/ndjson_spool.h): lines
 * come back as written whatever the chunking, numbered as in the body,
 * blank ones skipped, CRLF and a last line without "\n" taken; a line or
 * body over its limit cuts the body at that line's start (the lines before
 * it come back, then the cut and its line number); the file holds the body
 * encrypted, never in clear; a directory without O_TMPFILE is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vault/server/http/ndjson_spool.h"

static tv_ndjson_spool *spool_new(size_t line_max, uint64_t bytes_max) {
  tv_ndjson_spool *s = NULL;
  const char *dir = getenv("TMPDIR");
  assert_int_equal(tv_ndjson_spool_open(&s, dir != NULL && dir[0] != '\0' ? dir : "/tmp", line_max, bytes_max),
                   TV_OK);
  return s;
}

/* Expects the next line to be |want| with number |no|. */
static void expect_line(tv_ndjson_spool *s, const char *want, uint64_t no) {
  const char *line = NULL;
  size_t len = 0;
  uint64_t line_no = 0;
  tv_ndjson_cut cut = TV_NDJSON_CUT_IO;
  assert_int_equal(tv_ndjson_spool_next(s, &line, &len, &line_no, &cut), 1);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(line, want, len);
  assert_int_equal(line_no, no);
  assert_int_equal(cut, TV_NDJSON_CUT_NONE);
}

static void expect_end(tv_ndjson_spool *s, tv_ndjson_cut want_cut, uint64_t want_no) {
  const char *line = NULL;
  size_t len = 0;
  uint64_t line_no = 0;
  tv_ndjson_cut cut = TV_NDJSON_CUT_IO;
  assert_int_equal(tv_ndjson_spool_next(s, &line, &len, &line_no, &cut), 0);
  assert_int_equal(cut, want_cut);
  if (want_cut != TV_NDJSON_CUT_NONE) {
    assert_int_equal(line_no, want_no);
  }
}

static void test_lines_byte_by_byte(void **state) {
  (void)state;
  static const char body[] = "{\"a\":1}\n\n  \r\n{\"b\":2}\r\n{\"c\":3}";
  tv_ndjson_spool *s = spool_new(64, 1024);
  for (size_t i = 0; i < sizeof body - 1; i++) {
    tv_ndjson_spool_write(s, body + i, 1);
  }
  assert_int_equal(tv_ndjson_spool_bytes(s), sizeof body - 1);
  expect_line(s, "{\"a\":1}", 1);
  expect_line(s, "{\"b\":2}", 4); /* lines 2 and 3 are blank: skipped, counted */
  expect_line(s, "{\"c\":3}", 5); /* the last line has no "\n" */
  expect_end(s, TV_NDJSON_CUT_NONE, 0);
  expect_end(s, TV_NDJSON_CUT_NONE, 0);
  tv_ndjson_spool_free(s);
}

static void test_empty_body(void **state) {
  (void)state;
  tv_ndjson_spool *s = spool_new(64, 1024);
  expect_end(s, TV_NDJSON_CUT_NONE, 0);
  tv_ndjson_spool_free(s);
}

static void test_line_too_long_cuts_at_its_start(void **state) {
  (void)state;
  tv_ndjson_spool *s = spool_new(8, 1024);
  tv_ndjson_spool_write(s, "12345678\nabc", 12); /* 8 bytes: at the limit */
  tv_ndjson_spool_write(s, "defghi\nlater\n", 13); /* line 2 reaches 9 bytes */
  expect_line(s, "12345678", 1);
  expect_end(s, TV_NDJSON_CUT_LINE_TOO_LONG, 2); /* "later" is never read */
  tv_ndjson_spool_free(s);
}

static void test_body_too_large_cuts_at_line_start(void **state) {
  (void)state;
  tv_ndjson_spool *s = spool_new(64, 20);
  tv_ndjson_spool_write(s, "line one\nline two\nline three\n", 29); /* over 20 in line 3 */
  tv_ndjson_spool_write(s, "more\n", 5);
  expect_line(s, "line one", 1);
  expect_line(s, "line two", 2);
  expect_end(s, TV_NDJSON_CUT_BODY_TOO_LARGE, 3);
  tv_ndjson_spool_free(s);
}

/* The file holds as many bytes as the body, none of it in clear. */
static void test_file_is_encrypted(void **state) {
  (void)state;
  static const char line[] = "{\"values\":[\"4111111111111111\"]}\n";
  tv_ndjson_spool *s = spool_new(1024, 1u << 24);
  for (int i = 0; i < 5000; i++) { /* 165 KB: several blocks */
    tv_ndjson_spool_write(s, line, sizeof line - 1);
  }
  expect_line(s, "{\"values\":[\"4111111111111111\"]}", 1); /* flushed now */
  size_t total = 5000 * (sizeof line - 1);
  char *file = malloc(total + 1);
  assert_non_null(file);
  assert_int_equal(pread(tv_ndjson_spool_fd(s), file, total + 1, 0), (ssize_t)total);
  assert_null(memmem(file, total, "4111111111111111", 16));
  assert_null(memmem(file, total, "values", 6));
  free(file);
  for (int i = 2; i <= 5000; i++) {
    expect_line(s, "{\"values\":[\"4111111111111111\"]}", (uint64_t)i);
  }
  expect_end(s, TV_NDJSON_CUT_NONE, 0);
  tv_ndjson_spool_free(s);
}

/* Random lines (some blank, some CRLF) in random chunks come back whole. */
static void test_random_chunking(void **state) {
  (void)state;
  srand(7);
  for (int round = 0; round < 50; round++) {
    char body[8192];
    size_t len = 0;
    int lines = rand() % 40;
    for (int i = 0; i < lines; i++) {
      int n = rand() % 100;
      for (int k = 0; k < n; k++) {
        body[len++] = (char)('a' + rand() % 26);
      }
      if (rand() % 3 == 0) {
        body[len++] = '\r';
      }
      body[len++] = '\n';
    }
    tv_ndjson_spool *s = spool_new(128, sizeof body);
    for (size_t off = 0; off < len;) {
      size_t n = (size_t)(rand() % 300);
      n = n < len - off ? n : len - off;
      tv_ndjson_spool_write(s, body + off, n);
      off += n;
    }
    uint64_t no = 0;
    for (char *p = body; p < body + len; no++) {
      char *nl = memchr(p, '\n', (size_t)(body + len - p));
      size_t n = (size_t)(nl - p);
      if (n > 0 && p[n - 1] == '\r') {
        n--;
      }
      char want[128];
      memcpy(want, p, n);
      want[n] = '\0';
      if (n > 0) {
        expect_line(s, want, no + 1);
      }
      p = nl + 1;
    }
    expect_end(s, TV_NDJSON_CUT_NONE, 0);
    tv_ndjson_spool_free(s);
  }
}

static void test_refused_without_directory(void **state) {
  (void)state;
  tv_ndjson_spool *s = NULL;
  assert_int_equal(tv_ndjson_spool_open(&s, "/nonexistent/tokenvault-spool", 64, 1024), TV_E_IO);
  assert_null(s);
  tv_ndjson_spool_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lines_byte_by_byte),
      cmocka_unit_test(test_empty_body),
      cmocka_unit_test(test_line_too_long_cuts_at_its_start),
      cmocka_unit_test(test_body_too_large_cuts_at_line_start),
      cmocka_unit_test(test_file_is_encrypted),
      cmocka_unit_test(test_random_chunking),
      cmocka_unit_test(test_refused_without_directory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
