/* atomic_out: the file appears whole on commit, never before; an aborted
 * run leaves nothing; a second writer is refused; output is private. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/c/cli/atomic_out.h"

static char dir[64];
static char path[128];
static char temp[160];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/tv-atomic-XXXXXX");
  if (mkdtemp(dir) == NULL) return -1;
  snprintf(path, sizeof path, "%s/out.csv", dir);
  snprintf(temp, sizeof temp, "%s/.out.csv.tokenvault-partial", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(path);
  unlink(temp);
  return rmdir(dir);
}

static void test_commit_makes_the_file_appear(void **state) {
  (void)state;
  atomic_out o;
  cli_diag diag;
  assert_int_equal(atomic_out_open(&o, path, &diag), TV_OK);
  fputs("hello\n", o.file);
  assert_int_equal(access(path, F_OK), -1); /* not visible before commit */
  assert_int_equal(access(temp, F_OK), 0);
  assert_int_equal(atomic_out_commit(&o, &diag), TV_OK);
  assert_int_equal(access(temp, F_OK), -1);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 6);
  assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_abort_keeps_the_old_file(void **state) {
  (void)state;
  atomic_out o;
  cli_diag diag;
  assert_int_equal(atomic_out_open(&o, path, &diag), TV_OK);
  fputs("first\n", o.file);
  assert_int_equal(atomic_out_commit(&o, &diag), TV_OK);
  assert_int_equal(atomic_out_open(&o, path, &diag), TV_OK);
  fputs("second, longer\n", o.file);
  atomic_out_abort(&o);
  atomic_out_abort(&o); /* idempotent */
  assert_int_equal(access(temp, F_OK), -1);
  FILE *f = fopen(path, "r");
  char line[32] = {0};
  assert_non_null(fgets(line, sizeof line, f));
  fclose(f);
  assert_string_equal(line, "first\n");
}

static void test_second_writer_is_refused(void **state) {
  (void)state;
  atomic_out a, b;
  cli_diag diag;
  assert_int_equal(atomic_out_open(&a, path, &diag), TV_OK);
  fputs("a\n", a.file);
  fflush(a.file);
  assert_int_equal(atomic_out_open(&b, path, &diag), TV_E_IO);
  assert_non_null(strstr(diag.text, "another tokenvault run"));
  assert_int_equal(atomic_out_commit(&a, &diag), TV_OK);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 2); /* the refused open truncated nothing */
}

static void test_bad_paths(void **state) {
  (void)state;
  atomic_out o;
  cli_diag diag;
  assert_int_equal(atomic_out_open(&o, "", &diag), TV_E_INVALID_ARGUMENT);
  assert_int_equal(atomic_out_open(&o, "/nonexistent-dir/x.csv", &diag), TV_E_IO);
  assert_non_null(strstr(diag.text, "cannot create"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_commit_makes_the_file_appear, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_keeps_the_old_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_second_writer_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
