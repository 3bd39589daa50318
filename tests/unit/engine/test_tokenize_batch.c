/* A tokenize call's batched lookups (tokenize_prefetch.c): the live
 * tokens of all its convergent values are found with one store call and
 * all its first candidates checked with another, and every item still
 * gets exactly what one-by-one lookups gave it — the existing token of a
 * value, one token for a value sent twice, a new token after delete or
 * expiry, and never a token that exists in any state (live, expired,
 * tombstone: a deleted token is never issued again). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"

#define HOUR_MS 3600000ull

static tv_tokenize_item item_of(const char *value, uint64_t ttl_ms) {
  return (tv_tokenize_item){.value = value, .value_len = strlen(value), .ttl_ms = ttl_ms};
}

static void delete1(eng_fixture *fx, const char *ns, const char *token) {
  const char *tokens[1] = {token};
  size_t lens[1] = {strlen(token)};
  tv_status st = TV_E_INTERNAL;
  eng_check(tv_engine_delete(fx->engine, ns, tokens, lens, &st, 1), "delete");
  eng_check(st, "delete item");
}

static void expect_detok(eng_fixture *fx, const char *ns, const char *token, tv_status want) {
  tv_detokenize_item d = eng_detok1(fx, ns, token, TV_REVEAL_NONE);
  assert_int_equal(d.status, want);
}

/* Convergent namespace: one call mixing a value with a token, a new value
 * sent twice, a value whose token was deleted, one whose token expired,
 * and a new value. */
static void test_batch_converges(void **state) {
  eng_fixture *fx = *state;
  char x[17], y[17], q[17], r[17], z[17];
  eng_pan(x, 1);
  eng_pan(y, 2);
  eng_pan(q, 3);
  eng_pan(r, 4);
  eng_pan(z, 5);
  tv_tokenize_item before[3] = {item_of(x, 0), item_of(q, 0), item_of(r, HOUR_MS)};
  eng_check(tv_engine_tokenize(fx->engine, "pan", before, 3), "before");
  for (int i = 0; i < 3; i++) {
    eng_check(before[i].status, "before item");
  }
  delete1(fx, "pan", before[1].token);
  fx->clock_offset_ms += 2 * HOUR_MS; /* r's token expires */
  tv_tokenize_item items[6] = {item_of(x, 0), item_of(y, 0), item_of(y, 0),
                               item_of(q, 0), item_of(r, 0), item_of(z, 0)};
  eng_check(tv_engine_tokenize(fx->engine, "pan", items, 6), "batch");
  for (int i = 0; i < 6; i++) {
    eng_check(items[i].status, "batch item");
  }
  assert_string_equal(items[0].token, before[0].token);
  assert_int_equal(items[0].existing, 1);
  assert_string_equal(items[1].token, items[2].token);
  assert_int_equal(items[1].existing + items[2].existing, 1);
  assert_string_not_equal(items[3].token, before[1].token);
  assert_int_equal(items[3].existing, 0);
  assert_string_not_equal(items[4].token, before[2].token);
  assert_int_equal(items[4].existing, 0);
  assert_int_equal(items[5].existing, 0);
  expect_detok(fx, "pan", before[1].token, TV_E_ENGINE_DELETED);
  expect_detok(fx, "pan", before[2].token, TV_E_ENGINE_EXPIRED);
  /* The same call again: every value has its token now. */
  tv_tokenize_item again[6] = {item_of(x, 0), item_of(y, 0), item_of(y, 0),
                               item_of(q, 0), item_of(r, 0), item_of(z, 0)};
  eng_check(tv_engine_tokenize(fx->engine, "pan", again, 6), "again");
  for (int i = 0; i < 6; i++) {
    eng_check(again[i].status, "again item");
    assert_string_equal(again[i].token, items[i].token);
    assert_int_equal(again[i].existing, 1);
  }
}

/* Not convergent: FF1 makes the same first candidate for the same value
 * under one key, so a value tokenized again in a call collides with its
 * earlier token (live, or a tombstone after delete) and with itself when
 * it is in the call twice. Each item moves on to a token of its own. */
static void test_batch_collisions_and_tombstones(void **state) {
  eng_fixture *fx = *state;
  char v[17], u[17], w[17];
  eng_pan(v, 11);
  eng_pan(u, 12);
  eng_pan(w, 13);
  tv_tokenize_item first[2] = {item_of(v, 0), item_of(u, 0)};
  eng_check(tv_engine_tokenize(fx->engine, "pan_nc", first, 2), "first");
  eng_check(first[0].status, "v");
  eng_check(first[1].status, "u");
  delete1(fx, "pan_nc", first[0].token); /* v's first candidate is now a tombstone */
  tv_tokenize_item items[4] = {item_of(v, 0), item_of(v, 0), item_of(u, 0), item_of(w, 0)};
  eng_check(tv_engine_tokenize(fx->engine, "pan_nc", items, 4), "batch");
  for (int i = 0; i < 4; i++) {
    eng_check(items[i].status, "batch item");
    assert_int_equal(items[i].existing, 0);
    assert_string_not_equal(items[i].token, first[0].token); /* never reissued */
    assert_string_not_equal(items[i].token, first[1].token);
    for (int j = 0; j < i; j++) {
      assert_string_not_equal(items[i].token, items[j].token);
    }
  }
  expect_detok(fx, "pan_nc", first[0].token, TV_E_ENGINE_DELETED);
  expect_detok(fx, "pan_nc", first[1].token, TV_OK);
  for (int i = 0; i < 4; i++) {
    tv_detokenize_item d = eng_detok1(fx, "pan_nc", items[i].token, TV_REVEAL_FULL);
    eng_check(d.status, "reveal");
    assert_string_equal(d.value, i < 2 ? v : i == 2 ? u : w);
  }
}

/* A large call (more than one index lock hold and one read chunk) of
 * values half of which have tokens: the ones with tokens get them back,
 * the others new ones, all distinct. */
static void test_batch_large(void **state) {
  eng_fixture *fx = *state;
  enum { N = 1500 };
  static char pans[N][17];
  static tv_tokenize_item items[N], again[N];
  for (size_t i = 0; i < N; i++) {
    eng_pan(pans[i], 1000 + i);
    items[i] = item_of(pans[i], 0);
  }
  eng_check(tv_engine_tokenize(fx->engine, "pan", items, N / 2), "half");
  for (size_t i = 0; i < N; i++) {
    again[i] = item_of(pans[i], 0);
  }
  eng_check(tv_engine_tokenize(fx->engine, "pan", again, N), "all");
  for (size_t i = 0; i < N; i++) {
    eng_check(again[i].status, "item");
    assert_int_equal(again[i].existing, i < N / 2);
    if (i < N / 2) {
      assert_string_equal(again[i].token, items[i].token);
    }
    if (i > 0) {
      assert_string_not_equal(again[i].token, again[i - 1].token);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_batch_converges, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_batch_collisions_and_tombstones, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_batch_large, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
