/* Reads from a hot standby (issue 11 point 2, pg_replica.c): a store
 * opened with read_conninfo on the standby of tests/support/pg_cluster.py
 * --standby, next to a store without it (another node). Replay on the
 * standby is paused (pg_wal_replay_pause) to make it stale on purpose:
 *
 *  - reveal reads are served by the standby once it is proven fresh;
 *  - a token the standby does not have yet is read again from the
 *    primary (issued through another node, it is found at once);
 *  - this store's own delete is seen at once (the own-write fence), even
 *    though the standby still holds the live row;
 *  - another node's delete is seen by every read sent more than
 *    read_lag_max_ms after it was acknowledged, although the standby
 *    still holds the live row (the bound);
 *  - a standby unreachable at open, one that is really a primary, and one
 *    stopped under the open store: reads are answered by the primary and
 *    counted by reason; the stopped one serves again once it is back;
 *  - read_conninfo with a password, with several hosts, and an out of
 *    range bound are refused at open.
 * Time limits are hang guards only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>

#include "store_backend_util.h"
#include "vault/store/pg/pg_replica_internal.h"
#include "vault/util/clock.h"

enum { WAIT_DEADLINE_S = 60, RECORDS = 20 };

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void run_hook(const char *env_name) {
  const char *cmd = getenv(env_name);
  assert_non_null(cmd);
  assert_int_equal(system(cmd), 0);
}

/* standby_query runs |sql| on the standby as the superuser (replay
 * control is a superuser's) and returns its first value ("" if none). */
static void standby_query(const char *sql, char *out, size_t out_len) {
  char conninfo[1200];
  snprintf(conninfo, sizeof conninfo, "%s user=postgres", getenv("TV_TEST_PG_STANDBY_CONNINFO"));
  PGconn *c = PQconnectdb(conninfo);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PGresult *res = PQexec(c, sql);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    fail_msg("%s: %s", sql, PQerrorMessage(c));
  }
  snprintf(out, out_len, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
  PQclear(res);
  PQfinish(c);
}

/* replay_pause stops replay on the standby and waits until it has
 * stopped (a pause takes effect a moment after it is asked for). */
static void replay_pause(void) {
  char state[32];
  standby_query("SELECT pg_wal_replay_pause()", state, sizeof state);
  uint64_t deadline = tv_mono_us() + WAIT_DEADLINE_S * 1000000ull;
  do {
    assert_true(tv_mono_us() < deadline);
    standby_query("SELECT pg_get_wal_replay_pause_state()", state, sizeof state);
  } while (strcmp(state, "paused") != 0);
}

static void replay_resume(void) {
  char ignored[8];
  standby_query("SELECT pg_wal_replay_resume()", ignored, sizeof ignored);
}

/* standby_key_version is the key version of |r|'s row on the standby in
 * the schema of |schema_conninfo| (its search_path), as text ("" if
 * absent). */
static void standby_key_version(const char *schema_conninfo, const test_rec *r, char *out, size_t out_len) {
  const char *schema = strstr(schema_conninfo, "search_path=");
  assert_non_null(schema);
  schema += strlen("search_path=");
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT key_version FROM %.*s.tv_tokens WHERE token = '%.*s'::bytea",
           (int)strcspn(schema, "' "), schema, (int)r->put.token_len, r->token);
  standby_query(sql, out, out_len);
}

/* A store on the primary (node A) and one reading from the standby (node
 * B), both on one fresh schema. */
typedef struct pair {
  test_backend b;
  tv_store *a, *reader;
  char read_conninfo[1400];
} pair;

static const char *schema_suffix(const char *conninfo) {
  const char *s = strstr(conninfo, " options=");
  assert_non_null(s);
  return s;
}

static tv_status open_reader(const pair *p, const char *read_conninfo, uint32_t lag_max_ms, tv_store **out,
                             tv_store_diag *diag) {
  tv_store_options o = {.conninfo = p->b.conninfo, .read_conninfo = read_conninfo, .read_lag_max_ms = lag_max_ms};
  return tv_store_open(&tv_store_backend_pg, &o, out, diag);
}

