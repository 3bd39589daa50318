/* row_ns: which namespace names a row may give, and which stream failures
 * in a row's namespace fail only that row's cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/cli/row_ns.h"

static void test_check_names(void **state) {
  (void)state;
  assert_string_equal(row_ns_check(NULL, 0), ROW_NS_MISSING);
  assert_string_equal(row_ns_check("pan", 0), ROW_NS_MISSING);
  assert_null(row_ns_check("pan", 3));
  assert_null(row_ns_check("passport", 8)); /* unknown to the vault: it says so */
  char longest[ROW_NS_NAME_BYTES_MAX + 1];
  memset(longest, 'n', sizeof longest);
  assert_null(row_ns_check(longest, ROW_NS_NAME_BYTES_MAX));
  assert_string_equal(row_ns_check(longest, ROW_NS_NAME_BYTES_MAX + 1), "NOT_FOUND");
  assert_string_equal(row_ns_check("pa\0n", 4), "NOT_FOUND");
  assert_string_equal(row_ns_check("pan\n", 4), "NOT_FOUND");
  assert_string_equal(row_ns_check("p\x7f", 2), "NOT_FOUND");
  assert_null(row_ns_check("p\xc3\xa9", 3)); /* UTF-8 is a name to ask about */
}

static tv_client_error error_of(tv_client_code code, const char *message) {
  tv_client_error e = {.code = code};
  snprintf(e.message, sizeof e.message, "%s", message);
  return e;
}

static void test_fault(void **state) {
  (void)state;
  const tv_client_code row[] = {TV_CLIENT_NOT_FOUND, TV_CLIENT_INVALID_ARGUMENT, TV_CLIENT_PERMISSION_DENIED,
                                TV_CLIENT_FAILED_PRECONDITION};
  for (size_t i = 0; i < sizeof row / sizeof row[0]; i++) {
    tv_client_error e = error_of(row[i], "no such namespace");
    assert_int_equal(row_ns_fault(&e), 1);
  }
  const tv_client_code job[] = {TV_CLIENT_UNAVAILABLE, TV_CLIENT_DEADLINE_EXCEEDED, TV_CLIENT_INTERNAL,
                                TV_CLIENT_UNAUTHENTICATED, TV_CLIENT_RESOURCE_EXHAUSTED};
  for (size_t i = 0; i < sizeof job / sizeof job[0]; i++) {
    tv_client_error e = error_of(job[i], "connection lost");
    assert_int_equal(row_ns_fault(&e), 0);
  }
  /* A policy that wants --reason: the job's to fix, not the row's. */
  tv_client_error e = error_of(TV_CLIENT_FAILED_PRECONDITION, "REASON_REQUIRED: give a reason");
  assert_int_equal(row_ns_fault(&e), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_names),
      cmocka_unit_test(test_fault),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
