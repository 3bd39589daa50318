#include "format_test_util.h"
#include "vault/format/format_internal.h"
#include "vault/format/luhn.h"

static ff1_key *key;

static int setup(void **state) {
  (void)state;
  key = fmt_test_key();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ff1_key_free(key);
  return 0;
}

typedef struct used_set {
  char tokens[8][FORMAT_CHARS_MAX + 1];
  size_t count;
  unsigned calls;
  tv_status fail_with;
} used_set;

static tv_status is_used(void *ctx, const format_token *token, int *out_used) {
  used_set *set = ctx;
  set->calls++;
  if (set->fail_with != TV_OK) {
    return set->fail_with;
  }
  *out_used = 0;
  for (size_t i = 0; i < set->count; i++) {
    if (strcmp(set->tokens[i], token->canon) == 0) {
      *out_used = 1;
    }
  }
  return TV_OK;
}

static tv_status all_used(void *ctx, const format_token *token, int *out_used) {
  (void)token;
  ((used_set *)ctx)->calls++;
  *out_used = 1;
  return TV_OK;
}

static void test_generate_skips_used_tokens(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  assert_int_equal(fmt_parse(&cfg, "4111111111111111", &v), TV_OK);
  used_set set = {0};
  format_token first;
  assert_int_equal(format_generate(&cfg, key, &v, is_used, &set, &first), TV_OK);
  assert_int_equal(set.calls, 1);
  /* Mark the first two results used: the third attempt-that-works wins. */
  strcpy(set.tokens[set.count++], first.canon);
  format_token second;
  assert_int_equal(format_generate(&cfg, key, &v, is_used, &set, &second), TV_OK);
  assert_true(second.attempt > first.attempt);
  assert_string_not_equal(second.canon, first.canon);
  strcpy(set.tokens[set.count++], second.canon);
  format_token third;
  assert_int_equal(format_generate(&cfg, key, &v, is_used, &set, &third), TV_OK);
  assert_true(third.attempt > second.attempt);
  /* Generate's answer is exactly format_candidate's for that attempt. */
  format_token direct;
  assert_int_equal(format_candidate(&cfg, key, &v, third.attempt, &direct), TV_OK);
  assert_string_equal(direct.text, third.text);
  /* A NULL callback means nothing is used. */
  format_token again;
  assert_int_equal(format_generate(&cfg, key, &v, NULL, NULL, &again), TV_OK);
  assert_string_equal(again.text, first.text);
  format_value_wipe(&v);
}

static void test_full_domain_is_an_error(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_US_SSN);
  cfg.attempts_max = 25;
  assert_int_equal(fmt_parse(&cfg, "123-45-6789", &v), TV_OK);
  used_set set = {0};
  format_token t;
  assert_int_equal(format_generate(&cfg, key, &v, all_used, &set, &t),
                   TV_E_FORMAT_NO_CANDIDATE);
  assert_true(set.calls >= 20 && set.calls <= 25);
  set.fail_with = TV_E_IO;
  assert_int_equal(format_generate(&cfg, key, &v, is_used, &set, &t), TV_E_IO);
  format_value_wipe(&v);
}

static void test_key_changes_tokens(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_IBAN);
  assert_int_equal(fmt_parse(&cfg, "GB82 WEST 1234 5698 7654 32", &v), TV_OK);
  uint8_t other_bytes[32];
  memset(other_bytes, 0xA5, sizeof other_bytes);
  ff1_key *other = NULL;
  assert_int_equal(ff1_key_new(&other, FF1_IMPL_AUTO, other_bytes, sizeof other_bytes), TV_OK);
  format_token a;
  format_token b;
  assert_int_equal(format_candidate(&cfg, key, &v, 0, &a), TV_OK);
  assert_int_equal(format_candidate(&cfg, other, &v, 0, &b), TV_OK);
  assert_string_not_equal(a.canon, b.canon);
  ff1_key_free(other);
  format_value_wipe(&v);
}

static void test_random_mode(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  cfg.mode = FORMAT_MODE_RANDOM;
  assert_int_equal(format_config_validate(&cfg, NULL, 0), TV_OK);
  assert_int_equal(fmt_parse(&cfg, "4111-1111-1111-1111", &v), TV_OK);
  format_token seen[16];
  for (size_t i = 0; i < 16; i++) {
    assert_int_equal(format_generate(&cfg, NULL, &v, NULL, NULL, &seen[i]), TV_OK);
    fmt_assert_same_shape("4111-1111-1111-1111", seen[i].text, "-");
    assert_memory_equal(seen[i].canon, "411111", 6);
    assert_memory_equal(seen[i].canon + 12, "1111", 4);
    assert_false(luhn_valid(seen[i].canon, 16));
    for (size_t k = 0; k < i; k++) {
      assert_string_not_equal(seen[k].canon, seen[i].canon);
    }
  }
  format_value_wipe(&v);
  /* Random mode respects cycle-walked rules too. */
  fmt_test_cfg(&cfg, FORMAT_DE_TAX_ID);
  cfg.mode = FORMAT_MODE_RANDOM;
  assert_int_equal(fmt_parse(&cfg, "86095742719", &v), TV_OK);
  for (size_t i = 0; i < 16; i++) {
    format_token t;
    format_value again;
    assert_int_equal(format_candidate(&cfg, NULL, &v, 0, &t), TV_OK);
    assert_int_equal(fmt_parse(&cfg, t.text, &again), TV_OK);
    format_value_wipe(&again);
  }
  format_value_wipe(&v);
}

