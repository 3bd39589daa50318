/* db_text_array: the exact bytes of PostgreSQL's binary text[] (array_recv
 * reads them), NULL elements, reuse after reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/cli/db_text_array.h"

static void test_layout_of_two_elements_and_a_null(void **state) {
  (void)state;
  db_text_array a = {0};
  db_text_array_reset(&a);
  db_text_array_push(&a, "ab");
  db_text_array_push(&a, NULL);
  db_text_array_push(&a, "");
  int len = 0;
  const char *bytes = db_text_array_finish(&a, &len);
  static const uint8_t want[] = {0, 0, 0, 1,  0, 0, 0, 1,  0, 0, 0, 25, 0, 0, 0, 3, 0, 0, 0, 1,
                                 0, 0, 0, 2,  'a', 'b',    0xff, 0xff, 0xff, 0xff,  0, 0, 0, 0};
  assert_int_equal(len, sizeof want);
  assert_memory_equal(bytes, want, sizeof want);
  db_text_array_free(&a);
}

static void test_reset_starts_a_new_array(void **state) {
  (void)state;
  db_text_array a = {0};
  db_text_array_reset(&a);
  for (int i = 0; i < 5000; i++) db_text_array_push(&a, "4111111111111111"); /* grows the buffer */
  int len = 0;
  assert_non_null(db_text_array_finish(&a, &len));
  assert_int_equal(len, 20 + 5000 * (4 + 16));
  db_text_array_reset(&a);
  assert_int_equal(a.count, 0);
  const char *bytes = db_text_array_finish(&a, &len);
  assert_int_equal(len, 20);
  assert_int_equal((uint8_t)bytes[15], 0); /* zero elements */
  db_text_array_free(&a);
  assert_null(a.buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layout_of_two_elements_and_a_null),
      cmocka_unit_test(test_reset_starts_a_new_array),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
