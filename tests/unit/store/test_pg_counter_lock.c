/* The fleet's lock on the HSM's counters (pg_counter_lock.h): two nodes'
 * locks on one database exclude each other — the second waits until the
 * first is released — and a node's lock survives its connection being
 * killed (the next lock reconnects). Run through tests/support/pg_cluster.py. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "store_backend_util.h"
#include "vault/store/pg/pg_counter_lock.h"

static atomic_int a_released;
static atomic_int b_locked_while_a_held;

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void *lock_b(void *arg) {
  tv_hsm_counter_guard *gb = arg;
  tv_status st = gb->lock(gb->ctx);
  if (st == TV_OK) {
    atomic_store(&b_locked_while_a_held, !atomic_load(&a_released));
    gb->unlock(gb->ctx);
  }
  return (void *)(intptr_t)st;
}

static void test_two_nodes_exclude_each_other(void **state) {
  (void)state;
  const char *conninfo = test_pg_conninfo_base();
  tv_pg_counter_lock *a = NULL, *b = NULL;
  char why[256] = "";
  assert_int_equal(tv_pg_counter_lock_new(&a, conninfo, why, sizeof why), TV_OK);
  assert_int_equal(tv_pg_counter_lock_new(&b, conninfo, why, sizeof why), TV_OK);
  tv_hsm_counter_guard ga, gb;
  tv_pg_counter_lock_guard(a, &ga);
  tv_pg_counter_lock_guard(b, &gb);
  for (int round = 0; round < 3; round++) {
    atomic_store(&a_released, 0);
    atomic_store(&b_locked_while_a_held, 0);
    assert_int_equal(ga.lock(ga.ctx), TV_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, lock_b, &gb), 0);
    sleep_ms(300); /* B is waiting on the server now */
    atomic_store(&a_released, 1);
    ga.unlock(ga.ctx);
    void *rv = NULL;
    pthread_join(t, &rv);
    assert_int_equal((tv_status)(intptr_t)rv, TV_OK);
    assert_int_equal(atomic_load(&b_locked_while_a_held), 0);
  }
  /* A node whose session died (e.g. the node crashed, or a network cut)
   * loses the lock with it; its next lock reconnects. */
  assert_true(test_pg_exec(conninfo, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                     " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"));
  assert_int_equal(gb.lock(gb.ctx), TV_OK);
  gb.unlock(gb.ctx);
  tv_pg_counter_lock_free(a);
  tv_pg_counter_lock_free(b);
}

static void test_unreachable(void **state) {
  (void)state;
  tv_pg_counter_lock *l = NULL;
  char why[256] = "";
  assert_int_equal(tv_pg_counter_lock_new(&l, "host=/nonexistent-socket-dir port=1 connect_timeout=2", why, sizeof why),
                   TV_E_STORE_UNAVAILABLE);
  assert_null(l);
  assert_true(why[0] != '\0');
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_nodes_exclude_each_other),
      cmocka_unit_test(test_unreachable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
