/* Reveals per minute: exact counts under concurrency, refill by an
 * injected clock, refusals that consume nothing, counters that survive a
 * policy reload. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vault/policy/policy.h"

static _Atomic uint64_t fake_now_ms;

static uint64_t fake_clock(void *ctx) {
  (void)ctx;
  return atomic_load(&fake_now_ms);
}

static tv_policy *reveal_policy(uint64_t per_minute) {
  tv_policy *p = NULL;
  policy_limits limits = {.reveals_per_minute_max = per_minute};
  assert_int_equal(policy_new(&p), TV_OK);
  assert_int_equal(policy_add_role(p, "finance", &limits), TV_OK);
  assert_int_equal(policy_role_grant(p, "finance", "pan", TV_PERM_DETOKENIZE_FULL), TV_OK);
  assert_int_equal(policy_role_grant(p, "finance", "pan", TV_PERM_DETOKENIZE_MASKED), TV_OK);
  assert_int_equal(policy_role_grant(p, "finance", "pan", TV_PERM_TOKENIZE), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://fin", "finance"), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://fin2", "finance"), TV_OK);
  policy_freeze(p);
  return p;
}

static tv_status reveal(const tv_policy *p, policy_meter *m, const char *who, uint64_t items) {
  policy_request req = {.principal = who, .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_DETOKENIZE_FULL, .ns = "pan", .items = items};
  policy_decision d;
  return policy_check(p, m, &req, &d);
}

#define THREADS 8
#define CALLS_PER_THREAD 400
#define LIMIT 1000

typedef struct worker {
  const tv_policy *policy;
  policy_meter *meter;
  int allowed;
  int limited;
} worker;

static void *reveal_worker(void *arg) {
  worker *w = arg;
  for (int i = 0; i < CALLS_PER_THREAD; i++) {
    tv_status st = reveal(w->policy, w->meter, "spiffe://fin", 1);
    if (st == TV_OK) {
      w->allowed++;
    } else if (st == TV_E_POLICY_RATE_LIMITED) {
      w->limited++;
    }
  }
  return NULL;
}

static int run_threads(const tv_policy *p, policy_meter *m) {
  pthread_t threads[THREADS];
  worker workers[THREADS];
  for (int i = 0; i < THREADS; i++) {
    workers[i] = (worker){.policy = p, .meter = m};
    assert_int_equal(pthread_create(&threads[i], NULL, reveal_worker, &workers[i]), 0);
  }
  int allowed = 0;
  int limited = 0;
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_join(threads[i], NULL), 0);
    allowed += workers[i].allowed;
    limited += workers[i].limited;
  }
  assert_int_equal(allowed + limited, THREADS * CALLS_PER_THREAD);
  return allowed;
}

static void test_exact_limit_concurrent(void **state) {
  (void)state;
  atomic_store(&fake_now_ms, 1000000);
  tv_policy *p = reveal_policy(LIMIT);
  policy_meter *m = NULL;
  assert_int_equal(policy_meter_new(fake_clock, NULL, &m), TV_OK);
  /* 3200 attempts in one frozen instant: exactly the limit succeeds. */
  assert_int_equal(run_threads(p, m), LIMIT);
  /* Half a minute refills half the bucket, exactly. */
  atomic_fetch_add(&fake_now_ms, 30000);
  assert_int_equal(run_threads(p, m), LIMIT / 2);
  /* A long pause refills to one minute's worth, never more. */
  atomic_fetch_add(&fake_now_ms, 3600000);
  assert_int_equal(run_threads(p, m), LIMIT);
  /* A clock that steps back grants nothing. */
  atomic_fetch_sub(&fake_now_ms, 50000);
  assert_int_equal(reveal(p, m, "spiffe://fin", 1), TV_E_POLICY_RATE_LIMITED);
  policy_meter_free(m);
  policy_release(p);
}

static void test_batch_refusal_consumes_nothing(void **state) {
  (void)state;
  atomic_store(&fake_now_ms, 5000);
  tv_policy *p = reveal_policy(10);
  policy_meter *m = NULL;
  assert_int_equal(policy_meter_new(fake_clock, NULL, &m), TV_OK);
  assert_int_equal(reveal(p, m, "spiffe://fin", 6), TV_OK);
  assert_int_equal(reveal(p, m, "spiffe://fin", 5), TV_E_POLICY_RATE_LIMITED);
  /* The refusal names the per-minute limit that refused it. */
  policy_request over = {.principal = "spiffe://fin", .peer = "ipv4:10.0.0.1:1",
                         .permission = TV_PERM_DETOKENIZE_MASKED, .ns = "pan", .items = 5};
  policy_decision refused;
  assert_int_equal(policy_check(p, m, &over, &refused), TV_E_POLICY_RATE_LIMITED);
  assert_int_equal(refused.limit, 10);
  assert_int_equal(reveal(p, m, "spiffe://fin", 4), TV_OK);
  assert_int_equal(reveal(p, m, "spiffe://fin", 1), TV_E_POLICY_RATE_LIMITED);
  /* More than a minute's worth in one request can never pass. */
  assert_int_equal(reveal(p, m, "spiffe://fin2", 11), TV_E_POLICY_RATE_LIMITED);
  /* Each principal has its own bucket. */
  assert_int_equal(reveal(p, m, "spiffe://fin2", 10), TV_OK);
  /* 6 seconds refill exactly one reveal at 10 a minute. */
  atomic_fetch_add(&fake_now_ms, 5999);
  assert_int_equal(reveal(p, m, "spiffe://fin", 1), TV_E_POLICY_RATE_LIMITED);
  atomic_fetch_add(&fake_now_ms, 1);
  assert_int_equal(reveal(p, m, "spiffe://fin", 1), TV_OK);
  assert_int_equal(reveal(p, m, "spiffe://fin", 1), TV_E_POLICY_RATE_LIMITED);
  /* Masked reveals count too; tokenize does not. */
  policy_request req = {.principal = "spiffe://fin", .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_TOKENIZE, .ns = "pan", .items = 1000};
  policy_decision d;
  assert_int_equal(policy_check(p, m, &req, &d), TV_OK);
  req.permission = TV_PERM_DETOKENIZE_MASKED;
  req.items = 1;
  assert_int_equal(policy_check(p, m, &req, &d), TV_E_POLICY_RATE_LIMITED);
  assert_string_equal(d.role, "finance");
  /* With a limit and no meter the check fails closed. */
  assert_int_equal(reveal(p, NULL, "spiffe://fin", 1), TV_E_POLICY_METER_FULL);
  policy_meter_free(m);
  policy_release(p);
}

