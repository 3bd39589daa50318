/* The CKR table and its mapping (hsm/ckr.c), and PIN sources (hsm/pin.c):
 * no HSM needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsm/p11.h"
#include "hsm/pin.h"

static void test_names(void **state) {
  (void)state;
  assert_string_equal(hsm_ckr_name(CKR_OK), "CKR_OK");
  assert_string_equal(hsm_ckr_name(CKR_PIN_LOCKED), "CKR_PIN_LOCKED");
  assert_string_equal(hsm_ckr_name(CKR_DEVICE_REMOVED), "CKR_DEVICE_REMOVED");
  assert_string_equal(hsm_ckr_name(CKR_WRAPPED_KEY_INVALID), "CKR_WRAPPED_KEY_INVALID");
  assert_string_equal(hsm_ckr_name(CKR_FUNCTION_REJECTED), "CKR_FUNCTION_REJECTED");
  assert_string_equal(hsm_ckr_name(CKR_VENDOR_DEFINED + 5), "CKR_VENDOR_DEFINED");
  assert_string_equal(hsm_ckr_name(0x7777), "CKR_UNKNOWN");
}

static void test_every_standard_code_has_a_name(void **state) {
  (void)state;
  /* Walk the standard range: a code either has its own name or is not
   * defined by PKCS#11 2.40; defined ones spot-checked above. */
  unsigned named = 0;
  for (CK_RV rv = 0; rv < 0x300; rv++) {
    const char *name = hsm_ckr_name(rv);
    assert_true(strncmp(name, "CKR_", 4) == 0);
    named += strcmp(name, "CKR_UNKNOWN") != 0;
  }
  assert_true(named >= 90);
}

static void test_mapping(void **state) {
  (void)state;
  assert_int_equal(hsm_ckr_status(CKR_PIN_INCORRECT), TV_E_HSM_PIN_INCORRECT);
  assert_int_equal(hsm_ckr_status(CKR_PIN_LOCKED), TV_E_HSM_PIN_LOCKED);
  assert_int_equal(hsm_ckr_status(CKR_DEVICE_REMOVED), TV_E_HSM_UNAVAILABLE);
  assert_int_equal(hsm_ckr_status(CKR_SESSION_HANDLE_INVALID), TV_E_HSM_UNAVAILABLE);
  assert_int_equal(hsm_ckr_status(CKR_TOKEN_NOT_PRESENT), TV_E_HSM_UNAVAILABLE);
  assert_int_equal(hsm_ckr_status(CKR_WRAPPED_KEY_INVALID), TV_E_HSM_WRAPPED_INVALID);
  assert_int_equal(hsm_ckr_status(CKR_SIGNATURE_INVALID), TV_E_HSM_MAC_INVALID);
  assert_int_equal(hsm_ckr_status(CKR_KEY_FUNCTION_NOT_PERMITTED), TV_E_HSM_KEY_DISABLED);
  assert_int_equal(hsm_ckr_status(CKR_MECHANISM_INVALID), TV_E_HSM_OPERATION);
  assert_int_equal(hsm_ckr_status(CKR_HOST_MEMORY), TV_E_NO_MEMORY);
  assert_true(hsm_ckr_is_lost(CKR_DEVICE_REMOVED));
  assert_true(hsm_ckr_is_lost(CKR_USER_NOT_LOGGED_IN));
  assert_false(hsm_ckr_is_lost(CKR_PIN_INCORRECT));
  assert_false(hsm_ckr_is_lost(CKR_OK));
  /* Every HSM status has a sentence and lies in 300..399. */
  for (CK_RV rv = 1; rv < 0x200; rv++) {
    tv_status st = hsm_ckr_status(rv);
    assert_true(st == TV_E_NO_MEMORY || (st >= 300 && st <= 399));
    assert_string_not_equal(tv_status_message(st), "unknown error");
  }
}

static void test_detail_line(void **state) {
  (void)state;
  hsm_detail_clear();
  assert_string_equal(tv_hsm_error_detail(), "");
  assert_int_equal(hsm_fail("C_Login", CKR_PIN_INCORRECT), TV_E_HSM_PIN_INCORRECT);
  assert_string_equal(tv_hsm_error_detail(), "C_Login: CKR_PIN_INCORRECT (0xa0)");
}

