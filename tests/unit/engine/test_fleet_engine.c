/* Two engines ("nodes") over two PostgreSQL stores on one database,
 * sharing one keyring: convergence comes from the database (one token per
 * value however the calls are spread), and delete, erase, expiry and
 * re-encryption keep their single-node semantics across nodes. Run
 * through tests/support/pg_cluster.py (TV_TEST_PG_CONNINFO). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_pg_nodes.h"
#include "tests/unit/engine/engine_test_util.h"
#include "tests/unit/store/store_backend_util.h"

typedef struct fleet {
  eng_fixture *fx; /* keyring, clock (its own log store and engine unused) */
  eng_pg_nodes pg; /* the two nodes on one PostgreSQL schema */
} fleet;

static int fleet_setup(void **state) {
  fleet *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->fx = eng_fixture_new();
  eng_pg_nodes_open(&f->pg, f->fx);
  *state = f;
  return 0;
}

static int fleet_teardown(void **state) {
  fleet *f = *state;
  eng_pg_nodes_close(&f->pg);
  eng_fixture_free(f->fx);
  free(f);
  return 0;
}

static tv_tokenize_item tok1(tv_engine *e, const char *ns, const char *value, uint64_t ttl_ms) {
  tv_tokenize_item item = {.value = value, .value_len = strlen(value), .ttl_ms = ttl_ms};
  eng_check(tv_engine_tokenize(e, ns, &item, 1), "tokenize");
  return item;
}

static tv_detokenize_item detok1(tv_engine *e, const char *ns, const char *token) {
  tv_detokenize_item item = {.token = token, .token_len = strlen(token)};
  eng_check(tv_engine_detokenize(e, ns, &item, 1, TV_REVEAL_FULL), "detokenize");
  return item;
}

