#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "vault/util/secure_mem.h"

static void test_wipe_zeroes(void **state) {
  (void)state;
  uint8_t buf[64];
  memset(buf, 0xA5, sizeof buf);
  tv_wipe(buf, sizeof buf);
  for (size_t i = 0; i < sizeof buf; i++) {
    assert_int_equal(buf[i], 0);
  }
  tv_wipe(NULL, 0);
}

static void test_ct_equal(void **state) {
  (void)state;
  uint8_t a[32], b[32];
  memset(a, 7, sizeof a);
  memset(b, 7, sizeof b);
  assert_int_equal(tv_ct_equal(a, b, sizeof a), 1);
  for (size_t i = 0; i < sizeof a; i++) {
    for (unsigned bit = 0; bit < 8; bit++) {
      b[i] ^= (uint8_t)(1u << bit);
      assert_int_equal(tv_ct_equal(a, b, sizeof a), 0);
      b[i] ^= (uint8_t)(1u << bit);
    }
  }
  assert_int_equal(tv_ct_equal(a, b, 0), 1);
}

static void test_secure_alloc_is_zeroed_and_usable(void **state) {
  (void)state;
  size_t len = 10000;
  uint8_t *p = tv_secure_alloc(len);
  assert_non_null(p);
  for (size_t i = 0; i < len; i++) {
    assert_int_equal(p[i], 0);
  }
  memset(p, 0xFF, len);
  tv_secure_free(p, len);
  tv_secure_free(NULL, 0);
  assert_null(tv_secure_alloc(0));
}

static void test_harden_disables_core_dumps(void **state) {
  (void)state;
  assert_int_equal(tv_harden_process(), 0);
  struct rlimit lim;
  assert_int_equal(getrlimit(RLIMIT_CORE, &lim), 0);
  assert_int_equal(lim.rlim_cur, 0);
  assert_int_equal(lim.rlim_max, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wipe_zeroes),
      cmocka_unit_test(test_ct_equal),
      cmocka_unit_test(test_secure_alloc_is_zeroed_and_usable),
      cmocka_unit_test(test_harden_disables_core_dumps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
