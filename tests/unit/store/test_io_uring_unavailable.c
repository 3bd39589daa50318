/* io_uring unavailable (forced by option or environment variable, as a
 * kernel with io_uring disabled would answer): open fails with a clear
 * status and message, touches nothing, and does not crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/store.h"

static void test_forced_by_option(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  char sub[300];
  snprintf(sub, sizeof sub, "%s/store", dir);
  tv_store_options o = test_store_options(sub, 0);
  o.force_no_io_uring = 1;
  tv_store *s = NULL;
  tv_store_diag d;
  assert_int_equal(tv_store_open(NULL, &o, &s, &d), TV_E_STORE_IO_URING_UNAVAILABLE);
  assert_null(s);
  assert_non_null(strstr(d.message, "io_uring"));
  struct stat sb;
  assert_int_not_equal(stat(sub, &sb), 0); /* nothing created */
  assert_non_null(strstr(tv_status_message(TV_E_STORE_IO_URING_UNAVAILABLE), "io_uring"));
  test_rmdir(dir);
}

static void test_forced_by_environment(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 0);
  tv_store *s = NULL;
  setenv("TV_STORE_FORCE_NO_IO_URING", "1", 1);
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_E_STORE_IO_URING_UNAVAILABLE);
  assert_null(s);
  unsetenv("TV_STORE_FORCE_NO_IO_URING");
  /* With the variable gone the same directory opens normally. */
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  tv_store_close(s);
  test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forced_by_option),
      cmocka_unit_test(test_forced_by_environment),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
