/* Checked cursors: reads and writes never pass the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vault/store/cursor.h"

static void test_reads_and_overrun(void **state) {
  (void)state;
  const uint8_t data[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  tv_cursor c;
  tv_cursor_init(&c, data, sizeof data);
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  assert_int_equal(tv_cursor_u8(&c, &u8), TV_OK);
  assert_int_equal(u8, 1);
  assert_int_equal(tv_cursor_u16(&c, &u16), TV_OK);
  assert_int_equal(u16, 0x0302);
  assert_int_equal(tv_cursor_u32(&c, &u32), TV_OK);
  assert_int_equal(u32, 0x07060504u);
  assert_int_equal(c.len, 8);
  /* 8 bytes left: a u64 fits exactly, then nothing more does. */
  assert_int_equal(tv_cursor_u64(&c, &u64), TV_OK);
  assert_true(u64 == 0x0f0e0d0c0b0a0908ull);
  assert_int_equal(tv_cursor_u8(&c, &u8), TV_E_STORE_RECORD_TRUNCATED);
  const uint8_t *p;
  assert_int_equal(tv_cursor_bytes(&c, &p, 1), TV_E_STORE_RECORD_TRUNCATED);
  assert_int_equal(tv_cursor_bytes(&c, &p, 0), TV_OK);
}

static void test_failed_read_leaves_cursor(void **state) {
  (void)state;
  const uint8_t data[3] = {0xaa, 0xbb, 0xcc};
  tv_cursor c;
  tv_cursor_init(&c, data, sizeof data);
  uint32_t u32;
  assert_int_equal(tv_cursor_u32(&c, &u32), TV_E_STORE_RECORD_TRUNCATED);
  assert_int_equal(c.len, 3);
  assert_ptr_equal(c.data, data);
  uint8_t out[4];
  assert_int_equal(tv_cursor_copy(&c, out, 4), TV_E_STORE_RECORD_TRUNCATED);
  assert_int_equal(tv_cursor_copy(&c, out, 3), TV_OK);
  assert_int_equal(out[2], 0xcc);
}

static void test_builder(void **state) {
  (void)state;
  uint8_t buf[7];
  tv_builder b;
  tv_builder_init(&b, buf, sizeof buf);
  assert_int_equal(tv_builder_u32(&b, 0x04030201u), TV_OK);
  assert_int_equal(tv_builder_u16(&b, 0x0605), TV_OK);
  assert_int_equal(tv_builder_u16(&b, 0x0807), TV_E_INVALID_ARGUMENT); /* one byte left */
  assert_int_equal(b.len, 6);
  assert_int_equal(tv_builder_u8(&b, 7), TV_OK);
  assert_int_equal(tv_builder_bytes(&b, "x", 1), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_builder_u64(&b, 1), TV_E_INVALID_ARGUMENT);
  for (int i = 0; i < 7; i++) {
    assert_int_equal(buf[i], i + 1);
  }
  assert_int_equal(tv_le32(buf), 0x04030201u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_and_overrun),
      cmocka_unit_test(test_failed_read_leaves_cursor),
      cmocka_unit_test(test_builder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
