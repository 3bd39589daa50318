/* tv_heap_tune: a thread that allocates and frees a few calls' worth of
 * large buffers round after round must stop page-faulting them after the
 * first round. With glibc's sliding thresholds each round page-faulted
 * every page again (~1,000 faults per round here; issue 15). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RUSAGE_THREAD */
#endif
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "vault/daemon/heap_tuning.h"

/* About one 1,000-item tokenize's jobs, three calls in flight. */
#define CALL_BYTES (1400u * 1024u)
#define CALLS_NUM 3u
#define ROUNDS_NUM 4u
/* Untuned: every page of every call, ~1,000 faults a round. */
#define STEADY_FAULTS_MAX 64

#if defined(__SANITIZE_ADDRESS__)
#define TV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TV_ASAN 1
#endif
#endif

#ifndef TV_ASAN
static long thread_faults(void) {
  struct rusage ru;
  assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
  return ru.ru_minflt;
}

/* Runs ROUNDS_NUM rounds of "calls" on a thread of its own (its own malloc
 * arena, as the server's workers have); out[r] = faults of round r. */
static void *rounds(void *arg) {
  long *out = arg;
  for (unsigned r = 0; r < ROUNDS_NUM; r++) {
    long before = thread_faults();
    void *bufs[CALLS_NUM];
    for (unsigned i = 0; i < CALLS_NUM; i++) {
      bufs[i] = calloc(1, CALL_BYTES);
      assert_non_null(bufs[i]);
      memset(bufs[i], 0x5a, CALL_BYTES); /* the jobs' fields get written */
    }
    for (unsigned i = 0; i < CALLS_NUM; i++) {
      free(bufs[i]);
    }
    out[r] = thread_faults() - before;
  }
  return NULL;
}
#endif

static void test_freed_call_memory_is_not_faulted_again(void **state) {
  (void)state;
#ifdef TV_ASAN
  skip(); /* ASan's allocator: neither mallopt nor these faults apply */
#else
  assert_int_equal(tv_heap_tune(), 1); /* glibc: the thresholds were taken */
  long faults[ROUNDS_NUM];
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, rounds, faults), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  for (unsigned r = 1; r < ROUNDS_NUM; r++) {
    assert_true(faults[r] <= STEADY_FAULTS_MAX);
  }
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_freed_call_memory_is_not_faulted_again),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
