/* tv_utf8_valid: well-formed sequences of each length pass; overlong forms,
 * surrogates, out-of-range code points, stray and missing continuation
 * bytes fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/server/common/utf8.h"

static int valid(const char *s) { return tv_utf8_valid((const uint8_t *)s, strlen(s)); }

static void test_valid(void **state) {
  (void)state;
  assert_true(valid(""));
  assert_true(valid("4111 1111 1111 1111"));
  assert_true(valid("M\xc3\xbcller"));          /* ü */
  assert_true(valid("\xe2\x82\xac"));           /* € */
  assert_true(valid("\xf0\x9f\x94\x91"));       /* U+1F511 */
  assert_true(valid("\xf4\x8f\xbf\xbf"));       /* U+10FFFF */
  assert_true(valid("\xed\x9f\xbf"));           /* U+D7FF, just below surrogates */
}

static void test_invalid(void **state) {
  (void)state;
  assert_false(valid("\x80"));                  /* stray continuation */
  assert_false(valid("\xc3"));                  /* missing continuation */
  assert_false(valid("\xc3("));                 /* bad continuation */
  assert_false(valid("\xc0\xaf"));              /* overlong '/' */
  assert_false(valid("\xe0\x80\xaf"));          /* overlong, 3 bytes */
  assert_false(valid("\xf0\x80\x80\xaf"));      /* overlong, 4 bytes */
  assert_false(valid("\xed\xa0\x80"));          /* U+D800 surrogate */
  assert_false(valid("\xf4\x90\x80\x80"));      /* above U+10FFFF */
  assert_false(valid("\xf8\x88\x80\x80\x80"));  /* 5-byte form */
  assert_false(valid("\xff"));
  assert_false(valid("ok\xe2\x82"));            /* truncated at the end */
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_valid), cmocka_unit_test(test_invalid)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