/* sql_count runs a count query in the fleet's schema. */
static long sql_count(const fleet *f, const char *sql) {
  PGconn *c = PQconnectdb(f->pg.conninfo);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PGresult *r = PQexec(c, sql);
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  long n = atol(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  return n;
}

/* ---- a call's lookups: one round trip each, not one per value --------- */

static uint64_t reads_of(tv_store *s) {
  tv_pg_store_stats st;
  eng_check(tv_pg_store_get_stats(s, &st), "pg stats");
  return st.reads;
}

/* A call of 300 new values in a convergent namespace reads the database
 * twice (its fingerprints, its first candidates), where one lookup per
 * value cost 600 round trips; through the other node the same values and
 * 100 new ones converge on the first node's tokens, again in two reads. */
static void test_call_lookups_batched(void **state) {
  fleet *f = *state;
  enum { N = 300, M = 400 };
  static char pans[M][17];
  static tv_tokenize_item a[N], b[M];
  for (size_t i = 0; i < M; i++) {
    eng_pan(pans[i], 50000 + i);
    b[i] = (tv_tokenize_item){.value = pans[i], .value_len = 16};
    if (i < N) {
      a[i] = b[i];
    }
  }
  uint64_t r0 = reads_of(f->pg.store[0]);
  eng_check(tv_engine_tokenize(f->pg.node[0], "pan", a, N), "node A");
  assert_true(reads_of(f->pg.store[0]) - r0 <= 2);
  uint64_t r1 = reads_of(f->pg.store[1]);
  eng_check(tv_engine_tokenize(f->pg.node[1], "pan", b, M), "node B");
  assert_true(reads_of(f->pg.store[1]) - r1 <= 2);
  for (size_t i = 0; i < M; i++) {
    eng_check(b[i].status, "item");
    assert_int_equal(b[i].existing, i < N);
    if (i < N) {
      eng_check(a[i].status, "item A");
      assert_string_equal(b[i].token, a[i].token);
    }
  }
  assert_int_equal(sql_count(f, "SELECT count(*) FROM tv_tokens WHERE ns = 'pan'::bytea"), M);
}

/* ---- 8 threads, the same 1,000 values, half through each node ---------- */

enum { RACE_VALUES = 1000, RACE_THREADS = 8, RACE_BATCH = 50 };

typedef struct racer {
  fleet *f;
  int id;
  char (*values)[17];
  char (*tokens)[TV_ENGINE_TEXT_LEN_MAX + 1]; /* this thread's answer per value */
  int minted[RACE_VALUES];                    /* 1: this thread's answer was a new token */
  tv_status failed;
} racer;

/* Each thread walks the values from its own starting point, so the two
 * nodes keep meeting on values neither has written yet. */
static void *race_main(void *arg) {
  racer *r = arg;
  tv_engine *e = r->f->pg.node[r->id % 2];
  tv_tokenize_item items[RACE_BATCH];
  size_t start = (size_t)r->id * (RACE_VALUES / RACE_THREADS);
  for (size_t b = 0; b < RACE_VALUES / RACE_BATCH; b++) {
    size_t idx[RACE_BATCH];
    for (size_t k = 0; k < RACE_BATCH; k++) {
      idx[k] = (start + b * RACE_BATCH + k) % RACE_VALUES;
      items[k] = (tv_tokenize_item){.value = r->values[idx[k]], .value_len = 16};
    }
    tv_status st = tv_engine_tokenize(e, "pan", items, RACE_BATCH);
    for (size_t k = 0; k < RACE_BATCH && st == TV_OK; k++) {
      st = items[k].status;
      memcpy(r->tokens[idx[k]], items[k].token, items[k].token_len + 1);
      r->minted[idx[k]] = !items[k].existing;
    }
    if (st != TV_OK) {
      r->failed = st;
      return NULL;
    }
  }
  return NULL;
}

static void test_one_token_per_value_across_nodes(void **state) {
  fleet *f = *state;
  char(*values)[17] = calloc(RACE_VALUES, sizeof *values);
  racer *r = calloc(RACE_THREADS, sizeof *r);
  assert_non_null(values);
  assert_non_null(r);
  for (size_t i = 0; i < RACE_VALUES; i++) {
    eng_pan(values[i], 700000 + i);
  }
  pthread_t th[RACE_THREADS];
  for (int t = 0; t < RACE_THREADS; t++) {
    r[t] = (racer){.f = f, .id = t, .values = values, .tokens = calloc(RACE_VALUES, sizeof *r[t].tokens)};
    assert_non_null(r[t].tokens);
    assert_int_equal(pthread_create(&th[t], NULL, race_main, &r[t]), 0);
  }
  for (int t = 0; t < RACE_THREADS; t++) {
    pthread_join(th[t], NULL);
    if (r[t].failed != TV_OK) {
      fail_msg("thread %d: %s", t, tv_status_name(r[t].failed));
    }
  }
  for (size_t i = 0; i < RACE_VALUES; i++) {
    int minted = 0;
    for (int t = 0; t < RACE_THREADS; t++) {
      if (strcmp(r[t].tokens[i], r[0].tokens[i]) != 0) {
        fail_msg("value %zu: thread %d answered %s, thread 0 %s", i, t, r[t].tokens[i], r[0].tokens[i]);
      }
      minted += r[t].minted[i];
    }
    assert_int_equal(minted, 1); /* every other answer was the winner's */
  }
  assert_int_equal(sql_count(f, "SELECT count(*) FROM tv_tokens"), RACE_VALUES);
  assert_int_equal(sql_count(f, "SELECT count(*) FROM tv_tokens WHERE fp_unique"), RACE_VALUES);
  /* Each node reveals what the other minted. */
  for (size_t i = 0; i < RACE_VALUES; i += 97) {
    for (int n = 0; n < 2; n++) {
      tv_detokenize_item d = detok1(f->pg.node[n], "pan", r[0].tokens[i]);
      eng_check(d.status, "detokenize");
      assert_string_equal(d.value, values[i]);
    }
  }
  for (int t = 0; t < RACE_THREADS; t++) {
    free(r[t].tokens);
  }
  free(r);
  free(values);
}

/* ---- expiry, delete, erase, re-encryption across nodes ----------------- */

static void test_expired_winner_gives_way(void **state) {
  fleet *f = *state;
  tv_tokenize_item a = tok1(f->pg.node[0], "pan", "4111111111111111", 60000);
  eng_check(a.status, "a");
  f->fx->clock_offset_ms += 120000; /* a's token has expired */
  /* Node B's lookup sees only the expired row; its PUT loses to that row,
   * which it turns into a stub before minting the value's new token. */
  tv_tokenize_item b = tok1(f->pg.node[1], "pan", "4111111111111111", 0);
  eng_check(b.status, "b after expiry");
  assert_int_equal(b.existing, 0);
  assert_string_not_equal(b.token, a.token);
  tv_tokenize_item c = tok1(f->pg.node[0], "pan", "4111 1111 1111 1111", 0);
  eng_check(c.status, "c");
  assert_int_equal(c.existing, 1);
  assert_int_equal(c.token[4], ' ');
  /* The old token stays EXPIRED on both nodes, never reissued. */
  for (int n = 0; n < 2; n++) {
    assert_int_equal(detok1(f->pg.node[n], "pan", a.token).status, TV_E_ENGINE_EXPIRED);
    tv_token_info info;
    assert_int_equal(tv_engine_token_info(f->pg.node[n], &info, "pan", a.token, a.token_len), TV_E_ENGINE_EXPIRED);
    assert_true(info.expires_ms != 0);
  }
  assert_int_equal(sql_count(f, "SELECT count(*) FROM tv_tokens WHERE state = 3 AND NOT fp_unique"), 1);
}

static void test_delete_and_erase_across_nodes(void **state) {
  fleet *f = *state;
  tv_tokenize_item a = tok1(f->pg.node[0], "pan", "5555555555554444", 0);
  eng_check(a.status, "a");
  const char *toks[1] = {a.token};
  size_t lens[1] = {a.token_len};
  tv_status st[1];
  eng_check(tv_engine_delete(f->pg.node[1], "pan", toks, lens, st, 1), "delete");
  eng_check(st[0], "delete item");
  assert_int_equal(detok1(f->pg.node[0], "pan", a.token).status, TV_E_ENGINE_DELETED);
  /* The value gets a new token; the deleted one is never handed out. */
  tv_tokenize_item b = tok1(f->pg.node[0], "pan", "5555555555554444", 0);
  eng_check(b.status, "b");
  assert_int_equal(b.existing, 0);
  assert_string_not_equal(b.token, a.token);
  assert_int_equal(detok1(f->pg.node[1], "pan", a.token).status, TV_E_ENGINE_DELETED);
  tv_tokenize_item b2 = tok1(f->pg.node[1], "pan", "5555555555554444", 0);
  assert_string_equal(b2.token, b.token);
  size_t erased = 0;
  eng_check(tv_engine_erase_value(f->pg.node[1], &erased, "pan", "5555555555554444", 16), "erase");
  assert_int_equal(erased, 1);
  assert_int_equal(detok1(f->pg.node[0], "pan", b.token).status, TV_E_ENGINE_DELETED);
  tv_tokenize_item c = tok1(f->pg.node[0], "pan", "5555555555554444", 0);
  eng_check(c.status, "c");
  assert_int_equal(c.existing, 0);
  assert_string_not_equal(c.token, a.token);
  assert_string_not_equal(c.token, b.token);
}

static void test_reencryption_keeps_the_hold(void **state) {
  fleet *f = *state;
  tv_tokenize_item a = tok1(f->pg.node[0], "iban", "GB82WEST12345698765432", 0);
  eng_check(a.status, "a");
  uint32_t version = 0;
  kr_check(tv_keyring_rotate_data_key(f->fx->kr->kr, &version, "iban"), "rotate");
  tv_reencrypt_progress p;
  eng_check(tv_engine_reencrypt(f->pg.node[1], &p, "iban", NULL), "reencrypt");
  assert_int_equal(p.reencrypted, 1);
  /* The re-encrypted row still holds the value's fingerprint in the
   * database, so no node can mint a second token for it. */
  assert_int_equal(sql_count(f, "SELECT count(*) FROM tv_tokens WHERE fp_unique AND key_version = 2"), 1);
  tv_tokenize_item b = tok1(f->pg.node[1], "iban", "GB82WEST12345698765432", 0);
  assert_string_equal(b.token, a.token);
  assert_int_equal(b.existing, 1);
}

/* A re-put of a live value over a row another node deleted meanwhile is
 * refused (NOT_FOUND), so a re-encryption that read the row before the
 * delete cannot bring the value back. */
static void test_reput_does_not_resurrect(void **state) {
  fleet *f = *state;
  tv_tokenize_item a = tok1(f->pg.node[0], "pan_nc", "4000056655665556", 0);
  eng_check(a.status, "a");
  tv_store_key key = {(const uint8_t *)"pan_nc", 6, (const uint8_t *)a.token, a.token_len};
  tv_store_item it;
  tv_store_buf buf = {0};
  eng_check(tv_store_get_batch(f->pg.store[0], &key, 1, &it, &buf), "get");
  eng_check(it.status, "get item");
  tv_record_put old = it.put; /* points into buf, kept until cleanup */
  const char *toks[1] = {a.token};
  size_t lens[1] = {a.token_len};
  tv_status st[1];
  eng_check(tv_engine_delete(f->pg.node[1], "pan_nc", toks, lens, st, 1), "delete");
  assert_int_equal(tv_store_reput(f->pg.store[0], &old, NULL), TV_E_STORE_NOT_FOUND);
  tv_store_buf_cleanup(&buf);
  assert_int_equal(detok1(f->pg.node[0], "pan_nc", a.token).status, TV_E_ENGINE_DELETED);
}

/* Store verification reads every record of a namespace through either
 * backend: values that authenticate, a tampered one, a tombstone. */
static void test_verify(void **state) {
  fleet *f = *state;
  char pans[20][17];
  tv_tokenize_item items[20];
  for (int i = 0; i < 20; i++) {
    eng_pan(pans[i], 900 + (uint64_t)i);
    items[i] = (tv_tokenize_item){.value = pans[i], .value_len = 16};
  }
  eng_check(tv_engine_tokenize(f->pg.node[0], "pan", items, 20), "tokenize");
  const char *toks[1] = {items[0].token};
  size_t lens[1] = {items[0].token_len};
  tv_status st[1];
  eng_check(tv_engine_delete(f->pg.node[1], "pan", toks, lens, st, 1), "delete");
  char sql[256];
  snprintf(sql, sizeof sql,
           "UPDATE tv_tokens SET tag = '\\x000102030405060708090a0b0c0d0e0f'::bytea"
           " WHERE token = convert_to('%s', 'UTF8')",
           items[1].token);
  PGconn *c = PQconnectdb(f->pg.conninfo);
  PGresult *r = PQexec(c, sql);
  assert_string_equal(PQcmdTuples(r), "1");
  PQclear(r);
  PQfinish(c);
  tv_verify_report rep;
  eng_check(tv_engine_verify(f->pg.node[1], &rep, "pan"), "verify");
  assert_int_equal(rep.records, 20);
  assert_int_equal(rep.values, 18);
  assert_int_equal(rep.failed, 1);
  assert_int_equal(rep.tombstones, 1);
  assert_int_equal(rep.num_versions, 1);
  assert_int_equal(rep.versions[0], 1);
  assert_int_equal(rep.per_version[0], 19);
  assert_int_equal(rep.num_failed_tokens, 1); /* named by token, never by value */
  assert_string_equal(rep.failed_tokens[0], items[1].token);
  eng_check(tv_engine_verify(f->pg.node[0], &rep, "iban"), "verify empty");
  assert_int_equal(rep.records, 0);
  assert_int_equal(tv_engine_verify(f->pg.node[0], &rep, "nope"), TV_E_ENGINE_NAMESPACE);
  /* The log backend (the fixture's own engine) answers the same way. */
  eng_check(tv_engine_tokenize(f->fx->engine, "pan", items + 2, 5), "tokenize log");
  eng_check(tv_engine_verify(f->fx->engine, &rep, "pan"), "verify log");
  assert_int_equal(rep.records, 5);
  assert_int_equal(rep.values, 5);
  assert_int_equal(rep.failed, 0);
}

static void run_shell(const char *env_name) {
  const char *cmd = getenv(env_name);
  assert_non_null(cmd);
  assert_int_equal(system(cmd), 0);
}

/* The database stopped: tokenize items and detokenize calls fail with
 * STORE_UNAVAILABLE (nothing answered from a guess); after the restart
 * both nodes serve again by themselves and every acknowledged token
 * reveals its value. */
static void test_database_stopped(void **state) {
  fleet *f = *state;
  enum { N = 40 };
  char pans[N][17];
  tv_tokenize_item items[N];
  for (int i = 0; i < N; i++) {
    eng_pan(pans[i], 3000 + (uint64_t)i);
    items[i] = (tv_tokenize_item){.value = pans[i], .value_len = 16};
  }
  eng_check(tv_engine_tokenize(f->pg.node[0], "pan", items, N / 2), "tokenize before");
  run_shell("TV_TEST_PG_STOP");
  eng_check(tv_engine_tokenize(f->pg.node[0], "pan", items + N / 2, N / 2), "tokenize while stopped");
  for (int i = N / 2; i < N; i++) {
    assert_int_equal(items[i].status, TV_E_STORE_UNAVAILABLE);
    assert_int_equal(items[i].token_len, 0);
  }
  tv_detokenize_item d = {.token = items[0].token, .token_len = items[0].token_len};
  assert_int_equal(tv_engine_detokenize(f->pg.node[1], "pan", &d, 1, TV_REVEAL_FULL), TV_E_STORE_UNAVAILABLE);
  assert_int_equal(d.value_len, 0);
  run_shell("TV_TEST_PG_START");
  eng_check(tv_engine_tokenize(f->pg.node[1], "pan", items + N / 2, N / 2), "tokenize after");
  for (int i = 0; i < N; i++) {
    eng_check(items[i].status, "item");
    tv_detokenize_item r = detok1(f->pg.node[i % 2], "pan", items[i].token);
    eng_check(r.status, "detokenize after");
    assert_string_equal(r.value, pans[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_call_lookups_batched, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_one_token_per_value_across_nodes, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_expired_winner_gives_way, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_delete_and_erase_across_nodes, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_reencryption_keeps_the_hold, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_reput_does_not_resurrect, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_verify, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_database_stopped, fleet_setup, fleet_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