static void pair_open(pair *p, uint32_t lag_max_ms) {
  memset(p, 0, sizeof *p);
  assert_int_equal(test_backend_open(&p->b, "pg", &p->a), TV_OK);
  snprintf(p->read_conninfo, sizeof p->read_conninfo, "%s%s", getenv("TV_TEST_PG_STANDBY_CONNINFO"),
           schema_suffix(p->b.conninfo));
  tv_store_diag diag;
  assert_int_equal(open_reader(p, p->read_conninfo, lag_max_ms, &p->reader, &diag), TV_OK);
}

static void pair_close(pair *p) {
  tv_store_close(p->reader);
  tv_store_close(p->a);
}

static tv_pg_replica_stats stats_of(tv_store *s) {
  tv_pg_replica_stats st;
  assert_int_equal(tv_pg_store_get_replica_stats(s, &st), TV_OK);
  return st;
}

static void wait_state(tv_store *s, int state) {
  uint64_t deadline = tv_mono_us() + WAIT_DEADLINE_S * 1000000ull;
  while (stats_of(s).state != state) {
    if (tv_mono_us() > deadline) {
      fail_msg("the replica never reached state %s (now %s)", tv_pg_replica_state_name(state),
               tv_pg_replica_state_name(stats_of(s).state));
    }
    sleep_ms(20);
  }
}

/* read_one reads |r| through the replica path into |it|. */
static void read_one(tv_store *s, const test_rec *r, tv_store_item *it, tv_store_buf *buf) {
  tv_store_key k = test_rec_key(r);
  assert_int_equal(tv_store_get_batch_replica(s, &k, 1, it, buf), TV_OK);
}

/* wait_served_by_standby waits until reading |r| is answered by the
 * standby itself (replayed: no recheck on the primary). */
static void wait_served_by_standby(tv_store *s, const test_rec *r) {
  uint64_t deadline = tv_mono_us() + WAIT_DEADLINE_S * 1000000ull;
  tv_store_buf buf = {0};
  for (;;) {
    tv_pg_replica_stats before = stats_of(s);
    tv_store_item it;
    read_one(s, r, &it, &buf);
    assert_int_equal(it.status, TV_OK);
    tv_pg_replica_stats after = stats_of(s);
    if (after.reads == before.reads + 1 && after.rechecks == before.rechecks) {
      break;
    }
    assert_true(tv_mono_us() < deadline);
    sleep_ms(20);
  }
  tv_store_buf_cleanup(&buf);
}

static void make_tombstone(const test_rec *r, test_rec *out) {
  *out = *r;
  out->put.token = (const uint8_t *)out->token;
  out->put.key_version = 0;
  out->put.expires_ms = 0;
  out->put.ciphertext_len = 0;
}

