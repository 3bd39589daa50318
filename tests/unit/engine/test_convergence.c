/* Convergence: in a convergent namespace the same value keeps one token
 * (across separators, restarts and data-key rotations); elsewhere every
 * tokenization mints a new one; erasure by value removes them all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"

static void test_same_value_same_token(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item a = eng_tokenize1(fx, "pan", "4111111111111111");
  tv_tokenize_item b = eng_tokenize1(fx, "pan", "4111111111111111");
  eng_check(a.status, "a");
  eng_check(b.status, "b");
  assert_string_equal(a.token, b.token);
  assert_int_equal(a.existing, 0);
  assert_int_equal(b.existing, 1);
  /* Separators don't change the value: same token, in the input's shape. */
  tv_tokenize_item c = eng_tokenize1(fx, "pan", "4111-1111-1111-1111");
  eng_check(c.status, "c");
  assert_int_equal(c.existing, 1);
  assert_int_equal(c.token[4], '-');
  char bare[20];
  size_t n = 0;
  for (size_t i = 0; i < c.token_len; i++) {
    if (c.token[i] != '-') {
      bare[n++] = c.token[i];
    }
  }
  bare[n] = '\0';
  assert_string_equal(bare, a.token);
  /* Within one batch too. */
  tv_tokenize_item items[3] = {{.value = "5555555555554444", .value_len = 16},
                               {.value = "5555555555554444", .value_len = 16},
                               {.value = "5555 5555 5555 4444", .value_len = 19}};
  eng_check(tv_engine_tokenize(fx->engine, "pan", items, 3), "batch");
  eng_check(items[0].status, "0");
  eng_check(items[1].status, "1");
  assert_string_equal(items[0].token, items[1].token);
  assert_int_equal(items[0].existing + items[1].existing, 1);
  /* Different namespaces are different token domains. */
  tv_tokenize_item other = eng_tokenize1(fx, "acct", "4111111111111111");
  eng_check(other.status, "acct");
  assert_string_not_equal(other.token, a.token);
}

static void test_convergence_after_reopen_and_rotation(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item a = eng_tokenize1(fx, "iban", "GB82WEST12345698765432");
  eng_check(a.status, "a");
  eng_close(fx);
  eng_open(fx);
  tv_tokenize_item b = eng_tokenize1(fx, "iban", "GB82 WEST 1234 5698 7654 32");
  eng_check(b.status, "b");
  assert_int_equal(b.existing, 1);
  uint32_t version = 0;
  kr_check(tv_keyring_rotate_data_key(fx->kr->kr, &version, "iban"), "rotate");
  assert_int_equal(version, 2);
  tv_tokenize_item c = eng_tokenize1(fx, "iban", "GB82WEST12345698765432");
  eng_check(c.status, "c");
  assert_string_equal(c.token, a.token);
  assert_int_equal(c.existing, 1);
  /* A new value after the rotation is encrypted under version 2. */
  tv_tokenize_item d = eng_tokenize1(fx, "iban", "DE89370400440532013000");
  eng_check(d.status, "d");
  tv_token_info info;
  eng_check(tv_engine_token_info(fx->engine, &info, "iban", d.token, d.token_len), "info");
  assert_int_equal(info.key_version, 2);
  eng_check(tv_engine_token_info(fx->engine, &info, "iban", a.token, a.token_len), "info a");
  assert_int_equal(info.key_version, 1);
}

static void test_not_convergent(void **state) {
  eng_fixture *fx = *state;
  char tokens[5][TV_ENGINE_TEXT_LEN_MAX + 1];
  for (int i = 0; i < 5; i++) {
    tv_tokenize_item t = eng_tokenize1(fx, "pan_nc", "4111111111111111");
    eng_check(t.status, "t");
    assert_int_equal(t.existing, 0);
    strcpy(tokens[i], t.token);
    for (int j = 0; j < i; j++) {
      assert_string_not_equal(tokens[i], tokens[j]);
    }
    tv_detokenize_item d = eng_detok1(fx, "pan_nc", t.token, TV_REVEAL_FULL);
    eng_check(d.status, "d");
    assert_string_equal(d.value, "4111111111111111");
  }
  size_t erased = 0;
  eng_check(tv_engine_erase_value(fx->engine, &erased, "pan_nc", "4111 1111 1111 1111", 19), "erase");
  assert_int_equal(erased, 5);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(eng_detok1(fx, "pan_nc", tokens[i], TV_REVEAL_FULL).status, TV_E_ENGINE_DELETED);
  }
  eng_check(tv_engine_erase_value(fx->engine, &erased, "pan_nc", "4111111111111111", 16), "erase again");
  assert_int_equal(erased, 0);
  assert_int_equal(tv_engine_erase_value(fx->engine, &erased, "pan_nc", "4111111111111112", 16),
                   TV_E_FORMAT_LUHN);
  assert_int_equal(tv_engine_erase_value(fx->engine, &erased, "zzz", "4111111111111111", 16),
                   TV_E_ENGINE_NAMESPACE);
}

static void test_erase_convergent_then_new_token(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item a = eng_tokenize1(fx, "pan", "5105105105105100");
  tv_tokenize_item keep = eng_tokenize1(fx, "pan", "4012888888881881");
  eng_check(a.status, "a");
  eng_check(keep.status, "keep");
  size_t erased = 0;
  eng_check(tv_engine_erase_value(fx->engine, &erased, "pan", "5105105105105100", 16), "erase");
  assert_int_equal(erased, 1);
  assert_int_equal(eng_detok1(fx, "pan", a.token, TV_REVEAL_MASKED).status, TV_E_ENGINE_DELETED);
  eng_check(eng_detok1(fx, "pan", keep.token, TV_REVEAL_FULL).status, "other value kept");
  /* Tokenizing the value again mints a new token: the old one stays dead. */
  tv_tokenize_item b = eng_tokenize1(fx, "pan", "5105105105105100");
  eng_check(b.status, "b");
  assert_int_equal(b.existing, 0);
  assert_string_not_equal(a.token, b.token);
  /* An expired token is not reused either. */
  tv_tokenize_item e = {.value = "5555555555554444", .value_len = 16, .ttl_ms = 1000};
  eng_check(tv_engine_tokenize(fx->engine, "pan", &e, 1), "tokenize expiring");
  eng_check(e.status, "e");
  fx->clock_offset_ms = 5000;
  tv_tokenize_item f = eng_tokenize1(fx, "pan", "5555555555554444");
  eng_check(f.status, "f");
  assert_int_equal(f.existing, 0);
  assert_string_not_equal(e.token, f.token);
  /* Erasure covers the expired one too. */
  eng_check(tv_engine_erase_value(fx->engine, &erased, "pan", "5555555555554444", 16), "erase 2");
  assert_int_equal(erased, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_same_value_same_token, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_convergence_after_reopen_and_rotation, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_not_convergent, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_erase_convergent_then_new_token, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