/* ---- PIN sources --------------------------------------------------------- */

static char pin_path[] = "/tmp/tv-hsm-pin-XXXXXX";

static void write_pin(const char *bytes, size_t len) {
  FILE *f = fopen(pin_path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void expect_pin(tv_hsm_pin_kind kind, const char *source, tv_status status,
                       const char *expected) {
  char pin[HSM_PIN_MAX + 1];
  size_t len = 99;
  assert_int_equal(hsm_pin_read(pin, &len, kind, source), status);
  if (status == TV_OK) {
    assert_int_equal(len, strlen(expected));
    assert_string_equal(pin, expected);
  } else {
    assert_int_equal(len, 0);
    static const char zeros[HSM_PIN_MAX + 1] = {0};
    assert_memory_equal(pin, zeros, sizeof pin);
  }
}

static void test_pin_file(void **state) {
  (void)state;
  int fd = mkstemp(pin_path);
  assert_true(fd >= 0);
  close(fd);
  write_pin("123456\n", 7);
  expect_pin(TV_HSM_PIN_FILE, pin_path, TV_OK, "123456");
  write_pin("123456\r\nsecond line\n", 20);
  expect_pin(TV_HSM_PIN_FILE, pin_path, TV_OK, "123456");
  write_pin("no newline", 10);
  expect_pin(TV_HSM_PIN_FILE, pin_path, TV_OK, "no newline");
  write_pin("\n", 1);
  expect_pin(TV_HSM_PIN_FILE, pin_path, TV_E_HSM_PIN_SOURCE, NULL);
  write_pin("", 0);
  expect_pin(TV_HSM_PIN_FILE, pin_path, TV_E_HSM_PIN_SOURCE, NULL);
  char big[HSM_PIN_MAX + 10];
  memset(big, '7', sizeof big);
  write_pin(big, sizeof big);
  expect_pin(TV_HSM_PIN_FILE, pin_path, TV_E_HSM_PIN_SOURCE, NULL);
  write_pin(big, HSM_PIN_MAX); /* exactly at the limit */
  char *at_limit = calloc(1, HSM_PIN_MAX + 1);
  memset(at_limit, '7', HSM_PIN_MAX);
  expect_pin(TV_HSM_PIN_FILE, pin_path, TV_OK, at_limit);
  free(at_limit);
  unlink(pin_path);
  expect_pin(TV_HSM_PIN_FILE, pin_path, TV_E_HSM_PIN_SOURCE, NULL);
  expect_pin(TV_HSM_PIN_FILE, "/", TV_E_HSM_PIN_SOURCE, NULL); /* a directory */
  expect_pin(TV_HSM_PIN_FILE, "", TV_E_HSM_PIN_SOURCE, NULL);
  expect_pin(TV_HSM_PIN_FILE, NULL, TV_E_HSM_PIN_SOURCE, NULL);
  expect_pin((tv_hsm_pin_kind)9, "x", TV_E_HSM_PIN_SOURCE, NULL);
}

static void test_pin_env(void **state) {
  (void)state;
  setenv("TV_TEST_PIN", "s3cret", 1);
  expect_pin(TV_HSM_PIN_ENV, "TV_TEST_PIN", TV_OK, "s3cret");
  setenv("TV_TEST_PIN", "", 1);
  expect_pin(TV_HSM_PIN_ENV, "TV_TEST_PIN", TV_E_HSM_PIN_SOURCE, NULL);
  unsetenv("TV_TEST_PIN");
  expect_pin(TV_HSM_PIN_ENV, "TV_TEST_PIN", TV_E_HSM_PIN_SOURCE, NULL);
  assert_non_null(strstr(tv_hsm_error_detail(), "TV_TEST_PIN"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),       cmocka_unit_test(test_every_standard_code_has_a_name),
      cmocka_unit_test(test_mapping),     cmocka_unit_test(test_detail_line),
      cmocka_unit_test(test_pin_file),    cmocka_unit_test(test_pin_env),
  };
  return cmocka_run_group_tests_name("hsm_ckr", tests, NULL, NULL);
}
