/* Tokenize and detokenize: round trips per format and reveal level, and
 * the per-item statuses (bad value, not found, expired, deleted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"

static void round_trip(eng_fixture *fx, const char *ns, const char *value, const char *masked) {
  tv_tokenize_item t = eng_tokenize1(fx, ns, value);
  eng_check(t.status, value);
  assert_int_equal(t.token_len, strlen(value)); /* shape preserved */
  assert_int_equal(strlen(t.token), t.token_len);
  assert_string_not_equal(t.token, value);
  tv_detokenize_item d = eng_detok1(fx, ns, t.token, TV_REVEAL_FULL);
  eng_check(d.status, "detokenize full");
  assert_string_equal(d.value, value);
  assert_int_equal(d.value_len, strlen(value));
  d = eng_detok1(fx, ns, t.token, TV_REVEAL_MASKED);
  eng_check(d.status, "detokenize masked");
  assert_string_equal(d.value, masked);
  d = eng_detok1(fx, ns, t.token, TV_REVEAL_NONE);
  eng_check(d.status, "detokenize none");
  assert_int_equal(d.value_len, 0);
  assert_string_equal(d.value, "");
}

static void test_round_trips(void **state) {
  eng_fixture *fx = *state;
  round_trip(fx, "pan", "4111111111111111", "411111******1111");
  round_trip(fx, "pan", "5555 5555 5555 4444", "5555 55** **** 4444");
  round_trip(fx, "pan_nc", "4012888888881881", "401288******1881");
  round_trip(fx, "ssn", "123-45-6789", "***-**-6789");
  round_trip(fx, "gen", "12345678901", "***********");
  tv_tokenize_item t = eng_tokenize1(fx, "iban", "DE89370400440532013000");
  eng_check(t.status, "iban");
  assert_memory_equal(t.token, "DE", 2); /* country kept */
  tv_detokenize_item d = eng_detok1(fx, "iban", t.token, TV_REVEAL_FULL);
  eng_check(d.status, "iban full");
  assert_string_equal(d.value, "DE89370400440532013000");
  d = eng_detok1(fx, "iban", t.token, TV_REVEAL_MASKED);
  eng_check(d.status, "iban masked");
  assert_string_not_equal(d.value, "DE89370400440532013000");
  assert_int_equal(d.value_len, 22);
  assert_non_null(strchr(d.value, '*'));
}

static void test_pan_token_shape(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item t = eng_tokenize1(fx, "pan", "4111 1111 1111 1111");
  eng_check(t.status, "tokenize");
  assert_memory_equal(t.token, "4111 11", 7);
  assert_memory_equal(t.token + 15, "1111", 4);
  assert_int_equal(t.token[4], ' ');
  /* The token finds its value with or without separators ... */
  char bare[32];
  size_t n = 0;
  for (size_t i = 0; i < t.token_len; i++) {
    if (t.token[i] != ' ') {
      bare[n++] = t.token[i];
    }
  }
  bare[n] = '\0';
  tv_detokenize_item d = eng_detok1(fx, "pan", bare, TV_REVEAL_FULL);
  eng_check(d.status, "bare token");
  /* ... and the value comes back in the shape of the token sent. */
  assert_string_equal(d.value, "4111111111111111");
}

static void test_batch_mixed(void **state) {
  eng_fixture *fx = *state;
  const char *values[] = {"4111111111111111", "4111111111111112", "", "41111111111111x1", "5105105105105100",
                          "123"};
  const tv_status want[] = {TV_OK, TV_E_FORMAT_LUHN, TV_E_FORMAT_EMPTY, TV_E_FORMAT_CHAR, TV_OK,
                            TV_E_FORMAT_LENGTH};
  tv_tokenize_item items[6];
  memset(items, 0, sizeof items);
  for (size_t i = 0; i < 6; i++) {
    items[i].value = values[i];
    items[i].value_len = strlen(values[i]);
  }
  eng_check(tv_engine_tokenize(fx->engine, "pan", items, 6), "batch");
  for (size_t i = 0; i < 6; i++) {
    assert_int_equal(items[i].status, want[i]);
    assert_int_equal(items[i].token_len == 0, want[i] != TV_OK);
  }
  tv_detokenize_item d[3] = {{.token = items[0].token, .token_len = items[0].token_len},
                             {.token = "4111119999999991", .token_len = 16},
                             {.token = items[4].token, .token_len = items[4].token_len}};
  eng_check(tv_engine_detokenize(fx->engine, "pan", d, 3, TV_REVEAL_FULL), "detok batch");
  assert_int_equal(d[0].status, TV_OK);
  assert_string_equal(d[0].value, values[0]);
  assert_int_equal(d[1].status, TV_E_ENGINE_NOT_FOUND);
  assert_int_equal(d[1].value_len, 0);
  assert_int_equal(d[2].status, TV_OK);
  assert_string_equal(d[2].value, values[4]);
}

