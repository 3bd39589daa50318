/* New tokens per (principal, namespace, kept group) per UTC day
 * (vault/policy/group_meter.c): exact below the limit, refusals that
 * count nothing, give-backs, keys kept apart, a new day starting again,
 * the derived defaults, and a realistic bulk load that never reaches the
 * default while a brute force of one group is cut at it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vault/policy/policy.h"

#define DAY_MS UINT64_C(86400000)

static _Atomic uint64_t fake_unix_ms = UINT64_C(20000) * DAY_MS + 5;

static uint64_t fake_clock(void *ctx) {
  (void)ctx;
  return atomic_load(&fake_unix_ms);
}

static tv_status take(policy_group_meter *m, const char *who, const char *group, uint64_t limit, uint32_t *day) {
  return policy_group_meter_take(m, who, "pan", group, strlen(group), limit, day);
}

static void test_limit_exact_and_refusal_counts_nothing(void **state) {
  (void)state;
  policy_group_meter *m = NULL;
  assert_int_equal(policy_group_meter_new(fake_clock, NULL, &m), TV_OK);
  uint32_t day = 0;
  for (int i = 0; i < 100; i++) {
    assert_int_equal(take(m, "spiffe://scraper", "4111111111", 100, &day), TV_OK);
  }
  assert_int_equal(day, 20000u);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(take(m, "spiffe://scraper", "4111111111", 100, &day), TV_E_POLICY_NEW_TOKEN_LIMIT);
  }
  /* A give-back (no new token after all) frees exactly one. */
  policy_group_meter_give_back(m, "spiffe://scraper", "pan", "4111111111", 10, day);
  assert_int_equal(take(m, "spiffe://scraper", "4111111111", 100, &day), TV_OK);
  assert_int_equal(take(m, "spiffe://scraper", "4111111111", 100, &day), TV_E_POLICY_NEW_TOKEN_LIMIT);
  /* Other groups, principals and namespaces are their own. */
  assert_int_equal(take(m, "spiffe://scraper", "4111112222", 100, &day), TV_OK);
  assert_int_equal(take(m, "spiffe://crm", "4111111111", 100, &day), TV_OK);
  assert_int_equal(policy_group_meter_take(m, "spiffe://scraper", "pan2", "4111111111", 10, 100, &day), TV_OK);
  /* Field boundaries are part of the key: "pan"+"4111111111" is not "pan4"+"111111111". */
  assert_int_equal(policy_group_meter_take(m, "spiffe://scraper", "pan4", "111111111", 9, 100, &day), TV_OK);
  policy_group_meter_free(m);
}

static void test_new_day_starts_again(void **state) {
  (void)state;
  policy_group_meter *m = NULL;
  assert_int_equal(policy_group_meter_new(fake_clock, NULL, &m), TV_OK);
  uint32_t day = 0, old_day = 0;
  for (int i = 0; i < 20; i++) {
    assert_int_equal(take(m, "p", "5555554444", 20, &old_day), TV_OK);
  }
  assert_int_equal(take(m, "p", "5555554444", 20, &day), TV_E_POLICY_NEW_TOKEN_LIMIT);
  atomic_fetch_add(&fake_unix_ms, DAY_MS);
  assert_int_equal(take(m, "p", "5555554444", 20, &day), TV_OK);
  assert_int_equal(day, old_day + 1);
  /* A give-back from yesterday leaves today's counts alone. */
  for (int i = 0; i < 19; i++) {
    assert_int_equal(take(m, "p", "5555554444", 20, &day), TV_OK);
  }
  policy_group_meter_give_back(m, "p", "pan", "5555554444", 10, old_day);
  assert_int_equal(take(m, "p", "5555554444", 20, &day), TV_E_POLICY_NEW_TOKEN_LIMIT);
  policy_group_meter_free(m);
}

