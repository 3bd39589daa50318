/* hsm/counter.c: the monotonic generation counter in the HSM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hsm/counter.h"
#include "tests/unit/hsm/hsm_test_util.h"

static void test_counter_moves_only_up(void **state) {
  hsm_fixture *fx = *state;
  uint64_t value = 99;
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 5, 0), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 5, 1), TV_OK);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_OK);
  assert_int_equal(value, 5);
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 5, 0), TV_OK);
  /* Data objects are immutable: this creates a new one, drops the old. */
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", UINT64_C(1) << 40, 0), TV_OK);
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 6, 0), TV_E_HSM_OPERATION);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_OK);
  assert_int_equal(value, UINT64_C(1) << 40);
  /* Counters are independent by label. */
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "other", 1, 1), TV_OK);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "other"), TV_OK);
  assert_int_equal(value, 1);
  assert_int_equal(tv_hsm_counter_destroy(fx->hsm, "gen"), TV_OK);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_counter_destroy(fx->hsm, "gen"), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, ""), TV_E_INVALID_ARGUMENT);
}

static void test_counter_survives_reconnect(void **state) {
  hsm_fixture *fx = *state;
  assert_int_equal(tv_hsm_counter_advance(fx->hsm, "gen", 42, 1), TV_OK);
  tv_hsm_free(fx->hsm);
  fx->hsm = NULL;
  assert_int_equal(tv_hsm_open(&fx->hsm, &fx->config), TV_OK);
  uint64_t value = 0;
  assert_int_equal(tv_hsm_counter_read(fx->hsm, &value, "gen"), TV_OK);
  assert_int_equal(value, 42);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_counter_moves_only_up, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_counter_survives_reconnect, hsm_setup, hsm_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