static void test_request_errors(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item item = {.value = "4111111111111111", .value_len = 16};
  assert_int_equal(tv_engine_tokenize(fx->engine, "nope", &item, 1), TV_E_ENGINE_NAMESPACE);
  assert_int_equal(tv_engine_tokenize(fx->engine, NULL, &item, 1), TV_E_ENGINE_NAMESPACE);
  assert_int_equal(tv_engine_tokenize(fx->engine, "pan", &item, 0), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_engine_tokenize(fx->engine, "pan", &item, TV_ENGINE_BATCH_ITEMS_MAX + 1),
                   TV_E_ENGINE_BATCH_TOO_LARGE);
  tv_detokenize_item d = {.token = "4111111111111111", .token_len = 16};
  assert_int_equal(tv_engine_detokenize(fx->engine, "nope", &d, 1, TV_REVEAL_FULL), TV_E_ENGINE_NAMESPACE);
  assert_int_equal(tv_engine_detokenize(fx->engine, "pan", &d, 1, (tv_reveal)7), TV_E_INVALID_ARGUMENT);
  /* A namespace with keys but no engine configuration is still unknown,
   * and one without keys cannot be added. */
  tv_engine_namespace ns;
  memset(&ns, 0, sizeof ns);
  eng_check(format_config_init(&ns.format, FORMAT_PAN, "nokeys"), "init");
  assert_int_equal(tv_engine_add_namespace(fx->engine, &ns, NULL, 0), TV_E_KEYRING_NAMESPACE);
  eng_check(format_config_init(&ns.format, FORMAT_PAN, "pan"), "init");
  assert_int_equal(tv_engine_add_namespace(fx->engine, &ns, NULL, 0), TV_E_ENGINE_NAMESPACE_EXISTS);
  /* Empty and oversized tokens are per-item errors. */
  tv_detokenize_item bad[2] = {{.token = "", .token_len = 0}, {.token = "1", .token_len = 300}};
  eng_check(tv_engine_detokenize(fx->engine, "pan", bad, 2, TV_REVEAL_NONE), "detok bad");
  assert_int_equal(bad[0].status, TV_E_INVALID_ARGUMENT);
  assert_int_equal(bad[1].status, TV_E_INVALID_ARGUMENT);
}

static void test_expiry_and_metadata(void **state) {
  eng_fixture *fx = *state;
  const uint8_t meta[] = "crm-ref-42";
  tv_tokenize_item items[4] = {
      {.value = "4111111111111111", .value_len = 16, .ttl_ms = 60000, .metadata = meta, .metadata_len = 10},
      {.value = "5555555555554444", .value_len = 16},
      {.value = "4012888888881881", .value_len = 16, .expires_ms = 1000}, /* in the past */
      {.value = "5105105105105100", .value_len = 16, .metadata = meta, .metadata_len = 1000},
  };
  eng_check(tv_engine_tokenize(fx->engine, "pan_nc", items, 4), "tokenize");
  eng_check(items[0].status, "ttl item");
  eng_check(items[1].status, "plain item");
  assert_int_equal(items[2].status, TV_E_ENGINE_EXPIRY);
  assert_int_equal(items[3].status, TV_E_ENGINE_METADATA_TOO_LARGE);
  tv_token_info info;
  eng_check(tv_engine_token_info(fx->engine, &info, "pan_nc", items[0].token, items[0].token_len), "info");
  assert_int_equal(info.key_version, 1);
  assert_int_equal(info.metadata_len, 10);
  assert_memory_equal(info.metadata, meta, 10);
  assert_true(info.expires_ms > info.created_ms && info.expires_ms - info.created_ms <= 60000);
  eng_check(tv_engine_token_info(fx->engine, &info, "pan_nc", items[1].token, items[1].token_len), "info 2");
  assert_int_equal(info.expires_ms, 0);
  /* The namespace default TTL applies when the item asks for none. */
  tv_tokenize_item g = eng_tokenize1(fx, "gen", "9876543210");
  eng_check(g.status, "gen");
  eng_check(tv_engine_token_info(fx->engine, &info, "gen", g.token, g.token_len), "info gen");
  assert_int_equal(info.expires_ms - info.created_ms, 3600u * 1000u);
  /* Two minutes later the first has expired, the second has not. */
  fx->clock_offset_ms = 120000;
  tv_detokenize_item d = eng_detok1(fx, "pan_nc", items[0].token, TV_REVEAL_FULL);
  assert_int_equal(d.status, TV_E_ENGINE_EXPIRED);
  assert_int_equal(d.value_len, 0);
  assert_int_equal(eng_detok1(fx, "pan_nc", items[0].token, TV_REVEAL_NONE).status, TV_E_ENGINE_EXPIRED);
  assert_int_equal(tv_engine_token_info(fx->engine, &info, "pan_nc", items[0].token, items[0].token_len),
                   TV_E_ENGINE_EXPIRED);
  assert_int_equal(info.metadata_len, 10);
  eng_check(eng_detok1(fx, "pan_nc", items[1].token, TV_REVEAL_FULL).status, "unexpired");
}

