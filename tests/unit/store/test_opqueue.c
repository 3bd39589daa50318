/* The producers' queue: bounded, every op delivered once, in order per
 * producer, with many producers racing. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "vault/store/opqueue.h"

static void test_full_and_empty(void **state) {
  (void)state;
  tv_opqueue q;
  assert_int_equal(tv_opqueue_init(&q, 4), TV_OK);
  tv_store_op ops[5];
  assert_null(tv_opqueue_pop(&q));
  for (int i = 0; i < 4; i++) {
    assert_int_equal(tv_opqueue_push(&q, &ops[i]), 1);
  }
  assert_int_equal(tv_opqueue_push(&q, &ops[4]), 0); /* full */
  assert_ptr_equal(tv_opqueue_pop(&q), &ops[0]);
  assert_int_equal(tv_opqueue_push(&q, &ops[4]), 1);
  for (int i = 1; i < 5; i++) {
    assert_ptr_equal(tv_opqueue_pop(&q), &ops[i]);
  }
  assert_null(tv_opqueue_pop(&q));
  tv_opqueue_cleanup(&q);
}

enum { PRODUCERS = 8, PER_PRODUCER = 20000 };

typedef struct producer {
  tv_opqueue *q;
  tv_store_op *ops;
} producer;

static void *produce(void *arg) {
  producer *p = arg;
  for (int i = 0; i < PER_PRODUCER; i++) {
    while (!tv_opqueue_push(p->q, &p->ops[i])) {
      sched_yield();
    }
  }
  return NULL;
}

static void test_many_producers(void **state) {
  (void)state;
  tv_opqueue q;
  assert_int_equal(tv_opqueue_init(&q, 256), TV_OK); /* small: forces full */
  tv_store_op *ops = calloc(PRODUCERS * PER_PRODUCER, sizeof *ops);
  producer prods[PRODUCERS];
  pthread_t th[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++) {
    for (int i = 0; i < PER_PRODUCER; i++) {
      ops[p * PER_PRODUCER + i].seq = (uint64_t)p << 32 | (uint64_t)i;
    }
    prods[p] = (producer){&q, &ops[p * PER_PRODUCER]};
    pthread_create(&th[p], NULL, produce, &prods[p]);
  }
  int64_t next[PRODUCERS] = {0};
  size_t got = 0;
  while (got < PRODUCERS * PER_PRODUCER) {
    tv_store_op *op = tv_opqueue_pop(&q);
    if (op == NULL) {
      sched_yield();
      continue;
    }
    int p = (int)(op->seq >> 32);
    assert_int_equal((int64_t)(op->seq & 0xffffffffu), next[p]); /* FIFO per producer */
    next[p]++;
    got++;
  }
  for (int p = 0; p < PRODUCERS; p++) {
    pthread_join(th[p], NULL);
    assert_int_equal(next[p], PER_PRODUCER);
  }
  assert_null(tv_opqueue_pop(&q));
  free(ops);
  tv_opqueue_cleanup(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_and_empty),
      cmocka_unit_test(test_many_producers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
