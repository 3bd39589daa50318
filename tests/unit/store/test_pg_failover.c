/* The database fails over under a running store (issue 11 point 1): a
 * primary and a synchronous streaming standby, the store opened once on
 * the multi-host conninfo (target_session_attrs=read-write). Writers put
 * continuously and record every acknowledgement; the primary is SIGKILLed,
 * the standby promoted: the calls in flight fail with UNAVAILABLE, the
 * same store serves again after the promotion, and every acknowledged
 * token is there. Three times in a row (fail over, rebuild the old
 * primary as the standby, fail back). Also: a write on a read-only server
 * (a standby) is UNAVAILABLE, not WRITE_FAILED; a multi-host conninfo
 * without target_session_attrs=read-write is refused; reads during the
 * outage fail fast instead of each trying to connect. Run through
 * tests/support/pg_cluster.py --standby. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>

#include "store_backend_util.h"
#include "vault/util/clock.h"

enum {
  WRITERS = 4,
  ACKED_PER_WRITER_MAX = 200000,
  FAILOVERS = 3,
  ACKS_PER_ROUND_MIN = 100,        /* acknowledged puts before each kill */
  SERVE_AGAIN_DEADLINE_S = 10,     /* hang guard after the promotion, not a speed goal */
  ROUND_ACKS_DEADLINE_S = 60,      /* hang guard for the writers' progress */
};

static void run_hook(const char *env_name) {
  const char *cmd = getenv(env_name);
  assert_non_null(cmd);
  assert_int_equal(system(cmd), 0);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* schema_suffix returns the " options='-c search_path=...'" part of a
 * conninfo made by test_pg_fresh_schema, to put after another base. */
static const char *schema_suffix(const char *conninfo) {
  const char *s = strstr(conninfo, " options=");
  assert_non_null(s);
  return s;
}

static void test_multi_host_needs_read_write(void **state) {
  (void)state;
  const char *refused[] = {"host=/a,/b port=1,2 dbname=x user=x",
                           "host=/a,/b port=1,2 dbname=x user=x target_session_attrs=any",
                           "postgresql://x@h1:1,h2:2/x"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    tv_store_options o = {.conninfo = refused[i]};
    tv_store *s = NULL;
    tv_store_diag diag;
    assert_int_equal(tv_store_open(&tv_store_backend_pg, &o, &s, &diag), TV_E_STORE_CONNINFO);
    assert_non_null(strstr(diag.message, "target_session_attrs=read-write"));
    assert_null(s);
  }
}

/* open_when_replayed opens a store on the standby once it has replayed
 * the schema the primary just created (synchronous_commit = on waits for
 * the standby's flush, not its replay). */
static tv_store *open_when_replayed(const char *conninfo) {
  tv_store_options o = {.conninfo = conninfo};
  tv_store *s = NULL;
  tv_store_diag diag;
  tv_status st = TV_E_STORE_SCHEMA_MISSING;
  for (int i = 0; i < 200 && st == TV_E_STORE_SCHEMA_MISSING; i++) {
    st = tv_store_open(&tv_store_backend_pg, &o, &s, &diag);
    if (st == TV_E_STORE_SCHEMA_MISSING) {
      sleep_ms(50);
    }
  }
  assert_int_equal(st, TV_OK);
  return s;
}

/* A store whose conninfo names the standby alone (a node misconfigured,
 * or a server demoted under it): reads serve, a write is refused by the
 * server as read-only and must be UNAVAILABLE (retry elsewhere, later),
 * never WRITE_FAILED (a final answer about the data). */
static void test_write_on_standby_is_unavailable(void **state) {
  (void)state;
  test_backend b;
  tv_store *primary = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &primary), TV_OK);
  test_rec r1, r2;
  test_rec_make(&r1, 1, 1);
  test_rec_make(&r2, 2, 1);
  assert_int_equal(tv_store_put(primary, &r1.put, NULL), TV_OK);
  char conninfo[1400];
  snprintf(conninfo, sizeof conninfo, "%s%s", getenv("TV_TEST_PG_STANDBY_CONNINFO"), schema_suffix(b.conninfo));
  tv_store *standby = open_when_replayed(conninfo);
  assert_int_equal(tv_store_put(standby, &r2.put, NULL), TV_E_STORE_UNAVAILABLE);
  assert_int_equal(tv_store_put(standby, &r2.put, NULL), TV_E_STORE_UNAVAILABLE); /* reconnected: still read-only */
  tv_pg_store_stats ha;
  assert_int_equal(tv_pg_store_get_stats(standby, &ha), TV_OK);
  assert_int_equal(ha.read_only_refusals, 2);
  assert_int_equal(ha.reconnects, 1);
  assert_int_equal(ha.failovers, 0);
  tv_store_key k1 = test_rec_key(&r1);
  tv_store_item it;
  tv_store_buf buf = {0};
  for (int i = 0; i < 200; i++) { /* replay of r1 may lag its commit a little */
    assert_int_equal(tv_store_get_batch(standby, &k1, 1, &it, &buf), TV_OK);
    if (it.status == TV_OK) {
      break;
    }
    sleep_ms(50);
  }
  assert_int_equal(it.status, TV_OK);
  assert_true(test_put_equal(&it.put, &r1.put));
  assert_int_equal(test_check_ids(primary, 2, 1, 1), 0); /* the refused put is nowhere */
  assert_int_equal(tv_pg_store_get_stats(primary, &ha), TV_OK);
  assert_int_equal(ha.connected, 1);
  tv_store_buf_cleanup(&buf);
  tv_store_close(standby);
  tv_store_close(primary);
}

