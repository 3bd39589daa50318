/* Concurrency: many producers tokenizing overlapping values in a
 * convergent namespace end with exactly one token per value, no duplicate
 * tokens and no lost records; the async API gives the same guarantees. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"

#define THREADS 8
#define VALUES 300
#define BATCH 10

typedef struct shared {
  eng_fixture *fx;
  const char *ns;
  char values[VALUES][17];
  char tokens[THREADS][VALUES][TV_ENGINE_TEXT_LEN_MAX + 1];
  int failures[THREADS];
} shared;

typedef struct worker_arg {
  shared *s;
  int id;
} worker_arg;

static void *worker(void *p) {
  worker_arg *a = p;
  shared *s = a->s;
  tv_tokenize_item items[BATCH];
  size_t idx[BATCH];
  /* Each thread walks the values from another starting point and stride,
   * so the same value is in flight in several threads at once. */
  for (size_t done = 0; done < VALUES; done += BATCH) {
    memset(items, 0, sizeof items);
    for (size_t k = 0; k < BATCH; k++) {
      idx[k] = ((size_t)a->id * 37u + (done + k) * 7u) % VALUES;
      items[k].value = s->values[idx[k]];
      items[k].value_len = strlen(s->values[idx[k]]);
    }
    if (tv_engine_tokenize(s->fx->engine, s->ns, items, BATCH) != TV_OK) {
      s->failures[a->id]++;
      continue;
    }
    for (size_t k = 0; k < BATCH; k++) {
      if (items[k].status != TV_OK) {
        s->failures[a->id]++;
      }
      memcpy(s->tokens[a->id][idx[k]], items[k].token, items[k].token_len + 1);
    }
  }
  return NULL;
}

static tv_status count_ns(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)loc;
  size_t *n = ctx;
  if (put->ns_len == 4 && memcmp(put->ns, "acct", 4) == 0) {
    (*n)++;
  }
  return TV_OK;
}

static void check_unique(eng_fixture *fx, shared *s) {
  for (int t = 0; t < THREADS; t++) {
    assert_int_equal(s->failures[t], 0);
  }
  for (size_t v = 0; v < VALUES; v++) {
    assert_true(strlen(s->tokens[0][v]) > 0);
    for (int t = 1; t < THREADS; t++) {
      assert_string_equal(s->tokens[t][v], s->tokens[0][v]);
    }
    for (size_t w = 0; w < v; w++) {
      assert_string_not_equal(s->tokens[0][v], s->tokens[0][w]);
    }
  }
  tv_detokenize_item *d = calloc(VALUES, sizeof *d);
  assert_non_null(d);
  for (size_t v = 0; v < VALUES; v++) {
    d[v].token = s->tokens[0][v];
    d[v].token_len = strlen(s->tokens[0][v]);
  }
  eng_check(tv_engine_detokenize(fx->engine, s->ns, d, VALUES, TV_REVEAL_FULL), "detok");
  for (size_t v = 0; v < VALUES; v++) {
    eng_check(d[v].status, "value");
    assert_string_equal(d[v].value, s->values[v]);
  }
  free(d);
  size_t records = 0;
  eng_check(tv_store_scan(fx->store, count_ns, &records), "scan");
  assert_int_equal(records, VALUES);
}