static void test_standby_serves_and_misses_go_to_primary(void **state) {
  (void)state;
  pair p;
  pair_open(&p, 60000);
  test_rec recs[RECORDS];
  tv_store_key keys[RECORDS];
  for (int i = 0; i < RECORDS; i++) {
    test_rec_make(&recs[i], (uint64_t)i + 1, 1);
    assert_int_equal(tv_store_put(p.a, &recs[i].put, NULL), TV_OK);
    keys[i] = test_rec_key(&recs[i]);
  }
  wait_state(p.reader, TV_PG_REPLICA_OK);
  wait_served_by_standby(p.reader, &recs[RECORDS - 1]);
  tv_store_item items[RECORDS];
  tv_store_buf buf = {0};
  assert_int_equal(tv_store_get_batch_replica(p.reader, keys, RECORDS, items, &buf), TV_OK);
  for (int i = 0; i < RECORDS; i++) {
    assert_int_equal(items[i].status, TV_OK);
    assert_true(test_put_equal(&items[i].put, &recs[i].put));
  }
  /* The standby stops replaying: tokens issued through node A now are not
   * on it, yet the reader finds them at once (read again from the
   * primary), along with the ones the standby has. */
  replay_pause();
  test_rec fresh[3];
  for (int i = 0; i < 3; i++) {
    test_rec_make(&fresh[i], 1000 + (uint64_t)i, 1);
    assert_int_equal(tv_store_put(p.a, &fresh[i].put, NULL), TV_OK);
  }
  tv_store_key mixed[5] = {keys[0], test_rec_key(&fresh[0]), keys[1], test_rec_key(&fresh[1]),
                           test_rec_key(&fresh[2])};
  const test_rec *want[5] = {&recs[0], &fresh[0], &recs[1], &fresh[1], &fresh[2]};
  tv_pg_replica_stats before = stats_of(p.reader);
  assert_int_equal(tv_store_get_batch_replica(p.reader, mixed, 5, items, &buf), TV_OK);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(items[i].status, TV_OK);
    assert_true(test_put_equal(&items[i].put, &want[i]->put));
  }
  tv_pg_replica_stats after = stats_of(p.reader);
  assert_int_equal(after.reads, before.reads + 1);       /* answered by the standby ... */
  assert_int_equal(after.rechecks, before.rechecks + 3); /* ... but for the three it lacks */
  /* A token nobody issued is NOT_FOUND after both were asked. */
  test_rec none;
  test_rec_make(&none, 999999, 1);
  read_one(p.reader, &none, &items[0], &buf);
  assert_int_equal(items[0].status, TV_E_STORE_NOT_FOUND);
  /* Plain get_batch (tokenize, delete) never touches the standby. */
  before = stats_of(p.reader);
  assert_int_equal(tv_store_get_batch(p.reader, keys, RECORDS, items, &buf), TV_OK);
  after = stats_of(p.reader);
  assert_int_equal(after.reads, before.reads);
  replay_resume();
  tv_store_buf_cleanup(&buf);
  pair_close(&p);
}

/* This store tombstones a token while the standby, paused, still holds
 * it live: the very next reveal must see the tombstone. */
static void test_own_delete_seen_at_once(void **state) {
  (void)state;
  pair p;
  pair_open(&p, 60000); /* a bound long enough that only the fence can protect */
  test_rec r, tomb;
  test_rec_make(&r, 7, 1);
  assert_int_equal(tv_store_put(p.a, &r.put, NULL), TV_OK);
  wait_state(p.reader, TV_PG_REPLICA_OK);
  wait_served_by_standby(p.reader, &r);
  replay_pause();
  make_tombstone(&r, &tomb);
  assert_int_equal(tv_store_reput(p.reader, &tomb.put, NULL), TV_OK);
  char version[16];
  standby_key_version(p.read_conninfo, &r, version, sizeof version);
  assert_string_equal(version, "1"); /* the standby would reveal it */
  tv_pg_replica_stats before = stats_of(p.reader);
  tv_store_item it;
  tv_store_buf buf = {0};
  read_one(p.reader, &r, &it, &buf);
  assert_int_equal(it.status, TV_OK);
  assert_int_equal(it.put.key_version, 0); /* the tombstone, not the standby's live row */
  tv_pg_replica_stats after = stats_of(p.reader);
  assert_int_equal(after.fallbacks[TV_PG_REPLICA_FALLBACK_OWN_WRITE],
                   before.fallbacks[TV_PG_REPLICA_FALLBACK_OWN_WRITE] + 1);
  /* Once the standby has replayed the tombstone it serves again. */
  replay_resume();
  wait_served_by_standby(p.reader, &r);
  read_one(p.reader, &r, &it, &buf);
  assert_int_equal(it.put.key_version, 0);
  tv_store_buf_cleanup(&buf);
  pair_close(&p);
}

/* Another node tombstones a token while the standby, paused, holds it
 * live: a read sent more than read_lag_max_ms after the acknowledgement
 * sees the tombstone — the standby cannot prove it is fresh enough. */
