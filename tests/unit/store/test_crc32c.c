/* CRC32C: known answers, and the SSE4.2 and table paths agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vault/store/crc32c.h"

static void test_known_answers(void **state) {
  (void)state;
  /* RFC 3720 B.4 and the common "123456789" check value. */
  assert_int_equal(tv_crc32c_extend(0, "123456789", 9), 0xE3069283u);
  uint8_t zeros[32] = {0};
  assert_int_equal(tv_crc32c_extend(0, zeros, sizeof zeros), 0x8A9136AAu);
  uint8_t ones[32];
  memset(ones, 0xff, sizeof ones);
  assert_int_equal(tv_crc32c_extend(0, ones, sizeof ones), 0x62A8AB43u);
  uint8_t inc[32];
  for (int i = 0; i < 32; i++) {
    inc[i] = (uint8_t)i;
  }
  assert_int_equal(tv_crc32c_extend(0, inc, sizeof inc), 0x46DD794Eu);
  assert_int_equal(tv_crc32c_extend(0, NULL, 0), 0u);
}

static void test_paths_agree_and_extend(void **state) {
  (void)state;
  uint8_t buf[1031];
  srand(7);
  for (size_t i = 0; i < sizeof buf; i++) {
    buf[i] = (uint8_t)rand();
  }
  for (size_t len = 0; len <= sizeof buf; len += 13) {
    for (size_t start = 0; start < 8 && start < len; start++) {
      uint32_t a = tv_crc32c_extend(0, buf + start, len - start);
      uint32_t b = tv_crc32c_portable(0, buf + start, len - start);
      assert_int_equal(a, b);
      size_t cut = (len - start) / 3;
      uint32_t c = tv_crc32c_extend(tv_crc32c_extend(0, buf + start, cut), buf + start + cut, len - start - cut);
      assert_int_equal(a, c);
    }
  }
  /* A single flipped bit always changes the CRC. */
  uint32_t before = tv_crc32c_extend(0, buf, 200);
  buf[100] ^= 0x10;
  assert_int_not_equal(before, tv_crc32c_extend(0, buf, 200));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_answers),
      cmocka_unit_test(test_paths_agree_and_extend),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
