/* What only a database backend has: the conninfo check, schema creation
 * and version refusal, convergence and token collisions between two
 * stores on one database (two nodes), and the database going away and
 * coming back. Run through tests/support/pg_cluster.py. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store_backend_util.h"

static void test_conninfo_check(void **state) {
  (void)state;
  char why[256];
  assert_int_equal(tv_pg_conninfo_check("host=/run/postgresql port=5432 dbname=tv user=tv", why, sizeof why), TV_OK);
  assert_int_equal(tv_pg_conninfo_check("postgresql://tv@db.example/tv", why, sizeof why), TV_OK);
  assert_int_equal(tv_pg_conninfo_check("host=db user=tv password=hunter2", why, sizeof why),
                   TV_E_STORE_CONNINFO_PASSWORD);
  assert_non_null(strstr(why, "password"));
  assert_null(strstr(why, "hunter2"));
  assert_int_equal(tv_pg_conninfo_check("postgresql://tv:hunter2@db.example/tv", why, sizeof why),
                   TV_E_STORE_CONNINFO_PASSWORD);
  assert_int_equal(tv_pg_conninfo_check("host=db nonsense_key=1", why, sizeof why), TV_E_STORE_CONNINFO);
  assert_int_equal(tv_pg_conninfo_check("host='unterminated", why, sizeof why), TV_E_STORE_CONNINFO);
  /* open refuses it too, before connecting */
  tv_store_options o = {.conninfo = "host=/nonexistent password=x"};
  tv_store *s = NULL;
  tv_store_diag diag;
  assert_int_equal(tv_store_open(&tv_store_backend_pg, &o, &s, &diag), TV_E_STORE_CONNINFO_PASSWORD);
  assert_null(s);
}

static void test_schema_missing_refused(void **state) {
  (void)state;
  char conninfo[1024];
  test_pg_fresh_schema(conninfo, sizeof conninfo);
  tv_store_options o = {.conninfo = conninfo};
  tv_store *s = NULL;
  tv_store_diag diag;
  assert_int_equal(tv_store_open(&tv_store_backend_pg, &o, &s, &diag), TV_E_STORE_SCHEMA_MISSING);
  assert_non_null(strstr(diag.message, "--init"));
  assert_int_equal(tv_pg_schema_init(conninfo, &diag), TV_OK);
  assert_int_equal(tv_pg_schema_init(conninfo, &diag), TV_OK); /* idempotent: a second --init */
  assert_int_equal(tv_store_open(&tv_store_backend_pg, &o, &s, &diag), TV_OK);
  tv_store_close(s);
}

static void test_schema_newer_refused(void **state) {
  (void)state;
  char conninfo[1024];
  test_pg_fresh_schema(conninfo, sizeof conninfo);
  tv_store_diag diag;
  assert_int_equal(tv_pg_schema_init(conninfo, &diag), TV_OK);
  assert_true(test_pg_exec(conninfo, "UPDATE tv_schema_version SET version = 2"));
  tv_store_options o = {.conninfo = conninfo};
  tv_store *s = NULL;
  assert_int_equal(tv_store_open(&tv_store_backend_pg, &o, &s, &diag), TV_E_STORE_SCHEMA_NEWER);
  assert_non_null(strstr(diag.message, "version 2"));
  assert_non_null(strstr(diag.message, "version 1"));
  assert_int_equal(tv_pg_schema_init(conninfo, &diag), TV_E_STORE_SCHEMA_NEWER); /* --init never downgrades */
}

static void test_unreachable(void **state) {
  (void)state;
  tv_store_options o = {.conninfo = "host=/nonexistent-tokenvault-dir port=1 dbname=x user=x connect_timeout=2"};
  tv_store *s = NULL;
  tv_store_diag diag;
  assert_int_equal(tv_store_open(&tv_store_backend_pg, &o, &s, &diag), TV_E_STORE_UNAVAILABLE);
  assert_non_null(strstr(diag.message, "cannot connect"));
}