/* The standby listed first: libpq skips it for the read-write host. */
static void test_read_write_host_chosen(void **state) {
  (void)state;
  char fresh[1024];
  test_pg_fresh_schema(fresh, sizeof fresh);
  assert_int_equal(tv_pg_schema_init(fresh, NULL), TV_OK);
  PQconninfoOption *sb = PQconninfoParse(getenv("TV_TEST_PG_STANDBY_CONNINFO"), NULL);
  PQconninfoOption *pr = PQconninfoParse(getenv("TV_TEST_PG_PRIMARY_CONNINFO"), NULL);
  assert_non_null(sb);
  assert_non_null(pr);
  const char *sb_host = NULL, *sb_port = NULL, *pr_host = NULL, *pr_port = NULL;
  for (int i = 0; sb[i].keyword != NULL; i++) {
    sb_host = strcmp(sb[i].keyword, "host") == 0 ? sb[i].val : sb_host;
    sb_port = strcmp(sb[i].keyword, "port") == 0 ? sb[i].val : sb_port;
    pr_host = strcmp(pr[i].keyword, "host") == 0 ? pr[i].val : pr_host;
    pr_port = strcmp(pr[i].keyword, "port") == 0 ? pr[i].val : pr_port;
  }
  char conninfo[1400];
  snprintf(conninfo, sizeof conninfo, "host=%s,%s port=%s,%s dbname=tokenvault user=tokenvault"
           " target_session_attrs=read-write%s", sb_host, pr_host, sb_port, pr_port, schema_suffix(fresh));
  tv_store_options o = {.conninfo = conninfo};
  tv_store *s = NULL;
  assert_int_equal(tv_store_open(&tv_store_backend_pg, &o, &s, NULL), TV_OK);
  test_rec r;
  test_rec_make(&r, 7, 1);
  assert_int_equal(tv_store_put(s, &r.put, NULL), TV_OK);
  tv_pg_store_stats ha;
  assert_int_equal(tv_pg_store_get_stats(s, &ha), TV_OK);
  assert_string_equal(ha.host, pr_host);
  assert_string_equal(ha.port, pr_port);
  assert_true(ha.timeline >= 1);
  tv_store_close(s);
  PQconninfoFree(sb);
  PQconninfoFree(pr);
}

/* Writers putting continuously, each its own range of ids. */
typedef struct writer {
  tv_store *s;
  uint64_t first_id;
  uint64_t *acked; /* ids acknowledged, in order */
  atomic_size_t num_acked;
  size_t num_failed;
} writer;

static atomic_int stop_writers;
static atomic_uint_fast64_t last_ack_us;
static atomic_uint_fast64_t unavailable;
static atomic_uint_fast64_t unexpected; /* any status but OK and UNAVAILABLE */

static void *write_loop(void *arg) {
  writer *w = arg;
  for (uint64_t id = w->first_id; !atomic_load(&stop_writers); id++) {
    if (atomic_load(&w->num_acked) >= ACKED_PER_WRITER_MAX) {
      sleep_ms(10);
      continue;
    }
    test_rec r;
    test_rec_make(&r, id, 1);
    tv_status st = tv_store_put(w->s, &r.put, NULL);
    if (st == TV_OK) {
      w->acked[atomic_load(&w->num_acked)] = id;
      atomic_fetch_add(&w->num_acked, 1);
      atomic_store(&last_ack_us, tv_mono_us());
    } else if (st == TV_E_STORE_UNAVAILABLE) {
      atomic_fetch_add(&unavailable, 1);
      w->num_failed++; /* may or may not have committed: never retried under the same token */
      sleep_ms(20);
    } else {
      atomic_fetch_add(&unexpected, 1);
      fprintf(stderr, "put %llu: %s\n", (unsigned long long)id, tv_status_name(st));
    }
  }
  return NULL;
}

