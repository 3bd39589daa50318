/* The tokenize meter hook (tv_tokenize_meter): every valid item is taken
 * before the convergent lookup, an item answered by an earlier token (or
 * failing) is given back, so only NEW tokens stay counted; a refused take
 * is the item's status whether or not the value already has a token. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"
#include "vault/util/status.h"

typedef struct count_meter {
  int taken;
  int given_back;
  int refuse; /* 1: every take is refused */
  char last_kept[64];
  uint64_t last_candidates;
} count_meter;

static tv_status take(void *ctx, const char *kept, size_t kept_len, uint64_t candidates, uint32_t *out_ticket) {
  count_meter *m = ctx;
  m->last_candidates = candidates;
  snprintf(m->last_kept, sizeof m->last_kept, "%.*s", (int)kept_len, kept);
  if (m->refuse) {
    return TV_E_POLICY_NEW_TOKEN_LIMIT;
  }
  m->taken++;
  *out_ticket = 7;
  return TV_OK;
}

static void give_back(void *ctx, const char *kept, size_t kept_len, uint32_t ticket) {
  count_meter *m = ctx;
  (void)kept;
  (void)kept_len;
  assert_int_equal(ticket, 7);
  m->given_back++;
}

typedef struct waiter {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int done;
} waiter;

static void on_done(tv_tokenize_req *req) {
  waiter *w = req->user;
  pthread_mutex_lock(&w->lock);
  w->done = 1;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

/* tv_engine_tokenize with a meter: submit and wait for |done|. */
static void sync_tokenize(eng_fixture *fx, const char *ns, tv_tokenize_item *items, size_t n,
                          const tv_tokenize_meter *meter) {
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  tv_tokenize_req req = {.ns = ns, .items = items, .num_items = n, .done = on_done, .user = &w, .meter = meter};
  eng_check(tv_engine_tokenize_submit(fx->engine, &req), "submit");
  pthread_mutex_lock(&w.lock);
  while (!w.done) {
    pthread_cond_wait(&w.cond, &w.lock);
  }
  pthread_mutex_unlock(&w.lock);
}

static void tokenize_metered(eng_fixture *fx, const char *ns, tv_tokenize_item *items, size_t n, count_meter *m) {
  const tv_tokenize_meter meter = {.take = take, .give_back = give_back, .ctx = m};
  sync_tokenize(fx, ns, items, n, &meter);
}

static void test_only_new_tokens_stay_counted(void **state) {
  eng_fixture *fx = *state;
  count_meter m = {0};
  tv_tokenize_item items[4] = {{.value = "4111111111111111", .value_len = 16},
                               {.value = "4111111111111111", .value_len = 16}, /* same value, same call */
                               {.value = "5555555555554444", .value_len = 16},
                               {.value = "4111111111111112", .value_len = 16}}; /* bad Luhn: never taken */
  tokenize_metered(fx, "pan", items, 4, &m);
  eng_check(items[0].status, "first");
  eng_check(items[2].status, "second value");
  assert_int_equal(items[3].status, TV_E_FORMAT_LUHN);
  assert_string_equal(items[0].token, items[1].token);
  assert_int_equal(m.taken, 3);
  assert_int_equal(m.taken - m.given_back, 2); /* two new tokens */
  /* The group is the kept characters: BIN + last 4. */
  assert_string_equal(m.last_kept, "5555554444");
  assert_int_equal(m.last_candidates, 100000u); /* 16 digits, 6+4 kept: 10^5 Luhn-valid middles */
  /* Again: both values have tokens now, nothing new stays counted. */
  count_meter again = {0};
  tv_tokenize_item twice[2] = {{.value = "4111111111111111", .value_len = 16},
                               {.value = "5555555555554444", .value_len = 16}};
  tokenize_metered(fx, "pan", twice, 2, &again);
  assert_int_equal(twice[0].existing, 1);
  assert_int_equal(again.taken, 2);
  assert_int_equal(again.given_back, 2);
}

static void test_refusal_does_not_depend_on_existence(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item known = eng_tokenize1(fx, "pan", "4111111111111111");
  eng_check(known.status, "known");
  count_meter m = {.refuse = 1};
  tv_tokenize_item items[2] = {{.value = "4111111111111111", .value_len = 16}, /* has a token */
                               {.value = "4000056655665556", .value_len = 16}}; /* has none */
  tokenize_metered(fx, "pan", items, 2, &m);
  assert_int_equal(items[0].status, TV_E_POLICY_NEW_TOKEN_LIMIT);
  assert_int_equal(items[1].status, TV_E_POLICY_NEW_TOKEN_LIMIT);
  assert_int_equal(items[0].token_len, 0);
  assert_int_equal(items[0].existing, 0); /* nothing says the value was known */
  assert_int_equal(m.given_back, 0);
  /* Nothing was minted for the refused value: a later unmetered call mints it. */
  tv_tokenize_item later = eng_tokenize1(fx, "pan", "4000056655665556");
  eng_check(later.status, "later");
  assert_int_equal(later.existing, 0);
}

static void test_not_convergent_every_item_is_new(void **state) {
  eng_fixture *fx = *state;
  count_meter m = {0};
  tv_tokenize_item items[2] = {{.value = "4111111111111111", .value_len = 16},
                               {.value = "4111111111111111", .value_len = 16}};
  tokenize_metered(fx, "pan_nc", items, 2, &m);
  eng_check(items[0].status, "a");
  eng_check(items[1].status, "b");
  assert_int_equal(m.taken, 2);
  assert_int_equal(m.given_back, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_only_new_tokens_stay_counted, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_refusal_does_not_depend_on_existence, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_not_convergent_every_item_is_new, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