static void test_other_node_delete_bounded(void **state) {
  (void)state;
  enum { LAG_MAX_MS = 300 };
  pair p;
  pair_open(&p, LAG_MAX_MS);
  test_rec r, tomb;
  test_rec_make(&r, 8, 1);
  assert_int_equal(tv_store_put(p.a, &r.put, NULL), TV_OK);
  wait_state(p.reader, TV_PG_REPLICA_OK);
  wait_served_by_standby(p.reader, &r);
  replay_pause();
  make_tombstone(&r, &tomb);
  assert_int_equal(tv_store_reput(p.a, &tomb.put, NULL), TV_OK);
  uint64_t acked_us = tv_mono_us();
  /* The standby still has the live row: without the bound the reader
   * would reveal it. */
  char version[16];
  standby_key_version(p.read_conninfo, &r, version, sizeof version);
  assert_string_equal(version, "1");
  tv_store_buf buf = {0};
  tv_store_item it;
  while (tv_mono_us() <= acked_us + LAG_MAX_MS * 1000ull) {
    sleep_ms(10);
  }
  tv_pg_replica_stats before = stats_of(p.reader);
  read_one(p.reader, &r, &it, &buf);
  assert_int_equal(it.status, TV_OK);
  assert_int_equal(it.put.key_version, 0);
  tv_pg_replica_stats after = stats_of(p.reader);
  assert_int_equal(after.reads, before.reads); /* the primary answered */
  assert_int_equal(after.fallbacks[TV_PG_REPLICA_FALLBACK_LAG], before.fallbacks[TV_PG_REPLICA_FALLBACK_LAG] + 1);
  assert_int_not_equal(stats_of(p.reader).state, TV_PG_REPLICA_OK);
  replay_resume();
  wait_state(p.reader, TV_PG_REPLICA_OK);
  wait_served_by_standby(p.reader, &r);
  tv_store_buf_cleanup(&buf);
  pair_close(&p);
}

static void test_unreachable_and_not_standby_fall_back(void **state) {
  (void)state;
  pair p;
  memset(&p, 0, sizeof p);
  assert_int_equal(test_backend_open(&p.b, "pg", &p.a), TV_OK);
  test_rec r;
  test_rec_make(&r, 9, 1);
  assert_int_equal(tv_store_put(p.a, &r.put, NULL), TV_OK);
  /* Nothing listens there: the store opens all the same. */
  const char *nowhere = "host=/nonexistent-tv-standby port=1 dbname=tokenvault user=tokenvault";
  char on_primary[1400];
  snprintf(on_primary, sizeof on_primary, "%s%s", getenv("TV_TEST_PG_PRIMARY_CONNINFO"),
           schema_suffix(p.b.conninfo));
  const struct {
    const char *conninfo;
    int state, reason;
  } cases[] = {{nowhere, TV_PG_REPLICA_UNREACHABLE, TV_PG_REPLICA_FALLBACK_UNREACHABLE},
               {on_primary, TV_PG_REPLICA_NOT_STANDBY, TV_PG_REPLICA_FALLBACK_NOT_STANDBY}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tv_store_diag diag;
    assert_int_equal(open_reader(&p, cases[c].conninfo, 50, &p.reader, &diag), TV_OK);
    wait_state(p.reader, cases[c].state);
    tv_store_item it;
    tv_store_buf buf = {0};
    read_one(p.reader, &r, &it, &buf);
    assert_int_equal(it.status, TV_OK);
    assert_true(test_put_equal(&it.put, &r.put));
    tv_pg_replica_stats st = stats_of(p.reader);
    assert_int_equal(st.reads, 0);
    assert_int_equal(st.fallbacks[cases[c].reason], 1);
    tv_store_buf_cleanup(&buf);
    tv_store_close(p.reader);
  }
  tv_store_close(p.a);
}

/* The primary's insert position at a page boundary reads past the page
 * header; the standby reports the boundary. Seen on an idle pair right
 * after a base backup: insert 0/3000028, replay 0/3000000. */
