/* tv_mkdir_durable / tv_dir_sync_parent: what they answer. That the
 * parent's fsync is what keeps a new directory through a power cut is
 * tested on lossyfs (tests/powerloss: powerloss_store, powerloss_vault). */
#include <errno.h>
#include <limits.h>
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

#include "vault/util/dir_sync.h"

static void make_root(char *out, size_t out_len) {
  const char *tmp = getenv("TMPDIR");
  snprintf(out, out_len, "%s/tv_dir_sync_XXXXXX", tmp != NULL ? tmp : "/tmp");
  assert_non_null(mkdtemp(out));
}

static void test_makes_then_reports_existing(void **state) {
  (void)state;
  char root[PATH_MAX], dir[PATH_MAX + 8];
  make_root(root, sizeof root);
  snprintf(dir, sizeof dir, "%s/new", root);
  assert_int_equal(tv_mkdir_durable(dir), 0);
  struct stat st;
  assert_int_equal(stat(dir, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0700);
  assert_int_equal(tv_mkdir_durable(dir), EEXIST);
  assert_int_equal(rmdir(dir), 0);
  assert_int_equal(rmdir(root), 0);
}

static void test_missing_parent(void **state) {
  (void)state;
  char root[PATH_MAX], dir[PATH_MAX + 16];
  make_root(root, sizeof root);
  snprintf(dir, sizeof dir, "%s/none/new", root);
  assert_int_equal(tv_mkdir_durable(dir), ENOENT);
  assert_int_equal(tv_dir_sync_parent(dir), ENOENT);
  assert_int_equal(rmdir(root), 0);
}

static void test_parent_forms(void **state) {
  (void)state;
  char root[PATH_MAX], with_slash[PATH_MAX + 8];
  make_root(root, sizeof root);
  snprintf(with_slash, sizeof with_slash, "%s/", root);
  assert_int_equal(tv_dir_sync_parent(root), 0);
  assert_int_equal(tv_dir_sync_parent(with_slash), 0); /* "a/b/" names b: a is synced */
  assert_int_equal(tv_dir_sync_parent("no-slash"), 0);  /* "." */
  assert_int_equal(tv_dir_sync_parent("/tmp"), 0);      /* "/" */
  char file[PATH_MAX + 8];
  snprintf(file, sizeof file, "%s/f", root);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  char under_file[PATH_MAX + 16];
  snprintf(under_file, sizeof under_file, "%s/x", file);
  assert_int_equal(tv_dir_sync_parent(under_file), ENOTDIR);
  assert_int_equal(unlink(file), 0);
  assert_int_equal(rmdir(root), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_makes_then_reports_existing),
      cmocka_unit_test(test_missing_parent),
      cmocka_unit_test(test_parent_forms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
