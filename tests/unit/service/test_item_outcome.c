/* item_outcome: reason classes of failed items and their audit text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vault/service/item_outcome.h"

static void test_classes(void **state) {
  (void)state;
  assert_int_equal(tv_item_class_of(TV_E_ENGINE_NOT_FOUND), TV_ITEM_NOT_FOUND);
  assert_int_equal(tv_item_class_of(TV_E_STORE_NOT_FOUND), TV_ITEM_NOT_FOUND);
  assert_int_equal(tv_item_class_of(TV_E_ENGINE_DELETED), TV_ITEM_DELETED);
  assert_int_equal(tv_item_class_of(TV_E_ENGINE_EXPIRED), TV_ITEM_EXPIRED);
  assert_int_equal(tv_item_class_of(TV_E_FORMAT_LUHN), TV_ITEM_INVALID);
  assert_int_equal(tv_item_class_of(TV_E_FF1_DOMAIN_TOO_SMALL), TV_ITEM_INVALID);
  assert_int_equal(tv_item_class_of(TV_E_INVALID_ARGUMENT), TV_ITEM_INVALID);
  assert_int_equal(tv_item_class_of(TV_E_ENGINE_METADATA_TOO_LARGE), TV_ITEM_INVALID);
  assert_int_equal(tv_item_class_of(TV_E_POLICY_DENIED), TV_ITEM_POLICY);
  assert_int_equal(tv_item_class_of(TV_E_POLICY_RATE_LIMITED), TV_ITEM_POLICY);
  assert_int_equal(tv_item_class_of(TV_E_ENGINE_NAMESPACE), TV_ITEM_NAMESPACE);
  assert_int_equal(tv_item_class_of(TV_E_ENGINE_DECRYPT), TV_ITEM_KEY);
  assert_int_equal(tv_item_class_of(TV_E_KEYRING_KEY_STATE), TV_ITEM_KEY);
  assert_int_equal(tv_item_class_of(TV_E_HSM_UNAVAILABLE), TV_ITEM_KEY);
  assert_int_equal(tv_item_class_of(TV_E_STORE_WRITE_FAILED), TV_ITEM_ERROR);
  assert_int_equal(tv_item_class_of(TV_E_INTERNAL), TV_ITEM_ERROR);
  assert_string_equal(tv_item_class_name(TV_ITEM_NOT_FOUND), "not_found");
  assert_string_equal(tv_item_class_name(TV_ITEM_ERROR), "error");
}

static void test_format(void **state) {
  (void)state;
  tv_item_outcome o;
  memset(&o, 0, sizeof o);
  char text[TV_ITEM_OUTCOME_TEXT_MAX];
  tv_item_outcome_format(text, sizeof text, &o);
  assert_string_equal(text, "");
  tv_item_outcome_add(&o, TV_OK);
  tv_item_outcome_add(&o, TV_E_ENGINE_EXPIRED);
  tv_item_outcome_add(&o, TV_E_ENGINE_NOT_FOUND);
  tv_item_outcome_add(&o, TV_E_ENGINE_NOT_FOUND);
  assert_int_equal(o.ok, 1);
  tv_item_outcome_format(text, sizeof text, &o);
  assert_string_equal(text, "not_found:2,expired:1"); /* class order, not arrival order */
}

static void test_format_longest_fits(void **state) {
  (void)state;
  tv_item_outcome o;
  for (size_t i = 0; i < TV_ITEM_CLASS_COUNT; i++) {
    o.failed[i] = UINT64_MAX;
  }
  char text[TV_ITEM_OUTCOME_TEXT_MAX];
  tv_item_outcome_format(text, sizeof text, &o);
  assert_true(strlen(text) < TV_ITEM_OUTCOME_TEXT_MAX);
  assert_true(strlen(text) <= 256); /* an audit text field */
}

static void test_whole_batch_store_fault(void **state) {
  (void)state;
  tv_item_fault none = {0};
  assert_int_equal(tv_item_fault_whole(&none), TV_OK);
  tv_item_fault all = {0};
  for (int i = 0; i < 3; i++) {
    tv_item_fault_add(&all, TV_E_STORE_UNAVAILABLE);
  }
  assert_int_equal(tv_item_fault_whole(&all), TV_E_STORE_UNAVAILABLE);
  tv_item_fault timeout = {0};
  tv_item_fault_add(&timeout, TV_E_STORE_TIMEOUT);
  assert_int_equal(tv_item_fault_whole(&timeout), TV_E_STORE_TIMEOUT);
  tv_item_fault one_ok = {0};
  tv_item_fault_add(&one_ok, TV_E_STORE_UNAVAILABLE);
  tv_item_fault_add(&one_ok, TV_OK); /* an answered item: per-item statuses */
  assert_int_equal(tv_item_fault_whole(&one_ok), TV_OK);
  tv_item_fault two_faults = {0};
  tv_item_fault_add(&two_faults, TV_E_STORE_UNAVAILABLE);
  tv_item_fault_add(&two_faults, TV_E_STORE_TIMEOUT);
  assert_int_equal(tv_item_fault_whole(&two_faults), TV_OK);
  tv_item_fault other = {0};
  tv_item_fault_add(&other, TV_E_STORE_WRITE_FAILED);
  assert_int_equal(tv_item_fault_whole(&other), TV_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classes),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_format_longest_fits),
      cmocka_unit_test(test_whole_batch_store_fault),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
