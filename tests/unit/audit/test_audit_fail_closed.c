/* Failing closed: when the log cannot be written (file size limit, a file
 * that is no longer writable, the HSM gone when a checkpoint is due) the
 * append fails, nothing acknowledged is lost, and the log recovers when
 * the cause goes away. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "tests/unit/audit/audit_test_util.h"

static tv_status append_one(tv_audit_log *log, unsigned i) {
  tv_audit_entry e = audit_test_entry(i);
  uint64_t seq = 0;
  tv_status status = tv_audit_append(log, &seq, &e);
  assert_true(status == TV_OK ? seq > 0 : seq == 0);
  return status;
}

/* The disk "fills up": writes past a size fail with EFBIG, the first one
 * part-way through a line. */
static void test_file_size_limit(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 5);
  assert_int_equal(audit_test_segments(fx), 1);
  size_t len = 0;
  free(audit_test_read(fx->paths[0], &len));
  struct rlimit saved;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit tight = {(rlim_t)len + 100, saved.rlim_max};
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &tight), 0);
  for (unsigned i = 0; i < 3; i++) {
    assert_int_equal(append_one(log, 100 + i), TV_E_AUDIT_NO_SPACE); /* named, not just "unavailable" */
  }
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
  /* Space again: the half-written line was cut, the chain goes on. */
  assert_int_equal(append_one(log, 200), TV_OK);
  tv_audit_stats stats;
  tv_audit_stats_get(log, &stats);
  assert_int_equal(stats.entries, 6);
  assert_true(stats.failures >= 3);
  assert_int_equal(tv_audit_close(log), TV_OK);
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.calls, 6); /* exactly the acknowledged ones */
}

/* Finds the descriptor this process has open on |path|. */
static int fd_of(const char *path) {
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  struct dirent *e;
  int found = -1;
  while ((e = readdir(d)) != NULL) {
    char link[300], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n > 0) {
      target[n] = '\0';
      if (strcmp(target, path) == 0) {
        found = atoi(e->d_name);
      }
    }
  }
  closedir(d);
  return found;
}

/* The file stops being writable under the writer (as if remounted
 * read-only): every append fails from then on, none is acknowledged. */
static void test_file_no_longer_writable(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 4);
  assert_int_equal(audit_test_segments(fx), 1);
  char real[PATH_MAX];
  assert_non_null(realpath(fx->paths[0], real));
  int fd = fd_of(real);
  assert_true(fd >= 0);
  int ro = open(real, O_RDONLY);
  assert_true(ro >= 0);
  assert_int_equal(dup2(ro, fd), fd);
  close(ro);
  for (unsigned i = 0; i < 3; i++) {
    assert_int_equal(append_one(log, 10 + i), TV_E_AUDIT_UNAVAILABLE);
  }
  /* The tail cannot be sealed either, and close says so. */
  assert_int_equal(tv_audit_close(log), TV_E_AUDIT_UNAVAILABLE);
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.calls, 4);
  assert_int_equal(r.unsealed, 5); /* header and the 4 entries */
}

static void write_control(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

typedef struct async_result {
  int calls;
  tv_status status;
} async_result;

static void on_done(void *arg, tv_status status, uint64_t seq) {
  async_result *r = arg;
  r->calls++;
  r->status = status;
  assert_true(status == TV_OK ? seq > 0 : seq == 0);
}

/* The HSM goes away while a checkpoint is due: the entries that would need
 * it are refused (blocking and callback form alike) until it is back. */
static void test_hsm_unavailable_when_checkpoint_due(void **state) {
  audit_fixture *fx = *state;
  char control[PATH_MAX + 16];
  snprintf(control, sizeof control, "%s/fault", fx->hsm->root);
  setenv("TV_P11_FAULT_CONTROL", control, 1);
  setenv("TV_P11_FAULT_TARGET", fx->hsm->module, 1);
  tv_hsm_free(fx->hsm->hsm);
  fx->hsm->hsm = NULL;
  tv_hsm_config config = fx->hsm->config;
  config.module_path = TV_P11_FAULT_PATH;
  assert_int_equal(tv_hsm_open(&fx->hsm->hsm, &config), TV_OK);
  fx->config.hsm = fx->hsm->hsm;
  fx->config.checkpoint_entries = 5;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, 3); /* header + 3: the next line makes 5 */
  write_control(control, "removed\n");
  assert_int_equal(append_one(log, 10), TV_E_HSM_UNAVAILABLE);
  assert_int_equal(append_one(log, 11), TV_E_HSM_UNAVAILABLE);
  async_result ar = {0, TV_OK};
  tv_audit_entry e = audit_test_entry(12);
  assert_int_equal(tv_audit_append_async(log, &e, on_done, &ar), TV_OK);
  assert_int_equal(tv_audit_checkpoint(log), TV_E_HSM_UNAVAILABLE);
  assert_int_equal(ar.calls, 1);
  assert_int_equal(ar.status, TV_E_HSM_UNAVAILABLE);
  unlink(control); /* the HSM is back */
  assert_int_equal(append_one(log, 13), TV_OK);
  assert_int_equal(append_one(log, 14), TV_OK);
  assert_int_equal(tv_audit_close(log), TV_OK);
  tv_audit_verify_result r;
  assert_int_equal(audit_test_verify(fx, &r, 1), TV_OK);
  assert_int_equal(r.calls, 5);
  assert_int_equal(r.unsealed, 0);
  unsetenv("TV_P11_FAULT_CONTROL");
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, audit_setup, audit_teardown)
  const struct CMUnitTest tests[] = {
      T(test_file_size_limit),
      T(test_file_no_longer_writable),
      T(test_hsm_unavailable_when_checkpoint_due),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
