/* JSON log lines: escaping of quotes, backslashes and control characters,
 * one line per call, truncation marked instead of broken JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vault/service/log.h"

/* Runs |fn| with stderr redirected to a pipe; returns what it wrote. */
static size_t capture(void (*fn)(void), char *out, size_t out_len) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  fn();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  ssize_t n = read(fds[0], out, out_len - 1);
  close(fds[0]);
  assert_true(n > 0);
  out[n] = '\0';
  return (size_t)n;
}

static void write_escaped(void) {
  tv_log_line line;
  tv_log_begin(&line, "info", "call");
  tv_log_str(&line, "principal", "spiffe://a\"b\\c\nd\x01");
  tv_log_int(&line, "code", -3);
  tv_log_str(&line, "none", NULL);
  tv_log_end(&line);
}

static void test_escaping(void **state) {
  (void)state;
  char out[2048];
  size_t n = capture(write_escaped, out, sizeof out);
  assert_int_equal(out[0], '{');
  assert_int_equal(out[n - 1], '\n');
  assert_non_null(strstr(out, "\"event\": \"call\""));
  assert_non_null(strstr(out, "\"principal\": \"spiffe://a\\\"b\\\\c\\u000ad\\u0001\""));
  assert_non_null(strstr(out, "\"code\": -3"));
  assert_non_null(strstr(out, "\"none\": \"\""));
  assert_ptr_equal(strchr(out, '\n'), out + n - 1); /* exactly one line */
}

static void write_long(void) {
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  tv_log_line line;
  tv_log_begin(&line, "warn", "long");
  tv_log_str(&line, "short", "kept");
  tv_log_str(&line, "big", big);
  tv_log_int(&line, "after", 1);
  tv_log_end(&line);
}

static void test_truncation(void **state) {
  (void)state;
  char out[4096];
  size_t n = capture(write_long, out, sizeof out);
  assert_true(n <= TV_LOG_LINE_BYTES_MAX);
  assert_non_null(strstr(out, "\"short\": \"kept\""));
  assert_null(strstr(out, "xxxx")); /* a field is whole or absent */
  assert_non_null(strstr(out, "\"truncated\": true}\n"));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_escaping), cmocka_unit_test(test_truncation)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