/* Two nodes racing to store the same values in a convergent namespace. */
typedef struct racer {
  tv_store *s;
  int node;
  size_t n;
  tv_status *status;
  tv_store_loc *loc;
} racer;

enum { RACE_VALUES = 300 };

static void make_racer_rec(test_rec *r, int node, size_t i) {
  test_rec_make(r, 10000 * (uint64_t)(node + 1) + i, 1);
  test_rec same;
  test_rec_make(&same, i, 1);
  memcpy(r->put.fingerprint, same.put.fingerprint, 16); /* same value, different candidate token */
}

static void *race(void *arg) {
  racer *r = arg;
  for (size_t i = 0; i < r->n; i++) {
    test_rec rec;
    make_racer_rec(&rec, r->node, i);
    tv_store_op op;
    memset(&op, 0, sizeof op);
    op.kind = TV_STORE_OP_PUT;
    op.flags = TV_STORE_OP_FP_UNIQUE;
    op.put = rec.put;
    /* the blocking put has no flags parameter: use the async path */
    tv_store_loc loc = 0;
    r->status[i] = test_op_wait(r->s, &op, &loc);
    r->loc[i] = loc;
  }
  return NULL;
}

static void test_two_nodes_converge(void **state) {
  (void)state;
  test_backend b;
  tv_store *s1 = NULL, *s2 = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &s1), TV_OK);
  assert_int_equal(test_backend_reopen(&b, &s2), TV_OK);
  static tv_status st[2][RACE_VALUES];
  static tv_store_loc loc[2][RACE_VALUES];
  racer r[2] = {{s1, 0, RACE_VALUES, st[0], loc[0]}, {s2, 1, RACE_VALUES, st[1], loc[1]}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) {
    assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
  }
  tv_store_buf buf = {0};
  for (size_t i = 0; i < RACE_VALUES; i++) {
    int w = st[0][i] == TV_OK ? 0 : 1;
    assert_int_equal(st[w][i], TV_OK);
    assert_int_equal(st[1 - w][i], TV_E_STORE_FINGERPRINT_EXISTS);
    assert_true(loc[1 - w][i] == loc[w][i]); /* the loser learns where the winner is */
    tv_store_item it;
    assert_int_equal(tv_store_read_locations(r[1 - w].s, &loc[1 - w][i], 1, &it, &buf), TV_OK);
    test_rec winner;
    make_racer_rec(&winner, w, i);
    assert_int_equal(it.status, TV_OK);
    assert_true(test_put_equal(&it.put, &winner.put));
    size_t num = 0;
    assert_int_equal(tv_store_find_fingerprint(s1, winner.put.ns, 3, winner.put.fingerprint, &it, 1, &num, &buf),
                     TV_OK);
    assert_int_equal(num, 1);
  }
  tv_store_buf_cleanup(&buf);
  tv_store_close(s2);
  tv_store_close(s1);
}

/* A token one node holds is taken for the other node; once the holder
 * is tombstoned (engine delete: re-put, key version 0, unflagged) the
 * value may get a new token. */
static void test_two_nodes_token_collision_and_tombstone(void **state) {
  (void)state;
  test_backend b;
  tv_store *s1 = NULL, *s2 = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &s1), TV_OK);
  assert_int_equal(test_backend_reopen(&b, &s2), TV_OK);
  test_rec a, a_other_value, a_again;
  test_rec_make(&a, 1, 1);
  test_rec_make(&a_other_value, 2, 1);
  a_other_value.put.token = a.put.token;
  a_other_value.put.token_len = a.put.token_len;
  tv_store_op op = {.kind = TV_STORE_OP_PUT, .flags = TV_STORE_OP_FP_UNIQUE, .put = a.put};
  assert_int_equal(test_op_wait(s1, &op, NULL), TV_OK);
  tv_store_op op2 = {.kind = TV_STORE_OP_PUT, .flags = TV_STORE_OP_FP_UNIQUE, .put = a_other_value.put};
  assert_int_equal(test_op_wait(s2, &op2, NULL), TV_E_STORE_TOKEN_EXISTS);
  test_rec tomb = a;
  tomb.put.key_version = 0;
  tomb.put.expires_ms = 0;
  tomb.put.fingerprint[0] ^= 0xFF; /* the engine writes a random one */
  assert_int_equal(tv_store_reput(s2, &tomb.put, NULL), TV_OK);
  test_rec_make(&a_again, 3, 1);
  memcpy(a_again.put.fingerprint, a.put.fingerprint, 16);
  tv_store_op op3 = {.kind = TV_STORE_OP_PUT, .flags = TV_STORE_OP_FP_UNIQUE, .put = a_again.put};
  assert_int_equal(test_op_wait(s1, &op3, NULL), TV_OK);
  tv_store_close(s2);
  tv_store_close(s1);
}