static void test_delete_distinct_statuses(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item a = eng_tokenize1(fx, "ssn", "123-45-6789");
  tv_tokenize_item b = eng_tokenize1(fx, "ssn", "078-05-1120");
  eng_check(a.status, "a");
  eng_check(b.status, "b");
  const char *tokens[3] = {a.token, "999-99-9999", a.token};
  size_t lens[3] = {a.token_len, 11, a.token_len};
  tv_status st[3];
  eng_check(tv_engine_delete(fx->engine, "ssn", tokens, lens, st, 2), "delete");
  assert_int_equal(st[0], TV_OK);
  assert_int_equal(st[1], TV_E_ENGINE_NOT_FOUND);
  eng_check(tv_engine_delete(fx->engine, "ssn", tokens + 2, lens + 2, st + 2, 1), "delete again");
  assert_int_equal(st[2], TV_E_ENGINE_DELETED);
  tv_detokenize_item d[3] = {{.token = a.token, .token_len = a.token_len},
                             {.token = "999-99-9999", .token_len = 11},
                             {.token = b.token, .token_len = b.token_len}};
  eng_check(tv_engine_detokenize(fx->engine, "ssn", d, 3, TV_REVEAL_FULL), "detok");
  assert_int_equal(d[0].status, TV_E_ENGINE_DELETED);
  assert_int_equal(d[0].value_len, 0);
  assert_int_equal(d[1].status, TV_E_ENGINE_NOT_FOUND);
  eng_check(d[2].status, "other token untouched");
  assert_string_equal(d[2].value, "078-05-1120");
  tv_token_info info;
  assert_int_equal(tv_engine_token_info(fx->engine, &info, "ssn", a.token, a.token_len), TV_E_ENGINE_DELETED);
  /* Still deleted (not "not found") after a restart, and the token is
   * never handed out again: the same value gets another one. */
  eng_close(fx);
  eng_open(fx);
  assert_int_equal(eng_detok1(fx, "ssn", a.token, TV_REVEAL_FULL).status, TV_E_ENGINE_DELETED);
  tv_tokenize_item again = eng_tokenize1(fx, "ssn", "123-45-6789");
  eng_check(again.status, "again");
  assert_string_not_equal(again.token, a.token);
  /* Deleting in an unknown namespace is a request error. */
  assert_int_equal(tv_engine_delete(fx->engine, "nope", tokens, lens, st, 1), TV_E_ENGINE_NAMESPACE);
}

static void test_tokens_survive_reopen(void **state) {
  eng_fixture *fx = *state;
  char pans[20][17];
  tv_tokenize_item items[20];
  memset(items, 0, sizeof items);
  for (size_t i = 0; i < 20; i++) {
    eng_pan(pans[i], 1000 + i);
    items[i].value = pans[i];
    items[i].value_len = 16;
  }
  eng_check(tv_engine_tokenize(fx->engine, "pan_nc", items, 20), "tokenize");
  eng_close(fx);
  eng_open(fx);
  tv_detokenize_item d[20];
  for (size_t i = 0; i < 20; i++) {
    eng_check(items[i].status, "item");
    d[i] = (tv_detokenize_item){.token = items[i].token, .token_len = items[i].token_len};
  }
  eng_check(tv_engine_detokenize(fx->engine, "pan_nc", d, 20, TV_REVEAL_FULL), "detok");
  for (size_t i = 0; i < 20; i++) {
    eng_check(d[i].status, "after reopen");
    assert_string_equal(d[i].value, pans[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trips, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_pan_token_shape, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_batch_mixed, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_request_errors, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_expiry_and_metadata, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_delete_distinct_statuses, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_tokens_survive_reopen, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
