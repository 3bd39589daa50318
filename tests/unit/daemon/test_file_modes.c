/* tv_mode_judge: the permission rules of file_modes.h on made-up modes
 * and owners, and tv_mode_check_path on real files (a refusal names the
 * file and its mode; the escape hatch only covers what it says). */
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

#include "vault/daemon/file_modes.h"

static const tv_mode_owner self = {.uid = 1000, .gid = 1000};

static tv_mode_verdict judge(tv_path_kind kind, mode_t mode, uid_t uid, gid_t gid, char *err, size_t len) {
  return tv_mode_judge("thing", "/p", kind, mode, uid, gid, &self, err, len);
}

static void test_secret_modes(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(judge(TV_PATH_SECRET, S_IFREG | 0600, 1000, 1000, err, sizeof err), TV_MODE_OK);
  assert_int_equal(judge(TV_PATH_SECRET, S_IFREG | 0400, 0, 0, err, sizeof err), TV_MODE_OK);
  /* Group-readable is fine when the group is the vault's own (fsGroup). */
  assert_int_equal(judge(TV_PATH_SECRET, S_IFREG | 0440, 0, 1000, err, sizeof err), TV_MODE_OK);
  assert_int_equal(judge(TV_PATH_SECRET, S_IFREG | 0640, 0, 50, err, sizeof err), TV_MODE_INSECURE);
  assert_string_equal(err, "thing /p is mode 0640: readable by its group; chmod 600 (or 640 with tokenvaultd's "
                           "own group)");
  assert_int_equal(judge(TV_PATH_SECRET, S_IFREG | 0644, 1000, 1000, err, sizeof err), TV_MODE_INSECURE);
  assert_non_null(strstr(err, "is mode 0644: readable by others"));
  assert_int_equal(judge(TV_PATH_SECRET, S_IFREG | 0602, 1000, 1000, err, sizeof err), TV_MODE_REFUSED);
  assert_non_null(strstr(err, "is mode 0602: writable by others"));
  assert_int_equal(judge(TV_PATH_SECRET, S_IFREG | 0660, 1000, 50, err, sizeof err), TV_MODE_REFUSED);
  assert_non_null(strstr(err, "writable by its group"));
}

static void test_trusted_modes(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(judge(TV_PATH_TRUSTED, S_IFREG | 0644, 0, 0, err, sizeof err), TV_MODE_OK);
  assert_int_equal(judge(TV_PATH_TRUSTED, S_IFREG | 0664, 1000, 1000, err, sizeof err), TV_MODE_OK);
  assert_int_equal(judge(TV_PATH_TRUSTED, S_IFREG | 0666, 0, 0, err, sizeof err), TV_MODE_REFUSED);
  assert_string_equal(err, "thing /p is mode 0666: writable by group and others; chmod 644 (or 640), owned by "
                           "root or tokenvaultd's user");
  assert_int_equal(judge(TV_PATH_TRUSTED, S_IFREG | 0644, 2000, 0, err, sizeof err), TV_MODE_REFUSED);
  assert_non_null(strstr(err, "owned by uid 2000, neither root nor tokenvaultd's user (uid 1000)"));
}

static void test_dir_modes(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(judge(TV_PATH_DIR, S_IFDIR | 0700, 1000, 1000, err, sizeof err), TV_MODE_OK);
  assert_int_equal(judge(TV_PATH_DIR, S_IFDIR | 0755, 1000, 1000, err, sizeof err), TV_MODE_OK);
  assert_int_equal(judge(TV_PATH_DIR, S_IFDIR | 02770, 0, 1000, err, sizeof err), TV_MODE_OK); /* fsGroup PVC */
  assert_int_equal(judge(TV_PATH_DIR, S_IFDIR | 0777, 1000, 1000, err, sizeof err), TV_MODE_INSECURE);
  assert_string_equal(err, "thing /p is mode 0777: writable by others; chmod 700 (or 750/770 with "
                           "tokenvaultd's own group)");
  assert_int_equal(judge(TV_PATH_DIR, S_IFDIR | 0770, 1000, 50, err, sizeof err), TV_MODE_INSECURE);
  assert_int_equal(judge(TV_PATH_DIR, S_IFDIR | 0700, 2000, 1000, err, sizeof err), TV_MODE_REFUSED);
}

/* On a real file: the refusal, the escape hatch, and what it never covers. */
static void test_check_path(void **state) {
  (void)state;
  char path[] = "/tmp/tv-file-modes-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  char err[512];
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(tv_mode_check_path("tls.key", path, TV_PATH_SECRET, 0, err, sizeof err), TV_OK);
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(tv_mode_check_path("tls.key", path, TV_PATH_SECRET, 0, err, sizeof err), TV_E_SERVER_CONFIG);
  char want[512];
  snprintf(want, sizeof want, "tls.key %s is mode 0644: readable by others", path);
  assert_non_null(strstr(err, want));
  assert_non_null(strstr(err, "--allow-insecure-permissions"));
  assert_int_equal(tv_mode_check_path("tls.key", path, TV_PATH_SECRET, 1, err, sizeof err), TV_OK);
  assert_int_equal(chmod(path, 0646), 0);
  assert_int_equal(tv_mode_check_path("tls.key", path, TV_PATH_SECRET, 1, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_int_equal(tv_mode_check_path("config", "/nonexistent/x.yaml", TV_PATH_TRUSTED, 0, err, sizeof err), TV_OK);
  assert_int_equal(tv_mode_check_path("config", NULL, TV_PATH_TRUSTED, 0, err, sizeof err), TV_OK);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_secret_modes),
      cmocka_unit_test(test_trusted_modes),
      cmocka_unit_test(test_dir_modes),
      cmocka_unit_test(test_check_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