static void test_threads_one_token_per_value(void **state) {
  eng_fixture *fx = *state;
  shared *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->fx = fx;
  s->ns = "acct";
  for (size_t v = 0; v < VALUES; v++) {
    snprintf(s->values[v], sizeof s->values[v], "%012zu", 100000000000u + v * 7919u);
  }
  pthread_t threads[THREADS];
  worker_arg args[THREADS];
  for (int t = 0; t < THREADS; t++) {
    args[t] = (worker_arg){s, t};
    assert_int_equal(pthread_create(&threads[t], NULL, worker, &args[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
  }
  check_unique(fx, s);
  /* And after a restart nothing changed. */
  eng_close(fx);
  eng_open(fx);
  check_unique(fx, s);
  free(s);
}

typedef struct async_slot {
  tv_tokenize_req req;
  tv_tokenize_item item;
  size_t value;
  int copy;
} async_slot;

typedef struct async_state {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t pending;
  shared *s;
} async_state;

static void async_done(tv_tokenize_req *req) {
  async_slot *slot = (async_slot *)req;
  async_state *st = req->user;
  memcpy(st->s->tokens[slot->copy][slot->value], slot->item.token, slot->item.token_len + 1);
  if (slot->item.status != TV_OK) {
    st->s->failures[slot->copy]++;
  }
  pthread_mutex_lock(&st->lock);
  st->pending--;
  pthread_cond_signal(&st->cond);
  pthread_mutex_unlock(&st->lock);
}

static void test_async_in_flight(void **state) {
  eng_fixture *fx = *state;
  shared *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->fx = fx;
  s->ns = "acct";
  for (size_t v = 0; v < VALUES; v++) {
    snprintf(s->values[v], sizeof s->values[v], "%010zu", 5000000000u + v * 104729u);
  }
  /* THREADS copies of every value, all submitted before any is awaited. */
  async_slot *slots = calloc((size_t)THREADS * VALUES, sizeof *slots);
  assert_non_null(slots);
  async_state st = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, (size_t)THREADS * VALUES, s};
  for (size_t i = 0; i < (size_t)THREADS * VALUES; i++) {
    async_slot *slot = &slots[i];
    slot->value = (i * 13u) % VALUES;
    slot->copy = (int)(i / VALUES);
    slot->item.value = s->values[slot->value];
    slot->item.value_len = strlen(s->values[slot->value]);
    slot->req = (tv_tokenize_req){.ns = "acct", .items = &slot->item, .num_items = 1, .done = async_done,
                                  .user = &st};
    eng_check(tv_engine_tokenize_submit(fx->engine, &slot->req), "submit");
  }
  pthread_mutex_lock(&st.lock);
  while (st.pending > 0) {
    pthread_cond_wait(&st.cond, &st.lock);
  }
  pthread_mutex_unlock(&st.lock);
  check_unique(fx, s);
  free(slots);
  free(s);
}

#define RACERS 50

typedef struct race_state {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t pending;
} race_state;

static void race_done(tv_tokenize_req *req) {
  race_state *st = req->user;
  pthread_mutex_lock(&st->lock);
  st->pending--;
  pthread_cond_signal(&st->cond);
  pthread_mutex_unlock(&st->lock);
}

/* Not convergent and FF1: every copy of one value starts from the same
 * candidate, so all but one lose the race for it (TOKEN_EXISTS from the
 * store) and must move on until each has a token of its own. */
static void test_token_races_resolved(void **state) {
  eng_fixture *fx = *state;
  static tv_tokenize_req reqs[RACERS];
  static tv_tokenize_item items[RACERS];
  race_state st = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, RACERS};
  for (size_t i = 0; i < RACERS; i++) {
    items[i] = (tv_tokenize_item){.value = "4111111111111111", .value_len = 16};
    reqs[i] = (tv_tokenize_req){.ns = "pan_nc", .items = &items[i], .num_items = 1, .done = race_done, .user = &st};
    eng_check(tv_engine_tokenize_submit(fx->engine, &reqs[i]), "submit");
  }
  pthread_mutex_lock(&st.lock);
  while (st.pending > 0) {
    pthread_cond_wait(&st.cond, &st.lock);
  }
  pthread_mutex_unlock(&st.lock);
  tv_detokenize_item d[RACERS];
  for (size_t i = 0; i < RACERS; i++) {
    eng_check(items[i].status, "racer");
    for (size_t j = 0; j < i; j++) {
      assert_string_not_equal(items[i].token, items[j].token);
    }
    d[i] = (tv_detokenize_item){.token = items[i].token, .token_len = items[i].token_len};
  }
  eng_check(tv_engine_detokenize(fx->engine, "pan_nc", d, RACERS, TV_REVEAL_FULL), "detok");
  for (size_t i = 0; i < RACERS; i++) {
    eng_check(d[i].status, "value");
    assert_string_equal(d[i].value, "4111111111111111");
  }
  size_t erased = 0;
  eng_check(tv_engine_erase_value(fx->engine, &erased, "pan_nc", "4111111111111111", 16), "erase");
  assert_int_equal(erased, RACERS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_threads_one_token_per_value, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_async_in_flight, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_token_races_resolved, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
