#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/util/status.h"

static tv_status fails_with(tv_status s) {
  TV_TRY(s);
  return TV_OK;
}

static tv_status ensure(int cond) {
  TV_ENSURE(cond, TV_E_FF1_RADIX);
  return TV_OK;
}

static void test_try_propagates(void **state) {
  (void)state;
  assert_int_equal(fails_with(TV_OK), TV_OK);
  assert_int_equal(fails_with(TV_E_IO), TV_E_IO);
  assert_int_equal(ensure(1), TV_OK);
  assert_int_equal(ensure(0), TV_E_FF1_RADIX);
}

static void test_every_code_has_distinct_text(void **state) {
  (void)state;
  /* Every code in 0..999 that has a name has a message, and names are
   * unique: codes reach clients, so an unnamed code would be a bug. */
  const char *names[1000] = {0};
  int named = 0;
  for (int code = 0; code < 1000; code++) {
    const char *name = tv_status_name((tv_status)code);
    if (strcmp(name, "UNKNOWN") == 0) {
      assert_string_equal(tv_status_message((tv_status)code), "unknown error");
      continue;
    }
    named++;
    assert_string_not_equal(tv_status_message((tv_status)code), "unknown error");
    for (int other = 0; other < code; other++) {
      if (names[other] != NULL) {
        assert_string_not_equal(names[other], name);
      }
    }
    names[code] = name;
  }
  assert_true(named > 30);
  assert_string_equal(tv_status_name(TV_E_FF1_RADIX), "FF1_RADIX");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_try_propagates),
      cmocka_unit_test(test_every_code_has_distinct_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