static void run_shell(const char *env_name) {
  const char *cmd = getenv(env_name);
  assert_non_null(cmd);
  assert_int_equal(system(cmd), 0);
}

/* The database stops under a running store: operations fail with
 * UNAVAILABLE (nothing acknowledged that is not committed), no crash;
 * after it restarts the store reconnects by itself. */
static void test_database_restart(void **state) {
  (void)state;
  test_backend b;
  tv_store *s = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &s), TV_OK);
  test_rec r1, r2, r3;
  test_rec_make(&r1, 1, 1);
  test_rec_make(&r2, 2, 1);
  test_rec_make(&r3, 3, 1);
  assert_int_equal(tv_store_put(s, &r1.put, NULL), TV_OK);
  tv_store_item it;
  tv_store_buf buf = {0};
  tv_store_key k1 = test_rec_key(&r1);
  assert_int_equal(tv_store_get_batch(s, &k1, 1, &it, &buf), TV_OK); /* a reader connection is pooled */
  run_shell("TV_TEST_PG_STOP");
  assert_int_equal(tv_store_put(s, &r2.put, NULL), TV_E_STORE_UNAVAILABLE);
  assert_int_equal(tv_store_put(s, &r2.put, NULL), TV_E_STORE_UNAVAILABLE); /* reconnect fails too */
  assert_int_equal(tv_store_get_batch(s, &k1, 1, &it, &buf), TV_E_STORE_UNAVAILABLE);
  size_t num = 0;
  assert_int_equal(tv_store_find_fingerprint(s, r1.put.ns, 3, r1.put.fingerprint, &it, 1, &num, &buf),
                   TV_E_STORE_UNAVAILABLE);
  tv_store_stats stats;
  tv_store_get_stats(s, &stats);
  assert_true(stats.failed_batches >= 2);
  run_shell("TV_TEST_PG_START");
  assert_int_equal(tv_store_put(s, &r3.put, NULL), TV_OK);
  tv_pg_store_stats ha;
  assert_int_equal(tv_pg_store_get_stats(s, &ha), TV_OK);
  assert_int_equal(ha.reconnects, 1); /* the failed attempts while it was down do not count */
  assert_int_equal(ha.failovers, 0);  /* the same server, the same timeline: a restart, not a failover */
  assert_int_equal(ha.connected, 1);
  assert_int_equal(test_check_ids(s, 1, 1, 1), 1);
  assert_int_equal(test_check_ids(s, 2, 1, 1), 0); /* the failed put is not there */
  assert_int_equal(test_check_ids(s, 3, 1, 1), 1);
  tv_store_buf_cleanup(&buf);
  tv_store_close(s);
}

static uint64_t sum(const uint64_t *v, size_t n) {
  uint64_t t = 0;
  for (size_t i = 0; i < n; i++) {
    t += v[i];
  }
  return t;
}

/* Runs on the writer thread: counts, never asserts (cmocka's jump
 * belongs to the test's thread). */
typedef struct pending {
  atomic_int left, failed;
} pending;

static void count_done(tv_store_op *op, tv_status st) {
  pending *p = op->user;
  atomic_fetch_add(&p->failed, st != TV_OK);
  atomic_fetch_sub(&p->left, 1);
}

