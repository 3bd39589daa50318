/* The process metrics (metrics_process.c): /proc/<pid>/stat and /proc/stat
 * parsing on fixed texts (command names with spaces and parentheses,
 * truncated and malformed lines), the live read of this test process
 * (descriptors opened show up exactly, the limit is getrlimit's, the
 * start time is recent) and the six rendered families. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vault/daemon/metrics_process.h"

/* Fields 3..52 of a real stat line: utime 1500, stime 250, starttime
 * 987654, vsize 123456789, rss 4321. */
static const char stat_tail[] =
    " S 1 1234 1234 0 -1 4194560 2800 0 0 0 1500 250 0 0 20 0 7 0 987654 123456789 4321 "
    "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n";

static void parse_with_name(const char *name) {
  char text[512];
  snprintf(text, sizeof text, "4242 (%s)%s", name, stat_tail);
  tv_process_stat st;
  assert_int_equal(tv_process_stat_parse(&st, text, strlen(text)), TV_OK);
  assert_int_equal(st.cpu_ticks, 1750);
  assert_int_equal(st.start_ticks, 987654);
  assert_int_equal(st.virtual_bytes, 123456789);
  assert_int_equal(st.resident_pages, 4321);
}

static void test_stat_parse(void **state) {
  (void)state;
  parse_with_name("tokenvaultd");
  /* The name may hold what separates fields: counted from the last ')'. */
  parse_with_name("a b) S 9 9 (c");
  parse_with_name("");
}

static void test_stat_refused(void **state) {
  (void)state;
  tv_process_stat st;
  const char *no_paren = "4242 tokenvaultd S 1 2 3";
  assert_int_equal(tv_process_stat_parse(&st, no_paren, strlen(no_paren)), TV_E_INVALID_ARGUMENT);
  /* Cut before rss (field 24). */
  const char *cut = "4242 (tv) S 1 1234 1234 0 -1 4194560 2800 0 0 0 1500 250 0 0 20 0 7 0 987654 123456789";
  assert_int_equal(tv_process_stat_parse(&st, cut, strlen(cut)), TV_E_INVALID_ARGUMENT);
  /* A letter where utime should be. */
  const char *bad = "4242 (tv) S 1 1234 1234 0 -1 4194560 2800 0 0 0 x 250 0 0 20 0 7 0 987654 1 2\n";
  assert_int_equal(tv_process_stat_parse(&st, bad, strlen(bad)), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_process_stat_parse(NULL, bad, strlen(bad)), TV_E_INVALID_ARGUMENT);
}

static void test_boot_time_parse(void **state) {
  (void)state;
  const char *text = "cpu  1 2 3 4\nintr 12345 0 0 0 0\nctxt 99\nbtime 1764900000\nprocesses 10\n";
  uint64_t btime = 0;
  assert_int_equal(tv_process_boot_time_parse(&btime, text, strlen(text)), TV_OK);
  assert_int_equal(btime, 1764900000u);
  const char *none = "cpu  1 2 3 4\nbtimex 5\nctxt 99\n";
  assert_int_equal(tv_process_boot_time_parse(&btime, none, strlen(none)), TV_E_INVALID_ARGUMENT);
  const char *empty = "btime \n";
  assert_int_equal(tv_process_boot_time_parse(&btime, empty, strlen(empty)), TV_E_INVALID_ARGUMENT);
}

static void test_live_read(void **state) {
  (void)state;
  tv_process_metrics before;
  assert_int_equal(tv_process_metrics_read(&before), TV_OK);
  assert_true(before.resident_bytes > 0);
  assert_true(before.virtual_bytes >= before.resident_bytes);
  assert_true(before.cpu_seconds >= 0.0);
  struct rlimit rl;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
  assert_int_equal(before.max_fds, (uint64_t)rl.rlim_cur);
  /* Started within the last hour (a test run), not in the future. */
  double now = (double)time(NULL);
  assert_true(before.start_time_seconds <= now + 2.0);
  assert_true(before.start_time_seconds > now - 3600.0);
  int fds[3];
  for (int i = 0; i < 3; i++) {
    fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fds[i] >= 0);
  }
  tv_process_metrics after;
  assert_int_equal(tv_process_metrics_read(&after), TV_OK);
  assert_int_equal(after.open_fds, before.open_fds + 3);
  assert_true(after.start_time_seconds == before.start_time_seconds);
  for (int i = 0; i < 3; i++) {
    close(fds[i]);
  }
}

static void test_render(void **state) {
  (void)state;
  tv_process_metrics m = {.cpu_seconds = 1.5, .resident_bytes = 4096, .virtual_bytes = 8192,
                          .open_fds = 12, .max_fds = 1024, .start_time_seconds = 1764900000.25};
  tv_metrics_text out = {0};
  tv_metrics_render_process(&m, &out);
  assert_false(out.failed);
  static const char *const want[] = {
      "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.50\n",
      "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 4096\n",
      "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes 8192\n",
      "# TYPE process_open_fds gauge\nprocess_open_fds 12\n",
      "# TYPE process_max_fds gauge\nprocess_max_fds 1024\n",
      "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1764900000.25\n",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    if (strstr(out.data, want[i]) == NULL) {
      fail_msg("missing:\n%s\nin:\n%s", want[i], out.data);
    }
  }
  tv_metrics_text_cleanup(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stat_parse), cmocka_unit_test(test_stat_refused),
      cmocka_unit_test(test_boot_time_parse), cmocka_unit_test(test_live_read),
      cmocka_unit_test(test_render),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
