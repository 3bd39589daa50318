/* Readiness over a PostgreSQL store: the probe asks the store's health,
 * so the vault is NOT_SERVING with STORE_UNAVAILABLE while the database is
 * stopped and SERVING again by itself once it is back (no call, no audit
 * line needed); a durable audit line alone does not clear a store fault.
 * The status mapping gives the database's faults their RPC codes. Run
 * through tests/support/pg_cluster.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/audit/audit_test_util.h"
#include "tests/unit/store/store_backend_util.h"
#include "vault/service/readiness.h"
#include "vault/service/status_map.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int wait_reason(tv_readiness *r, tv_status want) {
  for (int i = 0; i < 1500; i++) {
    if (tv_readiness_reason(r) == want) {
      return 1;
    }
    sleep_ms(10);
  }
  return 0;
}

static void run_shell(const char *env_name) {
  const char *cmd = getenv(env_name);
  assert_non_null(cmd);
  assert_int_equal(system(cmd), 0);
}

static void test_database_stopped_is_not_serving(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  test_backend b;
  tv_store *store = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &store), TV_OK);
  tv_readiness *r = NULL;
  tv_readiness_config rc = {.audit = log, .audit_dir = fx->dir, .store = store, .probe_ms = 20};
  assert_int_equal(tv_readiness_start(&r, &rc), TV_OK);
  sleep_ms(100);
  assert_int_equal(tv_readiness_reason(r), TV_OK);
  run_shell("TV_TEST_PG_STOP");
  assert_true(wait_reason(r, TV_E_STORE_UNAVAILABLE));
  tv_readiness_audit(r, TV_OK); /* an audit line says nothing of the database */
  assert_int_equal(tv_readiness_reason(r), TV_E_STORE_UNAVAILABLE);
  run_shell("TV_TEST_PG_START");
  assert_true(wait_reason(r, TV_OK));
  tv_readiness_stop(r);
  tv_store_close(store);
  assert_int_equal(tv_audit_close(log), TV_OK);
}

/* The log backend has nothing to probe: ready as before. */
static void test_log_store_is_ready(void **state) {
  audit_fixture *fx = *state;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  test_backend b;
  tv_store *store = NULL;
  assert_int_equal(test_backend_open(&b, "log", &store), TV_OK);
  assert_int_equal(tv_store_health(store), TV_OK);
  tv_readiness *r = NULL;
  tv_readiness_config rc = {.audit = log, .audit_dir = fx->dir, .store = store, .probe_ms = 20};
  assert_int_equal(tv_readiness_start(&r, &rc), TV_OK);
  sleep_ms(100);
  assert_int_equal(tv_readiness_reason(r), TV_OK);
  tv_readiness_stop(r);
  tv_store_close(store);
  test_backend_cleanup(&b);
  assert_int_equal(tv_audit_close(log), TV_OK);
}

static void test_codes(void **state) {
  (void)state;
  assert_int_equal(tv_status_to_code(TV_E_STORE_UNAVAILABLE), TV_CODE_UNAVAILABLE);
  assert_int_equal(tv_status_to_code(TV_E_STORE_TIMEOUT), TV_CODE_DEADLINE_EXCEEDED);
  assert_int_equal(tv_status_to_code(TV_E_STORE_FINGERPRINT_EXISTS), TV_CODE_ABORTED);
  assert_string_equal(tv_status_name(TV_E_STORE_TIMEOUT), "STORE_TIMEOUT");
  assert_string_equal(tv_status_name(TV_E_STORE_UNAVAILABLE), "STORE_UNAVAILABLE");
  assert_string_equal(tv_code_name(TV_CODE_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codes),
      cmocka_unit_test_setup_teardown(test_log_store_is_ready, audit_setup, audit_teardown),
      cmocka_unit_test_setup_teardown(test_database_stopped_is_not_serving, audit_setup, audit_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
