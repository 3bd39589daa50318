/* Once-per-fleet work on the PostgreSQL store: a lease is held by one
 * node at a time, renewed by its holder, taken over once it expires, and
 * given up on release; the purge (the store's compaction) turns expired
 * values into stubs that give up their fingerprint. Run through
 * tests/support/pg_cluster.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store_backend_util.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_lease_one_holder(void **state) {
  (void)state;
  test_backend b;
  tv_store *a = NULL, *c = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &a), TV_OK);
  assert_int_equal(test_backend_reopen(&b, &c), TV_OK); /* a second node */
  tv_store_lease_info li;
  const uint8_t pa[3] = {1, 2, 3};
  assert_int_equal(tv_store_lease(a, "rotation/pan", "node-a", 600, pa, 3, &li), TV_OK);
  assert_int_equal(li.held, 1);
  assert_int_equal(tv_store_lease(c, "rotation/pan", "node-b", 600, NULL, 0, &li), TV_OK);
  assert_int_equal(li.held, 0);
  assert_string_equal(li.holder, "node-a");
  assert_int_equal(li.progress_len, 3);
  assert_memory_equal(li.progress, pa, 3);
  /* Another lease is independent. */
  assert_int_equal(tv_store_lease(c, "rotation/iban", "node-b", 600, NULL, 0, &li), TV_OK);
  assert_int_equal(li.held, 1);
  /* Renewed by its holder, it does not expire. */
  for (int i = 0; i < 4; i++) {
    sleep_ms(250);
    assert_int_equal(tv_store_lease(a, "rotation/pan", "node-a", 600, pa, 3, &li), TV_OK);
    assert_int_equal(li.held, 1);
    assert_int_equal(tv_store_lease(c, "rotation/pan", "node-b", 600, NULL, 0, &li), TV_OK);
    assert_int_equal(li.held, 0);
  }
  /* Not renewed (its holder died): taken over after the ttl. */
  sleep_ms(800);
  assert_int_equal(tv_store_lease(c, "rotation/pan", "node-b", 600, NULL, 0, &li), TV_OK);
  assert_int_equal(li.held, 1);
  assert_int_equal(tv_store_lease(a, "rotation/pan", "node-a", 600, NULL, 0, &li), TV_OK);
  assert_int_equal(li.held, 0);
  assert_string_equal(li.holder, "node-b");
  /* Released: free at once; a release by a non-holder changes nothing. */
  assert_int_equal(tv_store_lease_release(a, "rotation/pan", "node-a"), TV_OK);
  assert_int_equal(tv_store_lease(a, "rotation/pan", "node-a", 60000, NULL, 0, &li), TV_OK);
  assert_int_equal(li.held, 0);
  assert_int_equal(tv_store_lease_release(c, "rotation/pan", "node-b"), TV_OK);
  assert_int_equal(tv_store_lease(a, "rotation/pan", "node-a", 60000, NULL, 0, &li), TV_OK);
  assert_int_equal(li.held, 1);
  /* Bad arguments. */
  assert_int_equal(tv_store_lease(a, "", "node-a", 1000, NULL, 0, &li), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_store_lease(a, "x", "node-a", 0, NULL, 0, &li), TV_E_INVALID_ARGUMENT);
  tv_store_close(c);
  tv_store_close(a);
}

/* The log (one process) holds every lease. */
static void test_lease_log(void **state) {
  (void)state;
  test_backend b;
  tv_store *s = NULL;
  assert_int_equal(test_backend_open(&b, "log", &s), TV_OK);
  tv_store_lease_info li;
  assert_int_equal(tv_store_lease(s, "rotation/pan", "node-a", 1000, NULL, 0, &li), TV_OK);
  assert_int_equal(li.held, 1);
  assert_int_equal(tv_store_lease(s, "rotation/pan", "node-b", 1000, NULL, 0, &li), TV_OK);
  assert_int_equal(li.held, 1);
  assert_int_equal(tv_store_lease_release(s, "rotation/pan", "node-a"), TV_OK);
  tv_store_close(s);
  test_backend_cleanup(&b);
}

/* Expired values become stubs (version 0, expiry kept, no ciphertext,
 * fingerprint given up); live ones, tombstones and values without expiry
 * are untouched. */
static void test_purge_expired(void **state) {
  (void)state;
  test_backend b;
  tv_store *s = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &s), TV_OK);
  enum { N = 30 };
  test_rec r[N];
  for (int i = 0; i < N; i++) {
    test_rec_make(&r[i], (uint64_t)i + 1, 1);
    r[i].put.expires_ms = i % 3 == 0 ? 0 : i % 3 == 1 ? 1000 : 5000; /* never, expired, not yet */
    tv_store_op op = {.kind = TV_STORE_OP_PUT, .flags = TV_STORE_OP_FP_UNIQUE, .put = r[i].put};
    assert_int_equal(test_op_wait(s, &op, NULL), TV_OK);
  }
  tv_store_compact_options co = {.now_ms = 2000};
  tv_store_compact_progress p;
  assert_int_equal(tv_store_compact(s, &co, &p), TV_OK);
  tv_store_compact_report rep;
  tv_store_compact_progress_get(&p, &rep);
  assert_int_equal(rep.records_expired, N / 3);
  tv_store_buf buf = {0};
  for (int i = 0; i < N; i++) {
    tv_store_key k = test_rec_key(&r[i]);
    tv_store_item it;
    assert_int_equal(tv_store_get_batch(s, &k, 1, &it, &buf), TV_OK);
    assert_int_equal(it.status, TV_OK);
    if (i % 3 == 1) {
      assert_int_equal(it.put.key_version, 0);
      assert_int_equal(it.put.expires_ms, 1000);
      assert_int_equal(it.put.ciphertext_len, 0);
      /* The fingerprint is free: a new token of the value goes in. */
      test_rec again;
      test_rec_make(&again, 1000u + (uint64_t)i, 1);
      memcpy(again.put.fingerprint, r[i].put.fingerprint, 16);
      tv_store_op op = {.kind = TV_STORE_OP_PUT, .flags = TV_STORE_OP_FP_UNIQUE, .put = again.put};
      assert_int_equal(test_op_wait(s, &op, NULL), TV_OK);
    } else {
      assert_true(test_put_equal(&it.put, &r[i].put));
    }
  }
  /* A second purge at the same time finds nothing more. */
  assert_int_equal(tv_store_compact(s, &co, &p), TV_OK);
  tv_store_compact_progress_get(&p, &rep);
  assert_int_equal(rep.records_expired, 0);
  tv_store_buf_cleanup(&buf);
  tv_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lease_one_holder),
      cmocka_unit_test(test_lease_log),
      cmocka_unit_test(test_purge_expired),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
