/* Readiness (vault/service/readiness.h): an audit failure makes the vault
 * not ready with that status as the reason, the probe clears it by itself
 * with a durable audit_resumed entry, and the log gets one line per change
 * of state, not one per refused call. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/audit/audit_test_util.h"
#include "vault/service/readiness.h"

/* Captures this process's stderr (the JSON log) into a file. */
typedef struct captured {
  char path[64];
  int saved;
} captured;

static void capture_begin(captured *c) {
  snprintf(c->path, sizeof c->path, "/tmp/tv-readiness-log-XXXXXX");
  int fd = mkstemp(c->path);
  assert_true(fd >= 0);
  fflush(stderr);
  c->saved = dup(2);
  assert_true(c->saved >= 0);
  assert_int_equal(dup2(fd, 2), 2);
  close(fd);
}

/* How many times |needle| is in what was captured so far. */
static int capture_peek(captured *c, const char *needle) {
  fflush(stderr);
  size_t len = 0;
  char *text = audit_test_read(c->path, &len);
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
    n++;
  }
  free(text);
  return n;
}

/* Restores stderr; returns how many times |needle| was captured. */
static int capture_count(captured *c, const char *needle) {
  int n = capture_peek(c, needle);
  dup2(c->saved, 2);
  close(c->saved);
  unlink(c->path);
  return n;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Waits (bounded) for the reason to become |want|. */
static int wait_reason(tv_readiness *r, tv_status want) {
  for (int i = 0; i < 1000; i++) {
    if (tv_readiness_reason(r) == want) {
      return 1;
    }
    sleep_ms(10);
  }
  return 0;
}

static void test_null_is_ready(void **state) {
  (void)state;
  tv_readiness_audit(NULL, TV_E_AUDIT_NO_SPACE);
  assert_int_equal(tv_readiness_reason(NULL), TV_OK);
  tv_readiness_stop(NULL);
}

/* A failure is the reason at once; the probe, finding the log writable,
 * appends audit_resumed and the vault is ready again without any call. */
static void test_failure_cleared_by_probe(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  tv_readiness *r = NULL;
  tv_readiness_config rc = {.audit = log, .audit_dir = fx->dir, .probe_ms = 3600u * 1000u};
  assert_int_equal(tv_readiness_start(&r, &rc), TV_OK);
  assert_int_equal(tv_readiness_reason(r), TV_OK);
  captured cap;
  capture_begin(&cap);
  tv_readiness_audit(r, TV_E_AUDIT_ENTRY_INVALID); /* one bad entry: the log is fine */
  tv_readiness_audit(r, TV_E_AUDIT_CLOSED);
  assert_int_equal(tv_readiness_reason(r), TV_OK);
  for (int i = 0; i < 50; i++) {
    tv_readiness_audit(r, TV_E_AUDIT_NO_SPACE);
  }
  assert_int_equal(tv_readiness_reason(r), TV_E_AUDIT_NO_SPACE);
  tv_readiness_audit(r, TV_E_HSM_UNAVAILABLE); /* within a second: counted, not logged */
  assert_int_equal(tv_readiness_reason(r), TV_E_HSM_UNAVAILABLE);
  tv_readiness_audit(r, TV_OK); /* a durable line: ready again */
  assert_int_equal(tv_readiness_reason(r), TV_OK);
  tv_readiness_stop(r);
  assert_int_equal(capture_count(&cap, "\"event\": \"vault_not_ready\""), 1);
  /* Now with a fast probe and no call at all. The recovery comes within
   * a second of the failure's line, so its own line waits for the probe
   * to log the state it settled in. */
  rc.probe_ms = 20;
  assert_int_equal(tv_readiness_start(&r, &rc), TV_OK);
  capture_begin(&cap);
  tv_readiness_audit(r, TV_E_AUDIT_UNAVAILABLE);
  assert_true(wait_reason(r, TV_OK));
  int logged = 0;
  for (int i = 0; i < 500 && !logged; i++) {
    logged = capture_peek(&cap, "\"event\": \"vault_ready\"") == 1;
    sleep_ms(10);
  }
  tv_readiness_stop(r);
  assert_int_equal(capture_count(&cap, "\"was\": \"AUDIT_UNAVAILABLE\""), 1);
  assert_true(logged);
  assert_int_equal(tv_audit_close(log), TV_OK);
  assert_int_equal(audit_test_segments(fx), 1);
  size_t len = 0;
  char *text = audit_test_read(fx->paths[0], &len);
  assert_non_null(strstr(text, "\"alert\":\"audit_resumed\""));
  assert_non_null(strstr(text, "AUDIT_UNAVAILABLE for "));
  free(text);
  tv_audit_verify_result v;
  assert_int_equal(audit_test_verify(fx, &v, 1), TV_OK); /* the probe's entry is chained and sealed */
}

/* An audit directory without free space is not ready before any call
 * fails (a start on a full disk). */
static void test_free_space_checked(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  tv_readiness *r = NULL;
  /* /proc has no free blocks: as full as a disk can be. */
  tv_readiness_config rc = {.audit = log, .audit_dir = "/proc", .probe_ms = 20};
  assert_int_equal(tv_readiness_start(&r, &rc), TV_OK);
  assert_true(wait_reason(r, TV_E_AUDIT_NO_SPACE));
  tv_readiness_stop(r);
  assert_int_equal(tv_audit_close(log), TV_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_null_is_ready),
      cmocka_unit_test_setup_teardown(test_failure_cleared_by_probe, audit_setup, audit_teardown),
      cmocka_unit_test_setup_teardown(test_free_space_checked, audit_setup, audit_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
