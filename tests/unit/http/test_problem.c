/* Problem answers: the HTTP status of each canonical code and status
 * name, and the RFC 9457 body carrying the gRPC status name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/server/http/json_codec.h"
#include "vault/server/http/problem.h"

static void test_http_status(void **state) {
  (void)state;
  assert_int_equal(tv_problem_http_status(TV_CODE_INVALID_ARGUMENT, "SERVER_REQUEST_MALFORMED"), 400);
  assert_int_equal(tv_problem_http_status(TV_CODE_UNAUTHENTICATED, NULL), 401);
  assert_int_equal(tv_problem_http_status(TV_CODE_PERMISSION_DENIED, "POLICY_DENIED"), 403);
  assert_int_equal(tv_problem_http_status(TV_CODE_NOT_FOUND, "ENGINE_NAMESPACE"), 404);
  assert_int_equal(tv_problem_http_status(TV_CODE_ALREADY_EXISTS, NULL), 409);
  assert_int_equal(tv_problem_http_status(TV_CODE_FAILED_PRECONDITION, "KEYRING_KEY_STATE"), 409);
  assert_int_equal(tv_problem_http_status(TV_CODE_FAILED_PRECONDITION, "POLICY_REASON_REQUIRED"), 400);
  assert_int_equal(tv_problem_http_status(TV_CODE_RESOURCE_EXHAUSTED, "SERVER_REQUEST_TOO_LARGE"), 413);
  assert_int_equal(tv_problem_http_status(TV_CODE_RESOURCE_EXHAUSTED, "POLICY_TOO_MANY_ITEMS"), 413);
  assert_int_equal(tv_problem_http_status(TV_CODE_RESOURCE_EXHAUSTED, "POLICY_RATE_LIMITED"), 429);
  assert_int_equal(tv_problem_http_status(TV_CODE_RESOURCE_EXHAUSTED, "SERVER_BUSY"), 429);
  assert_int_equal(tv_problem_http_status(TV_CODE_RESOURCE_EXHAUSTED, "STORE_NO_SPACE"), 503);
  assert_int_equal(tv_problem_http_status(TV_CODE_UNAVAILABLE, "AUDIT_NO_SPACE"), 503);
  assert_int_equal(tv_problem_http_status(TV_CODE_UNIMPLEMENTED, NULL), 501);
  assert_int_equal(tv_problem_http_status(TV_CODE_INTERNAL, NULL), 500);
}

static void test_name_of(void **state) {
  (void)state;
  char name[64];
  tv_problem_name_of(name, sizeof name, TV_CODE_PERMISSION_DENIED, "POLICY_DENIED: 'x' refused tokenize");
  assert_string_equal(name, "POLICY_DENIED");
  tv_problem_name_of(name, sizeof name, TV_CODE_UNAVAILABLE, "audit log unavailable (AUDIT_NO_SPACE: ...)");
  assert_string_equal(name, "UNAVAILABLE");
  tv_problem_name_of(name, sizeof name, TV_CODE_UNAUTHENTICATED, NULL);
  assert_string_equal(name, "UNAUTHENTICATED");
}

static void test_encode(void **state) {
  (void)state;
  unsigned int http = 0;
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(tv_problem_encode_status(TV_E_POLICY_DENIED, "'dev:local' refused tokenize in 'pan'", &http, &text,
                                            &len),
                   TV_OK);
  assert_int_equal(http, 403);
  assert_string_equal(text, "{\"type\":\"urn:tokenvault:problem:POLICY_DENIED\",\"title\":\"POLICY_DENIED\","
                            "\"status\":403,\"detail\":\"POLICY_DENIED: 'dev:local' refused tokenize in 'pan'\","
                            "\"code\":\"PERMISSION_DENIED\",\"name\":\"POLICY_DENIED\"}");
  assert_int_equal(len, strlen(text));
  tv_json_text_free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_http_status),
      cmocka_unit_test(test_name_of),
      cmocka_unit_test(test_encode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
