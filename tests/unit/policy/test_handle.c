/* Reload: a policy swapped in while threads check. Every check must see
 * one whole policy (old or new), never a freed one. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vault/policy/policy.h"

/* Generation g allows tokenize in namespace "ns<g % 2>" and names its
 * role "gen<g % 2>": a check that mixed two policies would get an answer
 * that fits neither. */
static tv_policy *generation(unsigned g) {
  tv_policy *p = NULL;
  policy_limits none = {0};
  const char *role = g % 2 ? "gen1" : "gen0";
  const char *ns = g % 2 ? "ns1" : "ns0";
  assert_int_equal(policy_new(&p), TV_OK);
  assert_int_equal(policy_add_role(p, role, &none), TV_OK);
  assert_int_equal(policy_role_grant(p, role, ns, TV_PERM_TOKENIZE), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://crm", role), TV_OK);
  policy_freeze(p);
  return p;
}

#define READERS 4
#define SWAPS 2000

static atomic_int stop;

typedef struct reader {
  policy_handle *handle;
  long checks;
  long inconsistent;
} reader;

static void *reader_main(void *arg) {
  reader *r = arg;
  while (!atomic_load(&stop)) {
    const tv_policy *p = policy_handle_acquire(r->handle);
    policy_request req = {.principal = "spiffe://crm", .peer = "ipv4:10.0.0.1:1",
                          .permission = TV_PERM_TOKENIZE, .ns = "ns0", .items = 1};
    policy_decision d0;
    policy_decision d1;
    tv_status s0 = policy_check(p, NULL, &req, &d0);
    req.ns = "ns1";
    tv_status s1 = policy_check(p, NULL, &req, &d1);
    /* Exactly one namespace is open, and the role matches it. */
    int ok = (s0 == TV_OK) != (s1 == TV_OK);
    if (ok && s0 == TV_OK) {
      ok = strcmp(d0.role, "gen0") == 0;
    } else if (ok) {
      ok = strcmp(d1.role, "gen1") == 0;
    }
    r->inconsistent += !ok;
    r->checks++;
    policy_release(p);
  }
  return NULL;
}

static void test_swap_while_checking(void **state) {
  (void)state;
  policy_handle *h = NULL;
  assert_int_equal(policy_handle_new(generation(0), &h), TV_OK);
  atomic_store(&stop, 0);
  pthread_t threads[READERS];
  reader readers[READERS];
  for (int i = 0; i < READERS; i++) {
    readers[i] = (reader){.handle = h};
    assert_int_equal(pthread_create(&threads[i], NULL, reader_main, &readers[i]), 0);
  }
  for (unsigned g = 1; g <= SWAPS; g++) {
    assert_int_equal(policy_handle_swap(h, generation(g)), TV_OK);
  }
  atomic_store(&stop, 1);
  long checks = 0;
  for (int i = 0; i < READERS; i++) {
    assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(readers[i].inconsistent, 0);
    checks += readers[i].checks;
  }
  assert_true(checks > 0);
  /* After the last swap (generation SWAPS, even) ns0 is the open one. */
  const tv_policy *p = policy_handle_acquire(h);
  policy_request req = {.principal = "spiffe://crm", .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_TOKENIZE, .ns = "ns0", .items = 1};
  policy_decision d;
  assert_int_equal(policy_check(p, NULL, &req, &d), TV_OK);
  policy_release(p);
  policy_handle_free(h);
}

static void test_held_policy_outlives_swap(void **state) {
  (void)state;
  policy_handle *h = NULL;
  assert_int_equal(policy_handle_new(generation(0), &h), TV_OK);
  const tv_policy *held = policy_handle_acquire(h);
  assert_int_equal(policy_handle_swap(h, generation(1)), TV_OK);
  /* The old policy is still whole for the call that holds it. */
  policy_request req = {.principal = "spiffe://crm", .peer = "ipv4:10.0.0.1:1",
                        .permission = TV_PERM_TOKENIZE, .ns = "ns0", .items = 1};
  policy_decision d;
  assert_int_equal(policy_check(held, NULL, &req, &d), TV_OK);
  assert_string_equal(d.role, "gen0");
  const tv_policy *now = policy_handle_acquire(h);
  assert_int_equal(policy_check(now, NULL, &req, &d), TV_E_POLICY_DENIED);
  policy_release(now);
  policy_release(held);
  /* Only frozen policies can be published. */
  tv_policy *unfrozen = NULL;
  assert_int_equal(policy_new(&unfrozen), TV_OK);
  assert_int_equal(policy_handle_swap(h, unfrozen), TV_E_INVALID_ARGUMENT);
  policy_handle *h2 = NULL;
  assert_int_equal(policy_handle_new(unfrozen, &h2), TV_E_INVALID_ARGUMENT);
  policy_freeze(unfrozen);
  policy_release(unfrozen);
  policy_handle_free(h);
  policy_handle_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_swap_while_checking),
      cmocka_unit_test(test_held_policy_outlives_swap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
