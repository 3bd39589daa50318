/* Request integers that become times (vault/util/expiry.h): the values of
 * the report (2^61, 2^62, 2^62 + 2 seconds, which wrapped to "never" or
 * "2 s" when multiplied by 1000) are refused before any arithmetic. Run
 * under the sanitizer build as well: the conversion must not overflow
 * for any int64 input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/util/expiry.h"

static void test_ttl_in_range_converts(void **state) {
  (void)state;
  uint64_t ms = 1;
  assert_int_equal(tv_ttl_seconds_to_ms(0, &ms, NULL, 0), TV_OK);
  assert_int_equal(ms, 0); /* the namespace's default */
  assert_int_equal(tv_ttl_seconds_to_ms(3600, &ms, NULL, 0), TV_OK);
  assert_int_equal(ms, 3600000u);
  assert_int_equal(tv_ttl_seconds_to_ms((int64_t)TV_TTL_SECONDS_MAX, &ms, NULL, 0), TV_OK);
  assert_int_equal(ms, TV_TTL_SECONDS_MAX * 1000u);
}

static void test_ttl_out_of_range_refused_with_the_limit(void **state) {
  (void)state;
  const int64_t bad[] = {(int64_t)TV_TTL_SECONDS_MAX + 1, INT64_C(1) << 61, INT64_C(1) << 62,
                         (INT64_C(1) << 62) + 2, INT64_MAX, -1, INT64_MIN};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t ms = 42;
    char why[160] = "";
    assert_int_equal(tv_ttl_seconds_to_ms(bad[i], &ms, why, sizeof why), TV_E_INVALID_ARGUMENT);
    assert_int_equal(ms, 42); /* untouched */
    assert_non_null(strstr(why, "ttl_seconds"));
    assert_non_null(strstr(why, "3162240000"));
  }
}

static void test_expires_at_range(void **state) {
  (void)state;
  const uint64_t now = UINT64_C(1764900000000);
  char why[160] = "";
  assert_int_equal(tv_expires_at_check((int64_t)now + 1000, now, why, sizeof why), TV_OK);
  assert_int_equal(tv_expires_at_check(0, now, why, sizeof why), TV_OK); /* past: the engine's ENGINE_EXPIRY */
  assert_int_equal(tv_expires_at_check((int64_t)(now + TV_TTL_SECONDS_MAX * 1000u), now, why, sizeof why), TV_OK);
  assert_int_equal(tv_expires_at_check((int64_t)(now + TV_TTL_SECONDS_MAX * 1000u) + 1, now, why, sizeof why),
                   TV_E_INVALID_ARGUMENT);
  assert_non_null(strstr(why, "expires_at_unix_ms"));
  assert_int_equal(tv_expires_at_check(-1, now, why, sizeof why), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_expires_at_check(INT64_MAX, now, why, sizeof why), TV_E_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ttl_in_range_converts),
      cmocka_unit_test(test_ttl_out_of_range_refused_with_the_limit),
      cmocka_unit_test(test_expires_at_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
