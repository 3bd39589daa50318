/* tv_workers: every job runs; a full queue says busy instead of growing;
 * freeing runs what is queued. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vault/server/grpc/workers.h"

static atomic_int ran;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void count_job(void *arg) {
  (void)arg;
  atomic_fetch_add(&ran, 1);
}

static void gated_job(void *arg) {
  (void)arg;
  pthread_mutex_lock(&gate);
  pthread_mutex_unlock(&gate);
  atomic_fetch_add(&ran, 1);
}

static void test_all_jobs_run(void **state) {
  (void)state;
  tv_workers *w = NULL;
  atomic_store(&ran, 0);
  assert_int_equal(tv_workers_new(&w, 3, 64), TV_OK);
  int submitted = 0;
  for (int i = 0; i < 1000; i++) {
    while (tv_workers_submit(w, count_job, NULL) == TV_E_SERVER_BUSY) {
    }
    submitted++;
  }
  tv_workers_free(w);
  assert_int_equal(atomic_load(&ran), submitted);
}

static void test_full_queue_is_busy(void **state) {
  (void)state;
  tv_workers *w = NULL;
  atomic_store(&ran, 0);
  pthread_mutex_lock(&gate);
  assert_int_equal(tv_workers_new(&w, 1, 4), TV_OK);
  /* One job may be taken by the worker (blocked on the gate) and 4 queue;
   * by the sixth submission the queue must be full. */
  int accepted = 0;
  tv_status st = TV_OK;
  for (int i = 0; i < 6 && st == TV_OK; i++) {
    st = tv_workers_submit(w, gated_job, NULL);
    accepted += st == TV_OK;
  }
  assert_int_equal(st, TV_E_SERVER_BUSY);
  assert_true(accepted >= 4 && accepted <= 5);
  pthread_mutex_unlock(&gate);
  tv_workers_free(w); /* runs everything still queued */
  assert_int_equal(atomic_load(&ran), accepted);
}

static void test_bad_arguments(void **state) {
  (void)state;
  tv_workers *w = NULL;
  assert_int_equal(tv_workers_new(&w, 0, 4), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_workers_new(&w, 1, 0), TV_E_INVALID_ARGUMENT);
  tv_workers_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_all_jobs_run),
      cmocka_unit_test(test_full_queue_is_busy),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