static void test_record_end_position(void **state) {
  (void)state;
  const uint64_t page = 8192, seg = 16u << 20;
  assert_int_equal(tv_pg_replica_record_end(0x3000028, page, seg), 0x3000000);       /* a segment's first page */
  assert_int_equal(tv_pg_replica_record_end(0x3000000 + page + 24, page, seg), 0x3000000 + page);
  assert_int_equal(tv_pg_replica_record_end(0x3000000 + page + 40, page, seg), 0x3000000 + page + 40);
  assert_int_equal(tv_pg_replica_record_end(0x3000000 + 24, page, seg), 0x3000000 + 24); /* inside the long header */
  assert_int_equal(tv_pg_replica_record_end(0x3001234, page, seg), 0x3001234);
}

static void test_refused_at_open(void **state) {
  (void)state;
  pair p;
  memset(&p, 0, sizeof p);
  assert_int_equal(test_backend_open(&p.b, "pg", &p.a), TV_OK);
  const struct {
    const char *conninfo;
    uint32_t lag_max_ms;
    tv_status want;
    const char *says;
  } cases[] = {
      {"host=/s port=1 dbname=x user=x password=secret", 0, TV_E_STORE_CONNINFO_PASSWORD, "read_conninfo: a password"},
      {"postgresql://x:secret@h/x", 0, TV_E_STORE_CONNINFO_PASSWORD, "read_conninfo: a password"},
      {"host=/a,/b port=1,2 dbname=x user=x", 0, TV_E_STORE_CONNINFO, "read_conninfo: names several hosts"},
      {"host=/s port=1 dbname=x user=x", 5, TV_E_INVALID_ARGUMENT, "read_lag_max_ms: 5 is outside 10..600000"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tv_store *s = NULL;
    tv_store_diag diag;
    memset(&diag, 0, sizeof diag);
    assert_int_equal(open_reader(&p, cases[c].conninfo, cases[c].lag_max_ms, &s, &diag), cases[c].want);
    assert_null(s);
    if (strstr(diag.message, cases[c].says) == NULL) {
      fail_msg("case %zu: '%s' does not say '%s'", c, diag.message, cases[c].says);
    }
    assert_null(strstr(diag.message, "secret"));
  }
  tv_store_close(p.a);
}

/* The standby stopped under an open store: reads are answered by the
 * primary (first the read that finds it gone, then every read until the
 * watcher reaches it again), and it serves again once it is back. */
static void test_standby_stopped_and_back(void **state) {
  (void)state;
  pair p;
  pair_open(&p, 60000);
  test_rec r;
  test_rec_make(&r, 10, 1);
  assert_int_equal(tv_store_put(p.a, &r.put, NULL), TV_OK);
  wait_state(p.reader, TV_PG_REPLICA_OK);
  wait_served_by_standby(p.reader, &r);
  run_hook("TV_TEST_PG_STOP_STANDBY");
  tv_store_buf buf = {0};
  tv_store_item it;
  for (int i = 0; i < 5; i++) {
    read_one(p.reader, &r, &it, &buf);
    assert_int_equal(it.status, TV_OK);
    assert_true(test_put_equal(&it.put, &r.put));
  }
  tv_pg_replica_stats st = stats_of(p.reader);
  assert_true(st.fallbacks[TV_PG_REPLICA_FALLBACK_UNREACHABLE] + st.fallbacks[TV_PG_REPLICA_FALLBACK_LAG] >= 5);
  assert_true(st.fallbacks[TV_PG_REPLICA_FALLBACK_UNREACHABLE] >= 1);
  run_hook("TV_TEST_PG_START_STANDBY");
  wait_state(p.reader, TV_PG_REPLICA_OK);
  wait_served_by_standby(p.reader, &r);
  tv_store_buf_cleanup(&buf);
  pair_close(&p);
}

/* A failed test must not leave replay paused for the next one. */
static int resume_replay(void **state) {
  (void)state;
  replay_resume();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_end_position),
      cmocka_unit_test(test_refused_at_open),
      cmocka_unit_test_teardown(test_standby_serves_and_misses_go_to_primary, resume_replay),
      cmocka_unit_test_teardown(test_own_delete_seen_at_once, resume_replay),
      cmocka_unit_test_teardown(test_other_node_delete_bounded, resume_replay),
      cmocka_unit_test(test_unreachable_and_not_standby_fall_back),
      cmocka_unit_test(test_standby_stopped_and_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