/* The backend's own statistics: rows per committed group, read round
 * trips, the pool, the server it writes to. */
static void test_pg_stats(void **state) {
  (void)state;
  test_backend b;
  tv_store *s = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &s), TV_OK);
  enum { N = 600 };
  static test_rec recs[N];
  static tv_store_op ops[N];
  static pending p;
  atomic_store(&p.left, N);
  for (size_t i = 0; i < N; i++) { /* submitted at once: groups of many */
    test_rec_make(&recs[i], i, 1);
    ops[i] = (tv_store_op){.kind = TV_STORE_OP_PUT, .put = recs[i].put, .done = count_done, .user = &p};
    assert_int_equal(tv_store_submit_wait(s, &ops[i]), TV_OK);
  }
  for (int i = 0; i < 3000 && atomic_load(&p.left) > 0; i++) {
    usleep(10000);
  }
  assert_int_equal(atomic_load(&p.left), 0);
  assert_int_equal(atomic_load(&p.failed), 0);
  assert_int_equal(test_check_ids(s, 0, N, 1), N);
  tv_pg_store_stats ha;
  tv_store_stats st;
  assert_int_equal(tv_pg_store_get_stats(s, &ha), TV_OK);
  tv_store_get_stats(s, &st);
  assert_int_equal(ha.batch_rows_sum, N);
  assert_int_equal(sum(ha.batch_rows_buckets, TV_PG_BATCH_ROWS_BUCKETS_COUNT), st.fsyncs);
  assert_true(st.fsyncs < N); /* grouped */
  assert_int_equal(ha.reads, (N + 255) / 256); /* test_check_ids: one get_batch per 256 */
  assert_int_equal(sum(ha.read_buckets, TV_LATENCY_BUCKETS_COUNT + 1), ha.reads);
  assert_true(ha.read_us_max > 0 && ha.read_us_sum >= ha.read_us_max);
  assert_int_equal(ha.read_retries, 0);
  assert_int_equal(ha.readers_open, 1);
  assert_int_equal(ha.readers_idle, 1);
  assert_int_equal(ha.readers_max, 8);
  assert_int_equal(ha.reconnects, 0);
  assert_int_equal(ha.failovers, 0);
  assert_int_equal(ha.connected, 1);
  assert_true(ha.timeline >= 1);
  assert_non_null(strstr(b.conninfo, ha.host)); /* the harness's socket directory */
  tv_store_close(s);
  /* Another backend's store has no such statistics. */
  test_backend lb;
  assert_int_equal(test_backend_open(&lb, "log", &s), TV_OK);
  assert_int_equal(tv_pg_store_get_stats(s, &ha), TV_E_INVALID_ARGUMENT);
  tv_store_close(s);
  test_backend_cleanup(&lb);
}

/* Snapshots are the database's (pg_dump); compaction is the purge of
 * expired values (test_pg_lease_purge), nothing without a clock. */
static void test_snapshot_unsupported(void **state) {
  (void)state;
  test_backend b;
  tv_store *s = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &s), TV_OK);
  tv_store_snapshot_info info;
  assert_int_equal(tv_store_snapshot(s, "/nonexistent", NULL, 0, &info), TV_E_STORE_UNSUPPORTED);
  assert_non_null(strstr(info.diag.message, "pg_dump"));
  assert_int_equal(tv_store_compact(s, NULL, NULL), TV_OK);
  tv_store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conninfo_check),
      cmocka_unit_test(test_schema_missing_refused),
      cmocka_unit_test(test_schema_newer_refused),
      cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_two_nodes_converge),
      cmocka_unit_test(test_two_nodes_token_collision_and_tombstone),
      cmocka_unit_test(test_snapshot_unsupported),
      cmocka_unit_test(test_pg_stats),
      cmocka_unit_test(test_database_restart),
  };
  return cmocka_run_group_tests_name("pg_store", tests, NULL, NULL);
}