static size_t acked_total(writer *w) {
  size_t n = 0;
  for (int i = 0; i < WRITERS; i++) {
    n += atomic_load(&w[i].num_acked);
  }
  return n;
}

/* read_back reads the acknowledged ids [from, to) of one writer in
 * batches; returns how many are there exactly as written, or -1 when a
 * read failed. */
static long read_back(tv_store *s, const writer *w, size_t from, size_t to) {
  enum { CHUNK = 256 };
  static test_rec recs[CHUNK];
  tv_store_key keys[CHUNK];
  tv_store_item items[CHUNK];
  tv_store_buf buf = {0};
  long ok = 0;
  for (size_t at = from; at < to; at += CHUNK) {
    size_t n = to - at < CHUNK ? to - at : CHUNK;
    for (size_t i = 0; i < n; i++) {
      test_rec_make(&recs[i], w->acked[at + i], 1);
      keys[i] = test_rec_key(&recs[i]);
    }
    if (tv_store_get_batch(s, keys, n, items, &buf) != TV_OK) {
      ok = -1;
      break;
    }
    for (size_t i = 0; i < n; i++) {
      ok += items[i].status == TV_OK && test_put_equal(&items[i].put, &recs[i].put);
    }
  }
  tv_store_buf_cleanup(&buf);
  return ok;
}

static void wait_for_acks(writer *w, size_t target) {
  uint64_t deadline = tv_mono_us() + ROUND_ACKS_DEADLINE_S * 1000000ull;
  while (acked_total(w) < target) {
    assert_true(tv_mono_us() < deadline);
    sleep_ms(20);
  }
}

/* reads_fail_fast_in_outage: with the primary dead and the standby not
 * yet promoted, single-key reads (what a tokenize call does per value)
 * fail UNAVAILABLE, and after a failed connection attempt the next ones
 * fail without a new attempt for 200 ms (TV_PG_RECONNECT_INTERVAL_US):
 * the attempts are bounded by the time taken, not by the reads. Before,
 * each read made its own attempt, which reached the standby, was accepted
 * and then refused as read-only: a 1,000-value tokenize took a minute to
 * fail and stormed the standby with connections. */
static void reads_fail_fast_in_outage(tv_store *s) {
  enum { READS = 200, RECONNECT_INTERVAL_MS = 200 };
  tv_pg_store_stats before, after;
  assert_int_equal(tv_pg_store_get_stats(s, &before), TV_OK);
  test_rec r;
  test_rec_make(&r, 1, 1);
  tv_store_key key = test_rec_key(&r);
  tv_store_item it;
  tv_store_buf buf = {0};
  uint64_t t0 = tv_mono_us();
  for (int i = 0; i < READS; i++) {
    assert_int_equal(tv_store_get_batch(s, &key, 1, &it, &buf), TV_E_STORE_UNAVAILABLE);
  }
  uint64_t elapsed_ms = (tv_mono_us() - t0) / 1000;
  assert_int_equal(tv_pg_store_get_stats(s, &after), TV_OK);
  uint64_t attempts = after.reader_connect_failures - before.reader_connect_failures;
  fprintf(stderr, "pg_failover: %d reads in the outage: %llu ms, %llu connection attempts\n", READS,
          (unsigned long long)elapsed_ms, (unsigned long long)attempts);
  assert_true(attempts >= 1);
  assert_true(attempts <= 2 + elapsed_ms / RECONNECT_INTERVAL_MS);
  assert_true(after.reads_failed_fast - before.reads_failed_fast >= READS - attempts);
  tv_store_buf_cleanup(&buf);
}

/* fail_over kills the primary under the writers, promotes the standby,
 * and returns the microseconds from the promotion to the first write
 * acknowledged after it. */