static void test_reload_keeps_counts(void **state) {
  (void)state;
  atomic_store(&fake_now_ms, 70000);
  tv_policy *old = reveal_policy(100);
  policy_meter *m = NULL;
  assert_int_equal(policy_meter_new(fake_clock, NULL, &m), TV_OK);
  assert_int_equal(reveal(old, m, "spiffe://fin", 100), TV_OK);
  tv_policy *fresh = reveal_policy(100);
  /* A reload is no way around the limit. */
  assert_int_equal(reveal(fresh, m, "spiffe://fin", 1), TV_E_POLICY_RATE_LIMITED);
  policy_release(fresh);
  /* A lowered limit caps what was saved up under the old one. */
  atomic_fetch_add(&fake_now_ms, 60000);
  tv_policy *lower = reveal_policy(10);
  assert_int_equal(reveal(lower, m, "spiffe://fin", 10), TV_OK);
  assert_int_equal(reveal(lower, m, "spiffe://fin", 1), TV_E_POLICY_RATE_LIMITED);
  policy_release(lower);
  policy_release(old);
  policy_meter_free(m);
}

static void test_real_clock(void **state) {
  (void)state;
  tv_policy *p = reveal_policy(3);
  policy_meter *m = NULL;
  assert_int_equal(policy_meter_new(NULL, NULL, &m), TV_OK);
  assert_int_equal(reveal(p, m, "spiffe://fin", 3), TV_OK);
  assert_int_equal(reveal(p, m, "spiffe://fin", 1), TV_E_POLICY_RATE_LIMITED);
  policy_meter_free(m);
  policy_release(p);
}

/* tokenize_per_minute: its own bucket (reveals do not drain it), its own
 * refusal, refilled by the clock; a refused batch consumes nothing. */
static void test_tokenize_per_minute(void **state) {
  (void)state;
  atomic_store(&fake_now_ms, 1000000);
  tv_policy *p = NULL;
  policy_limits limits = {.reveals_per_minute_max = 5, .tokenize_per_minute_max = 10};
  assert_int_equal(policy_new(&p), TV_OK);
  assert_int_equal(policy_add_role(p, "crm", &limits), TV_OK);
  assert_int_equal(policy_role_grant(p, "crm", "pan", TV_PERM_TOKENIZE), TV_OK);
  assert_int_equal(policy_role_grant(p, "crm", "pan", TV_PERM_DETOKENIZE_MASKED), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://crm", "crm"), TV_OK);
  policy_freeze(p);
  policy_meter *m = NULL;
  assert_int_equal(policy_meter_new(fake_clock, NULL, &m), TV_OK);
  policy_request tok = {.principal = "spiffe://crm", .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_TOKENIZE, .ns = "pan", .items = 4};
  policy_request rev = tok;
  rev.permission = TV_PERM_DETOKENIZE_MASKED;
  rev.items = 5;
  policy_decision d;
  assert_int_equal(policy_check(p, m, &rev, &d), TV_OK); /* reveals: their own bucket */
  assert_int_equal(policy_check(p, m, &tok, &d), TV_OK);
  assert_int_equal(policy_check(p, m, &tok, &d), TV_OK);
  assert_int_equal(policy_check(p, m, &tok, &d), TV_E_POLICY_TOKENIZE_RATE_LIMITED);
  assert_int_equal(d.limit, 10);
  tok.items = 2; /* the refused 4 consumed nothing */
  assert_int_equal(policy_check(p, m, &tok, &d), TV_OK);
  assert_int_equal(policy_check(p, m, &tok, &d), TV_E_POLICY_TOKENIZE_RATE_LIMITED);
  atomic_fetch_add(&fake_now_ms, 60000); /* a minute refills it */
  tok.items = 10;
  assert_int_equal(policy_check(p, m, &tok, &d), TV_OK);
  policy_meter_free(m);
  policy_release(p);
}

/* Off by default: a role without it tokenizes without a meter at all. */
static void test_tokenize_unlimited_by_default(void **state) {
  (void)state;
  tv_policy *p = reveal_policy(0);
  policy_request tok = {.principal = "spiffe://fin", .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_TOKENIZE, .ns = "pan", .items = 4000};
  policy_decision d;
  for (int i = 0; i < 100; i++) {
    assert_int_equal(policy_check(p, NULL, &tok, &d), TV_OK);
  }
  policy_release(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tokenize_per_minute),
      cmocka_unit_test(test_tokenize_unlimited_by_default),
      cmocka_unit_test(test_exact_limit_concurrent),
      cmocka_unit_test(test_batch_refusal_consumes_nothing),
      cmocka_unit_test(test_reload_keeps_counts),
      cmocka_unit_test(test_real_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
