/* A failed fstat of an open segment is named (call, file, errno) at open,
 * by compaction and by a snapshot. An fstat of an open file cannot be made
 * to fail from outside, so this program defines fstat itself: the store
 * library is linked statically and its calls bind to this definition, which
 * fails for the one file named in |fail_name| and otherwise asks the kernel
 * through fstatat (another symbol, so no recursion). */
#include <errno.h>
#include <fcntl.h>
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

#include "store_test_util.h"
#include "vault/store/segment.h"
#include "vault/store/store.h"

enum { SEGMENT = 64 * 1024, RECORDS = 1500 };

static char fail_name[64]; /* "" = every fstat works */

/* fd_is_named: the file open as |fd| has the base name |name|. */
static int fd_is_named(int fd, const char *name) {
  char self[32], path[512];
  snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(self, path, sizeof path - 1);
  if (n <= 0) {
    return 0;
  }
  path[n] = '\0';
  const char *slash = strrchr(path, '/');
  return strcmp(slash != NULL ? slash + 1 : path, name) == 0;
}

int fstat(int fd, struct stat *sb) {
  if (fail_name[0] != '\0' && fd_is_named(fd, fail_name)) {
    errno = EIO;
    return -1;
  }
  return fstatat(fd, "", sb, AT_EMPTY_PATH);
}

typedef struct fixture {
  char dir[256];
  char backup[300];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->backup, sizeof f->backup, "%s.backup", f->dir);
  fail_name[0] = '\0';
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  fail_name[0] = '\0';
  test_rmdir(f->dir);
  test_rmdir(f->backup);
  free(f);
  return 0;
}

/* open_filled opens the store in |f->dir| with RECORDS records, across
 * several sealed segments. */
static tv_store *open_filled(const fixture *f) {
  tv_store_options o = test_store_options(f->dir, SEGMENT);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  for (uint64_t i = 0; i < RECORDS; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    assert_int_equal(tv_store_put(s, &t.put, NULL), TV_OK);
  }
  return s;
}

static void expect_named(const char *msg) {
  print_message("message: %s\n", msg);
  assert_non_null(strstr(msg, "fstat of seg-00000001.log failed"));
  assert_non_null(strstr(msg, "(errno 5)")); /* EIO */
}

static void test_open_names_fstat(void **state) {
  fixture *f = *state;
  tv_store_close(open_filled(f));
  snprintf(fail_name, sizeof fail_name, "seg-00000001.log");
  tv_store_options o = test_store_options(f->dir, SEGMENT);
  tv_store *s = NULL;
  tv_store_diag d;
  assert_int_equal(tv_store_open(NULL, &o, &s, &d), TV_E_IO);
  assert_null(s);
  assert_true(d.io_failure);
  expect_named(d.message);
}

static void test_compaction_names_fstat(void **state) {
  fixture *f = *state;
  tv_store *s = open_filled(f);
  snprintf(fail_name, sizeof fail_name, "seg-00000001.log");
  tv_store_io_error_clear();
  assert_int_equal(tv_store_compact(s, NULL, NULL), TV_E_IO);
  expect_named(tv_store_io_error());
  fail_name[0] = '\0';
  assert_int_equal(test_check_ids(s, 0, RECORDS, 1), RECORDS); /* nothing lost */
  tv_store_close(s);
}

static void test_snapshot_names_fstat(void **state) {
  fixture *f = *state;
  tv_store *s = open_filled(f);
  snprintf(fail_name, sizeof fail_name, "seg-00000001.log");
  tv_store_snapshot_info info;
  tv_store_io_error_clear();
  assert_int_equal(tv_store_snapshot(s, f->backup, NULL, 0, &info), TV_E_IO);
  expect_named(tv_store_io_error());
  tv_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_open_names_fstat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction_names_fstat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_snapshot_names_fstat, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