static void test_argument_errors(void **state) {
  (void)state;
  tv_format cfg;
  tv_format other;
  format_value v;
  format_token t;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  fmt_test_cfg(&other, FORMAT_IBAN);
  assert_int_equal(fmt_parse(&cfg, "4111111111111111", &v), TV_OK);
  assert_int_equal(format_candidate(&cfg, NULL, &v, 0, &t), TV_E_INVALID_ARGUMENT);
  assert_int_equal(format_candidate(&other, key, &v, 0, &t), TV_E_INVALID_ARGUMENT);
  assert_int_equal(format_candidate(NULL, key, &v, 0, &t), TV_E_INVALID_ARGUMENT);
  char out[64];
  assert_int_equal(format_mask(&other, &v, out, sizeof out, NULL), TV_E_INVALID_ARGUMENT);
  format_value_wipe(&v);
  const format_value zero = {0};
  assert_memory_equal(&v, &zero, sizeof v);
  format_value_wipe(NULL);
}

static void test_never_the_input_itself(void **state) {
  (void)state;
  tv_format cfg;
  format_value v;
  format_token t;
  fmt_test_cfg(&cfg, FORMAT_PAN);
  assert_int_equal(fmt_parse(&cfg, "4111 1111 1111 1111", &v), TV_OK);
  /* The last step of every candidate: the value itself is refused ... */
  assert_int_equal(format_token_from_candidate(&v, v.canon, 3, &t),
                   TV_E_FORMAT_CANDIDATE_REJECTED);
  /* ... anything else is rendered in the value's shape. */
  assert_int_equal(format_token_from_candidate(&v, "4111119999991111", 3, &t), TV_OK);
  assert_string_equal(t.text, "4111 1199 9999 1111");
  assert_string_equal(t.canon, "4111119999991111");
  assert_int_equal(t.attempt, 3);
  format_value_wipe(&v);
}

static void test_every_kind_refuses_empty_and_very_long(void **state) {
  (void)state;
  char huge[4096];
  memset(huge, '1', sizeof huge);
  for (int k = FORMAT_PAN; k <= FORMAT_GENERIC; k++) {
    tv_format cfg;
    format_value v;
    fmt_test_cfg(&cfg, (tv_format_kind)k);
    assert_int_equal(format_parse(&cfg, NULL, 0, &v), TV_E_FORMAT_EMPTY);
    assert_int_equal(format_parse(&cfg, "", 0, &v), TV_E_FORMAT_EMPTY);
    assert_int_equal(format_parse(&cfg, huge, sizeof huge, &v), TV_E_FORMAT_TOO_LONG);
    /* Fits the text limit but not the significant-character one. */
    assert_int_equal(format_parse(&cfg, huge, FORMAT_CHARS_MAX + 1, &v), TV_E_FORMAT_TOO_LONG);
    assert_int_equal(format_parse(&cfg, NULL, 5, &v), TV_E_INVALID_ARGUMENT);
  }
}

static void test_config_init_and_names(void **state) {
  (void)state;
  tv_format cfg;
  char name[100];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  assert_int_equal(format_config_init(&cfg, FORMAT_PAN, name), TV_E_FORMAT_CONFIG);
  assert_int_equal(format_config_init(&cfg, (tv_format_kind)99, "ns"), TV_E_FORMAT_CONFIG);
  for (int k = FORMAT_PAN; k <= FORMAT_GENERIC; k++) {
    fmt_test_cfg(&cfg, (tv_format_kind)k);
    assert_string_not_equal(format_kind_name((tv_format_kind)k), "unknown");
  }
  assert_string_equal(format_kind_name((tv_format_kind)0), "unknown");
  char why[128];
  fmt_test_cfg(&cfg, FORMAT_PAN);
  cfg.attempts_max = 0;
  assert_int_equal(format_config_validate(&cfg, why, sizeof why), TV_E_FORMAT_CONFIG);
  assert_non_null(strstr(why, "attempts_max"));
  /* A reason longer than the buffer is cut, still terminated. */
  fmt_test_cfg(&cfg, FORMAT_PAN);
  cfg.pan.length_min = 13;
  char small[16];
  assert_int_equal(format_config_validate(&cfg, small, sizeof small),
                   TV_E_FORMAT_DOMAIN_TOO_SMALL);
  assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generate_skips_used_tokens),
      cmocka_unit_test(test_full_domain_is_an_error),
      cmocka_unit_test(test_key_changes_tokens),
      cmocka_unit_test(test_random_mode),
      cmocka_unit_test(test_argument_errors),
      cmocka_unit_test(test_never_the_input_itself),
      cmocka_unit_test(test_every_kind_refuses_empty_and_very_long),
      cmocka_unit_test(test_config_init_and_names),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
