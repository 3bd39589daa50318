/* The method -> permission table (vault/service/authz.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vault/service/authz.h"

static void expect(tv_method_id id, int full, tv_permission want) {
  tv_permission got = TV_PERM_COUNT;
  assert_true(tv_method_permission(id, full, &got));
  assert_int_equal(got, want);
}

static void test_table(void **state) {
  (void)state;
  expect(TV_METHOD_TOKENIZE, 0, TV_PERM_TOKENIZE);
  expect(TV_METHOD_TOKENIZE_STREAM, 0, TV_PERM_TOKENIZE);
  expect(TV_METHOD_DETOKENIZE, 0, TV_PERM_DETOKENIZE_MASKED);
  expect(TV_METHOD_DETOKENIZE, 1, TV_PERM_DETOKENIZE_FULL);
  expect(TV_METHOD_DETOKENIZE_STREAM, 1, TV_PERM_DETOKENIZE_FULL);
  expect(TV_METHOD_DETOKENIZE_STREAM, 0, TV_PERM_DETOKENIZE_MASKED);
  expect(TV_METHOD_DELETE_TOKENS, 0, TV_PERM_DELETE);
  expect(TV_METHOD_ERASE_VALUE, 0, TV_PERM_DELETE);
  expect(TV_METHOD_GET_TOKEN_INFO, 0, TV_PERM_DETOKENIZE_MASKED); /* like a NONE reveal (issue 13) */
  expect(TV_METHOD_LIST_KEYS, 0, TV_PERM_KEYS_READ);
  expect(TV_METHOD_GET_ROTATION_STATUS, 0, TV_PERM_KEYS_READ);
  expect(TV_METHOD_ROTATE_DATA_KEY, 0, TV_PERM_KEYS_ROTATE);
  expect(TV_METHOD_PROPOSE_KEK_ROTATION, 0, TV_PERM_KEYS_ROTATE);
  expect(TV_METHOD_APPROVE_KEK_ROTATION, 0, TV_PERM_KEYS_APPROVE);
  expect(TV_METHOD_VERIFY_AUDIT, 0, TV_PERM_AUDIT_READ);
  expect(TV_METHOD_READ_AUDIT, 0, TV_PERM_AUDIT_READ);
}

static void test_open_methods(void **state) {
  (void)state;
  tv_permission p = TV_PERM_COUNT;
  assert_false(tv_method_permission(TV_METHOD_HEALTH_CHECK, 0, &p));
  assert_false(tv_method_permission(TV_METHOD_HEALTH_WATCH, 0, &p));
  assert_false(tv_method_permission(TV_METHOD_WHO_AM_I, 1, &p));
  assert_int_equal(p, TV_PERM_COUNT); /* untouched */
}

/* Every method that is not open needs exactly one permission: a new
 * method added to the table without a row here fails this test. */
static void test_every_method_decided(void **state) {
  (void)state;
  int open = 0;
  for (int i = 0; i < TV_METHOD_COUNT; i++) {
    tv_permission p = TV_PERM_COUNT;
    if (!tv_method_permission((tv_method_id)i, 0, &p)) {
      open++;
    } else {
      assert_true(p < TV_PERM_COUNT);
    }
  }
  assert_int_equal(open, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_open_methods),
      cmocka_unit_test(test_every_method_decided),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
