/* The PostgreSQL store when its database is slow or gone: a statement
 * past the timeout fails with TV_E_STORE_TIMEOUT (and commits nothing);
 * the server stopped under load fails operations with
 * TV_E_STORE_UNAVAILABLE — never an acknowledgement of something not
 * committed — the health probe says so, and after the server restarts the
 * store serves again by itself with every acknowledged record readable.
 * Run through tests/support/pg_cluster.py. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store_backend_util.h"

static void run_shell(const char *env_name) {
  const char *cmd = getenv(env_name);
  assert_non_null(cmd);
  assert_int_equal(system(cmd), 0);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* open_timed opens a pg store on a fresh schema with |timeout_ms|. */
static tv_store *open_timed(test_backend *b, uint32_t timeout_ms) {
  tv_store *s = NULL;
  assert_int_equal(test_backend_open(b, "pg", &s), TV_OK);
  tv_store_close(s);
  tv_store_options o = {.conninfo = b->conninfo, .statement_timeout_ms = timeout_ms};
  assert_int_equal(tv_store_open(&tv_store_backend_pg, &o, &s, NULL), TV_OK);
  return s;
}

/* A table lock held by another session makes every write and read wait:
 * the server cancels them at the timeout, nothing is committed, and the
 * store works again once the lock is gone. */
static void test_statement_timeout(void **state) {
  (void)state;
  test_backend b;
  tv_store *s = open_timed(&b, 300);
  test_rec r1, r2;
  test_rec_make(&r1, 1, 1);
  test_rec_make(&r2, 2, 1);
  assert_int_equal(tv_store_put(s, &r1.put, NULL), TV_OK);
  /* A reader connection pooled before the lock (preparing the statements
   * of a new one would wait for the lock as well). */
  assert_int_equal(test_check_ids(s, 1, 1, 1), 1);
  PGconn *locker = PQconnectdb(b.conninfo);
  assert_int_equal(PQstatus(locker), CONNECTION_OK);
  PGresult *res = PQexec(locker, "BEGIN; LOCK TABLE tv_tokens IN ACCESS EXCLUSIVE MODE");
  assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
  PQclear(res);
  assert_int_equal(tv_store_put(s, &r2.put, NULL), TV_E_STORE_TIMEOUT);
  tv_store_key k1 = test_rec_key(&r1);
  tv_store_item it;
  tv_store_buf buf = {0};
  assert_int_equal(tv_store_get_batch(s, &k1, 1, &it, &buf), TV_E_STORE_TIMEOUT);
  assert_int_equal(tv_store_health(s), TV_OK); /* the database itself answers */
  res = PQexec(locker, "ROLLBACK");
  PQclear(res);
  PQfinish(locker);
  assert_int_equal(test_check_ids(s, 1, 1, 1), 1);
  assert_int_equal(test_check_ids(s, 2, 1, 1), 0); /* the timed-out put committed nothing */
  assert_int_equal(tv_store_put(s, &r2.put, NULL), TV_OK);
  tv_store_buf_cleanup(&buf);
  tv_store_close(s);
}

enum { LOAD_THREADS = 4, LOAD_PER_THREAD = 4000 };

typedef struct loader {
  tv_store *s;
  int id;
  atomic_int *stop;
  uint8_t acked[LOAD_PER_THREAD]; /* 1: the put was acknowledged */
  size_t ok, unavailable, other;
  tv_status other_status;
} loader;

static void *load_main(void *arg) {
  loader *l = arg;
  for (size_t i = 0; i < LOAD_PER_THREAD && !atomic_load(l->stop); i++) {
    test_rec r;
    test_rec_make(&r, (uint64_t)l->id * 100000u + i + 1, 1);
    tv_status st = tv_store_put(l->s, &r.put, NULL);
    l->acked[i] = st == TV_OK;
    l->ok += st == TV_OK;
    l->unavailable += st == TV_E_STORE_UNAVAILABLE;
    if (st != TV_OK && st != TV_E_STORE_UNAVAILABLE) {
      l->other++;
      l->other_status = st;
    }
    if (st != TV_OK) {
      sleep_ms(5); /* a client backing off */
    }
  }
  return NULL;
}

/* Waits (bounded) until the store's health is |want|. */
static int wait_health(tv_store *s, tv_status want) {
  for (int i = 0; i < 600; i++) {
    if (tv_store_health(s) == want) {
      return 1;
    }
    sleep_ms(50);
  }
  return 0;
}

static void test_server_stopped_under_load(void **state) {
  (void)state;
  test_backend b;
  tv_store *s = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &s), TV_OK);
  assert_int_equal(tv_store_health(s), TV_OK);
  atomic_int stop = 0;
  loader *l = calloc(LOAD_THREADS, sizeof *l);
  assert_non_null(l);
  pthread_t th[LOAD_THREADS];
  for (int t = 0; t < LOAD_THREADS; t++) {
    l[t] = (loader){.s = s, .id = t, .stop = &stop};
    assert_int_equal(pthread_create(&th[t], NULL, load_main, &l[t]), 0);
  }
  sleep_ms(300);
  run_shell("TV_TEST_PG_STOP");
  assert_int_equal(tv_store_health(s), TV_E_STORE_UNAVAILABLE);
  sleep_ms(300);
  run_shell("TV_TEST_PG_START");
  assert_true(wait_health(s, TV_OK));
  sleep_ms(300);
  atomic_store(&stop, 1);
  size_t ok = 0, unavailable = 0;
  for (int t = 0; t < LOAD_THREADS; t++) {
    pthread_join(th[t], NULL);
    if (l[t].other != 0) {
      fail_msg("thread %d: %zu puts failed with %s", t, l[t].other, tv_status_name(l[t].other_status));
    }
    ok += l[t].ok;
    unavailable += l[t].unavailable;
  }
  assert_true(unavailable > 0); /* the outage was seen under load */
  assert_true(ok > 0);
  /* Every acknowledged put is there, byte for byte; a put that failed
   * may or may not have committed (its COMMIT's answer may be what was
   * lost), never the reverse. */
  for (int t = 0; t < LOAD_THREADS; t++) {
    for (size_t i = 0; i < LOAD_PER_THREAD; i++) {
      if (l[t].acked[i]) {
        assert_int_equal(test_check_ids(s, (uint64_t)t * 100000u + i + 1, 1, 1), 1);
      }
    }
  }
  /* And the store takes new writes without being reopened. */
  test_rec fresh;
  test_rec_make(&fresh, 999999, 1);
  assert_int_equal(tv_store_put(s, &fresh.put, NULL), TV_OK);
  free(l);
  tv_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_statement_timeout),
      cmocka_unit_test(test_server_stopped_under_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
