/* The method table: rows in enum order, paths unique and findable, the
 * streaming kinds the proto declares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/service/methods.h"

static void test_rows_in_order_and_findable(void **state) {
  (void)state;
  for (int id = 0; id < TV_METHOD_COUNT; id++) {
    const tv_method *m = tv_method_get((tv_method_id)id);
    assert_int_equal(m->id, id);
    assert_non_null(m->request);
    assert_non_null(m->response);
    assert_ptr_equal(tv_method_find(m->path, strlen(m->path)), m);
    assert_int_equal(m->path[0], '/');
  }
}

static void test_kinds(void **state) {
  (void)state;
  assert_int_equal(tv_method_get(TV_METHOD_TOKENIZE_STREAM)->kind, TV_METHOD_BIDI_STREAMING);
  assert_int_equal(tv_method_get(TV_METHOD_DETOKENIZE_STREAM)->kind, TV_METHOD_BIDI_STREAMING);
  assert_int_equal(tv_method_get(TV_METHOD_HEALTH_WATCH)->kind, TV_METHOD_SERVER_STREAMING);
  assert_int_equal(tv_method_get(TV_METHOD_READ_AUDIT)->kind, TV_METHOD_SERVER_STREAMING);
  assert_int_equal(tv_method_get(TV_METHOD_TOKENIZE)->kind, TV_METHOD_UNARY);
  assert_string_equal(tv_method_get(TV_METHOD_HEALTH_CHECK)->path, "/grpc.health.v1.Health/Check");
  assert_string_equal(tv_method_get(TV_METHOD_WHO_AM_I)->path, "/tokenvault.v1.TokenVault/WhoAmI");
}

static void test_unknown_paths(void **state) {
  (void)state;
  const char *path = "/tokenvault.v1.TokenVault/Tokenize";
  assert_null(tv_method_find(path, strlen(path) - 1)); /* a prefix is not a match */
  assert_null(tv_method_find("/tokenvault.v1.TokenVault/TokenizeX", 35));
  assert_null(tv_method_find("", 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rows_in_order_and_findable),
      cmocka_unit_test(test_kinds),
      cmocka_unit_test(test_unknown_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