static uint64_t fail_over(tv_store *s, writer *w) {
  wait_for_acks(w, acked_total(w) + ACKS_PER_ROUND_MIN);
  size_t before = atomic_load(&w[0].num_acked);
  assert_int_equal(read_back(s, &w[0], 0, before), (long)before); /* a reader connection is pooled now */
  uint64_t failed_before = atomic_load(&unavailable);
  run_hook("TV_TEST_PG_KILL_PRIMARY");
  sleep_ms(500); /* the writers meet the dead primary and the read-only standby */
  assert_true(atomic_load(&unavailable) > failed_before);
  reads_fail_fast_in_outage(s);
  run_hook("TV_TEST_PG_PROMOTE");
  uint64_t promoted = tv_mono_us();
  while (atomic_load(&last_ack_us) <= promoted) {
    assert_true(tv_mono_us() - promoted < SERVE_AGAIN_DEADLINE_S * 1000000ull);
    sleep_ms(10);
  }
  uint64_t outage = atomic_load(&last_ack_us) - promoted;
  /* The pooled reader connection went to the dead primary: the read must
   * still succeed at once (rerun on a new connection), and find every
   * token acknowledged before the kill. */
  assert_int_equal(read_back(s, &w[0], 0, before), (long)before);
  return outage;
}

static void check_every_ack(tv_store *s, writer *w) {
  size_t total = 0;
  for (int i = 0; i < WRITERS; i++) {
    size_t n = atomic_load(&w[i].num_acked);
    assert_int_equal(read_back(s, &w[i], 0, n), (long)n); /* no acknowledged token absent */
    total += n;
  }
  fprintf(stderr, "pg_failover: %zu acknowledged puts, all present\n", total);
}

static void print_stats(tv_store *s, const uint64_t *outage_us) {
  tv_pg_store_stats ha;
  tv_store_stats st;
  assert_int_equal(tv_pg_store_get_stats(s, &ha), TV_OK);
  tv_store_get_stats(s, &st);
  fprintf(stderr,
          "pg_failover: first ack after promotion %.0f / %.0f / %.0f ms; %llu unavailable puts; reconnects %llu,"
          " failovers %llu, read retries %llu, timeline %llu; %llu commits, mean %.1f rows, mean commit %.1f ms\n",
          (double)outage_us[0] / 1e3, (double)outage_us[1] / 1e3, (double)outage_us[2] / 1e3, (unsigned long long)atomic_load(&unavailable),
          (unsigned long long)ha.reconnects, (unsigned long long)ha.failovers, (unsigned long long)ha.read_retries,
          (unsigned long long)ha.timeline, (unsigned long long)st.fsyncs,
          st.fsyncs ? (double)ha.batch_rows_sum / (double)st.fsyncs : 0.0,
          st.fsyncs ? (double)st.fsync_us_sum / (double)st.fsyncs / 1e3 : 0.0);
  assert_int_equal(ha.failovers, FAILOVERS); /* each promotion: a new timeline, another host */
  assert_true(ha.reconnects >= FAILOVERS);
  /* No read_retries bound: the pool replaces idle connections the dead
   * primary closed before handing them out (tv_pg_conn_alive), so the
   * rerun is only needed when a connection dies mid-statement. The first
   * read after each promotion succeeding is asserted above. */
  assert_true(ha.timeline >= 1 + FAILOVERS);
  assert_int_equal(ha.connected, 1);
}

static void test_failover_three_times(void **state) {
  (void)state;
  test_backend b;
  tv_store *s = NULL;
  assert_int_equal(test_backend_open(&b, "pg", &s), TV_OK);
  static writer w[WRITERS];
  pthread_t t[WRITERS];
  for (int i = 0; i < WRITERS; i++) {
    w[i].s = s;
    w[i].first_id = 1000000000ull * (uint64_t)(i + 1);
    w[i].acked = calloc(ACKED_PER_WRITER_MAX, sizeof *w[i].acked);
    assert_non_null(w[i].acked);
    assert_int_equal(pthread_create(&t[i], NULL, write_loop, &w[i]), 0);
  }
  uint64_t outage_us[FAILOVERS];
  for (int round = 0; round < FAILOVERS; round++) {
    outage_us[round] = fail_over(s, w);
    check_every_ack(s, w);
    if (round + 1 < FAILOVERS) {
      run_hook("TV_TEST_PG_REBUILD"); /* under load: the writers go on */
    }
  }
  atomic_store(&stop_writers, 1);
  for (int i = 0; i < WRITERS; i++) {
    pthread_join(t[i], NULL);
  }
  check_every_ack(s, w);
  assert_int_equal(atomic_load(&unexpected), 0);
  print_stats(s, outage_us);
  tv_store_close(s);
  for (int i = 0; i < WRITERS; i++) {
    free(w[i].acked);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_multi_host_needs_read_write),
      cmocka_unit_test(test_write_on_standby_is_unavailable),
      cmocka_unit_test(test_read_write_host_chosen),
      /* last: it moves the roles the other cases' conninfos name */
      cmocka_unit_test(test_failover_three_times),
  };
  return cmocka_run_group_tests_name("pg_failover", tests, NULL, NULL);
}