static void test_defaults_from_guessing_space(void **state) {
  (void)state;
  /* 16-digit PAN, 6+4 kept: 10^5 Luhn-valid middles -> 100 a day. */
  assert_int_equal(policy_group_limit_default(100000u, 10), 100u);
  /* 19 digits: 10^8 -> 10^5 a day (still 0.1% of the space). */
  assert_int_equal(policy_group_limit_default(100000000u, 10), 100000u);
  assert_int_equal(policy_group_limit_default(1000u, 10), POLICY_GROUP_LIMIT_FLOOR);
  /* Nothing kept, or a space of 10^9 and more: no group limit. */
  assert_int_equal(policy_group_limit_default(100000u, 0), 0u);
  assert_int_equal(policy_group_limit_default(POLICY_GROUP_SPACE_MAX, 4), 0u);
  assert_int_equal(policy_group_limit_default(UINT64_MAX, 4), 0u);
  assert_int_equal(policy_group_limit_effective(POLICY_GROUP_LIMIT_AUTO, 100000u, 10), 100u);
  assert_int_equal(policy_group_limit_effective(0, 100000u, 10), 0u);
  assert_int_equal(policy_group_limit_effective(7, UINT64_MAX, 10), 7u); /* explicit: applies */
  assert_int_equal(policy_group_limit_effective(7, 100000u, 0), 0u);      /* one group: never */
}

static void luhn_fill(char *pan, size_t len) {
  unsigned sum = 0;
  for (size_t i = 0; i + 1 < len; i++) {
    unsigned d = (unsigned)(pan[len - 2 - i] - '0');
    if (i % 2 == 0) {
      d *= 2;
      d -= d > 9 ? 9 : 0;
    }
    sum += d;
  }
  pan[len - 1] = (char)('0' + (10 - sum % 10) % 10);
}

/* A million realistic cards, one principal, one day: 300 BINs (a third
 * of the cards in the 10 biggest), random middles and last 4. None is
 * refused at the 16-digit default of 100. Then a brute force of one
 * group is cut at (at most) 100. */
static void test_bulk_load_never_limited_brute_force_is(void **state) {
  (void)state;
  policy_group_meter *m = NULL;
  assert_int_equal(policy_group_meter_new(fake_clock, NULL, &m), TV_OK);
  const uint64_t limit = policy_group_limit_default(100000u, 10);
  srand(13);
  uint32_t day = 0;
  char pan[17];
  for (int i = 0; i < 1000000; i++) {
    unsigned bin = (i % 3 == 0) ? 400000u + (unsigned)(rand() % 10) : 400000u + (unsigned)(rand() % 300) * 97u;
    snprintf(pan, sizeof pan, "%06u%09d", bin, rand() % 1000000000);
    luhn_fill(pan, 16);
    char group[11];
    memcpy(group, pan, 6);
    memcpy(group + 6, pan + 12, 4);
    assert_int_equal(policy_group_meter_take(m, "spiffe://crm", "pan", group, 10, limit, &day), TV_OK);
  }
  int allowed = 0;
  for (int middle = 0; middle < 100000; middle++) {
    if (policy_group_meter_take(m, "spiffe://scraper", "pan", "4111111111", 10, limit, &day) == TV_OK) {
      allowed++;
    }
  }
  /* Never more than the limit; a few fewer when both of the scraper's
   * counters also carry some of the million others' tokens (about one
   * each on average: a count-min sketch errs on the strict side). */
  assert_true(allowed <= 100);
  assert_true(allowed >= 90);
  policy_group_meter_free(m);
}

#define THREADS 4
typedef struct worker {
  policy_group_meter *m;
  int allowed;
} worker;

static void *taker(void *arg) {
  worker *w = arg;
  uint32_t day;
  for (int i = 0; i < 1000; i++) {
    w->allowed += take(w->m, "p", "4000000002", 500, &day) == TV_OK;
  }
  return NULL;
}

static void test_exact_under_concurrency(void **state) {
  (void)state;
  policy_group_meter *m = NULL;
  assert_int_equal(policy_group_meter_new(fake_clock, NULL, &m), TV_OK);
  pthread_t th[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.m = m};
    assert_int_equal(pthread_create(&th[i], NULL, taker, &w[i]), 0);
  }
  int total = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    total += w[i].allowed;
  }
  assert_int_equal(total, 500);
  policy_group_meter_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_limit_exact_and_refusal_counts_nothing),
      cmocka_unit_test(test_new_day_starts_again),
      cmocka_unit_test(test_defaults_from_guessing_space),
      cmocka_unit_test(test_bulk_load_never_limited_brute_force_is),
      cmocka_unit_test(test_exact_under_concurrency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
