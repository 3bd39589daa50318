/* The store contract, run against each backend (argv[1]: "log" or "pg"):
 * every operation's result must be the same whichever backend holds the
 * data, so the engine above store.h cannot tell them apart. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store_backend_util.h"

static const char *g_which = "log";

typedef struct fixture {
  test_backend b;
  tv_store *s;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(test_backend_open(&f->b, g_which, &f->s), TV_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tv_store_close(f->s);
  test_backend_cleanup(&f->b);
  free(f);
  return 0;
}

static tv_status get_one(tv_store *s, const test_rec *r, tv_store_item *it, tv_store_buf *buf) {
  tv_store_key k = test_rec_key(r);
  tv_status st = tv_store_get_batch(s, &k, 1, it, buf);
  return st != TV_OK ? st : it->status;
}

static void test_put_get(void **state) {
  fixture *f = *state;
  enum { N = 300 };
  static test_rec recs[N];
  for (size_t i = 0; i < N; i++) {
    test_rec_make(&recs[i], i, 1);
    tv_store_loc loc = 0;
    assert_int_equal(tv_store_put(f->s, &recs[i].put, &loc), TV_OK);
    assert_true(loc != 0);
  }
  assert_int_equal(test_check_ids(f->s, 0, N, 1), N);
  test_rec missing;
  test_rec_make(&missing, 100000, 1);
  tv_store_item it;
  tv_store_buf buf = {0};
  assert_int_equal(get_one(f->s, &missing, &it, &buf), TV_E_STORE_NOT_FOUND);
  tv_store_key bad = {(const uint8_t *)"pan", 3, (const uint8_t *)"", 0};
  assert_int_equal(tv_store_get_batch(f->s, &bad, 1, &it, &buf), TV_OK);
  assert_int_equal(it.status, TV_E_INVALID_ARGUMENT);
  tv_store_buf_cleanup(&buf);
}

/* A token that exists — live or an engine tombstone (a re-put with key
 * version 0) — is never issued again. */
static void test_put_existing_token(void **state) {
  fixture *f = *state;
  test_rec a, b;
  test_rec_make(&a, 7, 1);
  test_rec_make(&b, 8, 1);
  b.put.token = a.put.token;
  b.put.token_len = a.put.token_len;
  assert_int_equal(tv_store_put(f->s, &a.put, NULL), TV_OK);
  assert_int_equal(tv_store_put(f->s, &b.put, NULL), TV_E_STORE_TOKEN_EXISTS);
  test_rec tomb = a;
  tomb.put.token = a.put.token; /* the copy's pointers still name |a|'s bytes */
  tomb.put.key_version = 0;
  tomb.put.ciphertext_len = 0;
  tomb.put.expires_ms = 0;
  assert_int_equal(tv_store_reput(f->s, &tomb.put, NULL), TV_OK);
  assert_int_equal(tv_store_put(f->s, &b.put, NULL), TV_E_STORE_TOKEN_EXISTS);
  tv_store_item it;
  tv_store_buf buf = {0};
  assert_int_equal(get_one(f->s, &a, &it, &buf), TV_OK);
  assert_int_equal(it.put.key_version, 0);
  tv_store_buf_cleanup(&buf);
}

static void test_reput(void **state) {
  fixture *f = *state;
  test_rec a, a2, absent;
  test_rec_make(&a, 11, 1);
  test_rec_make(&a2, 11, 2);
  test_rec_make(&absent, 12, 2);
  tv_store_loc loc1 = 0, loc2 = 0;
  assert_int_equal(tv_store_put(f->s, &a.put, &loc1), TV_OK);
  assert_int_equal(tv_store_reput(f->s, &a2.put, &loc2), TV_OK);
  assert_true(loc2 != 0 && loc2 != loc1); /* every write has its own location */
  assert_int_equal(tv_store_reput(f->s, &absent.put, NULL), TV_E_STORE_NOT_FOUND);
  tv_store_item it;
  tv_store_buf buf = {0};
  assert_int_equal(get_one(f->s, &a, &it, &buf), TV_OK);
  assert_true(test_put_equal(&it.put, &a2.put));
  assert_int_equal(get_one(f->s, &absent, &it, &buf), TV_E_STORE_NOT_FOUND);
  tv_store_buf_cleanup(&buf);
}

static void test_delete(void **state) {
  fixture *f = *state;
  test_rec a;
  test_rec_make(&a, 21, 1);
  tv_store_key k = test_rec_key(&a);
  assert_int_equal(tv_store_delete(f->s, &k, 1), TV_E_STORE_NOT_FOUND);
  assert_int_equal(tv_store_put(f->s, &a.put, NULL), TV_OK);
  assert_int_equal(tv_store_delete(f->s, &k, 2), TV_OK);
  tv_store_item it;
  tv_store_buf buf = {0};
  assert_int_equal(get_one(f->s, &a, &it, &buf), TV_E_STORE_NOT_FOUND);
  assert_int_equal(tv_store_delete(f->s, &k, 3), TV_E_STORE_NOT_FOUND);
  /* A store-level delete removes the token (the engine never uses it:
   * it tombstones); both backends then accept the token again. */
  assert_int_equal(tv_store_put(f->s, &a.put, NULL), TV_OK);
  assert_int_equal(get_one(f->s, &a, &it, &buf), TV_OK);
  tv_store_buf_cleanup(&buf);
}

static void test_find_fingerprint(void **state) {
  fixture *f = *state;
  test_rec a, b, c, other_ns;
  test_rec_make(&a, 31, 1);
  test_rec_make(&b, 32, 1);
  test_rec_make(&c, 33, 1);
  test_rec_make(&other_ns, 34, 1);
  memcpy(b.put.fingerprint, a.put.fingerprint, 16); /* not convergent: two tokens, one value */
  memcpy(other_ns.put.fingerprint, a.put.fingerprint, 16);
  other_ns.put.ns = (const uint8_t *)"iban";
  other_ns.put.ns_len = 4;
  assert_int_equal(tv_store_put(f->s, &a.put, NULL), TV_OK);
  assert_int_equal(tv_store_put(f->s, &b.put, NULL), TV_OK);
  assert_int_equal(tv_store_put(f->s, &c.put, NULL), TV_OK);
  assert_int_equal(tv_store_put(f->s, &other_ns.put, NULL), TV_OK);
  tv_store_item items[4];
  size_t num = 0;
  tv_store_buf buf = {0};
  assert_int_equal(tv_store_find_fingerprint(f->s, a.put.ns, a.put.ns_len, a.put.fingerprint, items, 4, &num, &buf),
                   TV_OK);
  assert_int_equal(num, 2);
  int seen_a = 0, seen_b = 0;
  for (size_t i = 0; i < num; i++) {
    seen_a += test_put_equal(&items[i].put, &a.put);
    seen_b += test_put_equal(&items[i].put, &b.put);
  }
  assert_int_equal(seen_a + seen_b, 2);
  /* |num| counts every match, also beyond |items_max| (one item filled). */
  assert_int_equal(tv_store_find_fingerprint(f->s, a.put.ns, a.put.ns_len, a.put.fingerprint, items, 1, &num, &buf),
                   TV_OK);
  assert_int_equal(num, 2);
  assert_true(test_put_equal(&items[0].put, &a.put) || test_put_equal(&items[0].put, &b.put));
  uint8_t none[16] = {0xEE};
  assert_int_equal(tv_store_find_fingerprint(f->s, a.put.ns, a.put.ns_len, none, items, 4, &num, &buf), TV_OK);
  assert_int_equal(num, 0);
  tv_store_buf_cleanup(&buf);
}

/* The batched lookup answers what tv_store_find_fingerprint answers for
 * each fingerprint, in its own slots: two tokens of one value, none, one,
 * a fingerprint asked twice, another namespace's row left out, the cap
 * per fingerprint, and more fingerprints than one index lock hold (64)
 * or one read chunk covers. */
static void test_find_fingerprints(void **state) {
  fixture *f = *state;
  enum { N = 300, PER = 4, Q = N + 4 };
  static test_rec recs[N];
  test_rec a, b, other_ns;
  test_rec_make(&a, 41, 1);
  test_rec_make(&b, 42, 1);
  test_rec_make(&other_ns, 43, 1);
  memcpy(b.put.fingerprint, a.put.fingerprint, 16);
  memcpy(other_ns.put.fingerprint, a.put.fingerprint, 16);
  other_ns.put.ns = (const uint8_t *)"iban";
  other_ns.put.ns_len = 4;
  assert_int_equal(tv_store_put(f->s, &a.put, NULL), TV_OK);
  assert_int_equal(tv_store_put(f->s, &b.put, NULL), TV_OK);
  assert_int_equal(tv_store_put(f->s, &other_ns.put, NULL), TV_OK);
  static uint8_t fps[Q * 16];
  memcpy(fps, a.put.fingerprint, 16);
  memset(fps + 16, 0xEE, 16); /* no such value */
  for (size_t i = 0; i < N; i++) {
    test_rec_make(&recs[i], 1000 + i, 1);
    assert_int_equal(tv_store_put(f->s, &recs[i].put, NULL), TV_OK);
    memcpy(fps + (2 + i) * 16, recs[i].put.fingerprint, 16);
  }
  memcpy(fps + (N + 2) * 16, a.put.fingerprint, 16); /* asked twice */
  memset(fps + (N + 3) * 16, 0xEF, 16);
  static tv_store_item items[Q * PER];
  size_t counts[Q];
  tv_store_buf buf = {0};
  assert_int_equal(tv_store_find_fingerprints(f->s, a.put.ns, a.put.ns_len, fps, Q, PER, items, counts, &buf), TV_OK);
  for (size_t q = 0; q < Q; q += N + 2) { /* a's fingerprint, at 0 and N + 2 */
    assert_int_equal(counts[q], 2);
    const tv_store_item *it = &items[q * PER];
    assert_int_equal(it[0].status, TV_OK);
    assert_int_equal(it[1].status, TV_OK);
    assert_true(test_put_equal(&it[0].put, &a.put) != test_put_equal(&it[1].put, &a.put));
    assert_true(test_put_equal(&it[0].put, &b.put) || test_put_equal(&it[1].put, &b.put));
  }
  assert_int_equal(counts[1], 0);
  assert_int_equal(counts[N + 3], 0);
  for (size_t i = 0; i < N; i++) {
    assert_int_equal(counts[2 + i], 1);
    assert_int_equal(items[(2 + i) * PER].status, TV_OK);
    assert_true(test_put_equal(&items[(2 + i) * PER].put, &recs[i].put));
    assert_true(items[(2 + i) * PER].loc != 0);
  }
  /* One slot per fingerprint: the count is capped, one of the two given. */
  assert_int_equal(tv_store_find_fingerprints(f->s, a.put.ns, a.put.ns_len, fps, 2, 1, items, counts, &buf), TV_OK);
  assert_int_equal(counts[0], 1);
  assert_int_equal(counts[1], 0);
  assert_true(test_put_equal(&items[0].put, &a.put) || test_put_equal(&items[0].put, &b.put));
  /* The other namespace sees only its own row. */
  assert_int_equal(tv_store_find_fingerprints(f->s, other_ns.put.ns, other_ns.put.ns_len, fps, 1, PER, items, counts,
                                              &buf), TV_OK);
  assert_int_equal(counts[0], 1);
  assert_true(test_put_equal(&items[0].put, &other_ns.put));
  assert_int_equal(tv_store_find_fingerprints(f->s, a.put.ns, a.put.ns_len, fps, 0, PER, items, counts, &buf), TV_OK);
  assert_int_equal(tv_store_find_fingerprints(f->s, a.put.ns, a.put.ns_len, fps, 1, 0, items, counts, &buf),
                   TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_store_find_fingerprints(f->s, a.put.ns, a.put.ns_len, fps, TV_STORE_GET_ITEMS_MAX + 1, 1,
                                              items, counts, &buf), TV_E_INVALID_ARGUMENT);
  tv_store_buf_cleanup(&buf);
}

typedef struct scan_ctx {
  size_t seen;
  uint64_t id_sum;
} scan_ctx;

static tv_status count_fn(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  scan_ctx *c = ctx;
  c->seen++;
  char token[TV_STORE_TOKEN_LEN_MAX + 1];
  memcpy(token, put->token, put->token_len); /* not NUL-terminated */
  token[put->token_len] = '\0';
  c->id_sum += strtoull(token + 4, NULL, 10) * (loc != 0);
  return TV_OK;
}

static void test_scan_and_locations(void **state) {
  fixture *f = *state;
  enum { N = 50 };
  test_rec recs[N];
  tv_store_loc locs[N];
  for (size_t i = 0; i < N; i++) {
    test_rec_make(&recs[i], 100 + i, 1);
    assert_int_equal(tv_store_put(f->s, &recs[i].put, &locs[i]), TV_OK);
  }
  tv_store_key k = test_rec_key(&recs[0]);
  assert_int_equal(tv_store_delete(f->s, &k, 5), TV_OK);
  scan_ctx c = {0};
  assert_int_equal(tv_store_scan(f->s, count_fn, &c), TV_OK);
  assert_int_equal(c.seen, N - 1);
  assert_int_equal(c.id_sum, (uint64_t)(101 + 149) * 49 / 2);
  tv_store_item items[N];
  tv_store_buf buf = {0};
  assert_int_equal(tv_store_read_locations(f->s, locs + 1, N - 1, items, &buf), TV_OK);
  for (size_t i = 1; i < N; i++) {
    assert_int_equal(items[i - 1].status, TV_OK);
    assert_true(test_put_equal(&items[i - 1].put, &recs[i].put));
  }
  tv_store_buf_cleanup(&buf);
}

typedef struct counter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t done, ok;
} counter;

static void count_done(tv_store_op *op, tv_status st) {
  counter *c = op->user;
  pthread_mutex_lock(&c->mu);
  c->done++;
  c->ok += st == TV_OK;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

/* Re-encrypts each visited token, asynchronously (as the rotation worker
 * does): the scan goes on while the re-puts commit. */
typedef struct reput_ctx {
  tv_store *s;
  size_t visits;
  test_rec *recs;
  tv_store_op *ops;
  counter *c;
} reput_ctx;

enum { SCAN_REPUT_N = 1200 }; /* more than one page of the pg backend's scan */

static tv_status reput_fn(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)loc;
  reput_ctx *c = ctx;
  if (c->visits >= SCAN_REPUT_N) {
    c->visits++;
    return TV_E_INTERNAL; /* visiting re-put rows again: stop, the test fails */
  }
  char token[TV_STORE_TOKEN_LEN_MAX + 1];
  memcpy(token, put->token, put->token_len);
  token[put->token_len] = '\0';
  size_t i = c->visits++;
  test_rec_make(&c->recs[i], strtoull(token + 4, NULL, 10), 2);
  c->ops[i] = (tv_store_op){.kind = TV_STORE_OP_REPUT, .put = c->recs[i].put, .done = count_done, .user = c->c};
  TV_TRY(tv_store_submit_wait(c->s, &c->ops[i]));
  if (c->visits % 100 == 0) { /* now and then, let the re-puts commit before reading on */
    pthread_mutex_lock(&c->c->mu);
    while (c->c->done < c->visits) {
      pthread_cond_wait(&c->c->cv, &c->c->mu);
    }
    pthread_mutex_unlock(&c->c->mu);
  }
  return TV_OK;
}

/* A scan visits the tokens present when it started, once each, even
 * when they are re-put meanwhile (which moves them in both backends). */
static void test_scan_while_reputting(void **state) {
  fixture *f = *state;
  for (size_t i = 0; i < SCAN_REPUT_N; i++) {
    test_rec r;
    test_rec_make(&r, 7000 + i, 1);
    tv_store_op op = {.kind = TV_STORE_OP_PUT, .put = r.put};
    assert_int_equal(test_op_wait(f->s, &op, NULL), TV_OK);
  }
  counter cnt = {.done = 0, .ok = 0};
  pthread_mutex_init(&cnt.mu, NULL);
  pthread_cond_init(&cnt.cv, NULL);
  reput_ctx c = {f->s, 0, calloc(SCAN_REPUT_N, sizeof(test_rec)), calloc(SCAN_REPUT_N, sizeof(tv_store_op)), &cnt};
  assert_true(c.recs != NULL && c.ops != NULL);
  tv_status st = tv_store_scan(f->s, reput_fn, &c);
  size_t submitted = c.visits < SCAN_REPUT_N ? c.visits : SCAN_REPUT_N;
  pthread_mutex_lock(&cnt.mu);
  while (cnt.done < submitted) {
    pthread_cond_wait(&cnt.cv, &cnt.mu);
  }
  pthread_mutex_unlock(&cnt.mu);
  assert_int_equal(st, TV_OK);
  assert_int_equal(c.visits, SCAN_REPUT_N);
  assert_int_equal(cnt.ok, SCAN_REPUT_N);
  assert_int_equal(test_check_ids(f->s, 7000, SCAN_REPUT_N, 2), SCAN_REPUT_N);
  free(c.ops);
  free(c.recs);
}

/* Many operations in flight: every |done| runs once, after commit. */
static void test_async_submit(void **state) {
  fixture *f = *state;
  enum { N = 2000 };
  test_rec *recs = calloc(N, sizeof *recs);
  tv_store_op *ops = calloc(N, sizeof *ops);
  assert_true(recs != NULL && ops != NULL);
  counter c = {.done = 0, .ok = 0};
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  for (size_t i = 0; i < N; i++) {
    test_rec_make(&recs[i], 1000 + i, 1);
    ops[i].kind = TV_STORE_OP_PUT;
    ops[i].put = recs[i].put;
    ops[i].done = count_done;
    ops[i].user = &c;
    assert_int_equal(tv_store_submit_wait(f->s, &ops[i]), TV_OK);
  }
  pthread_mutex_lock(&c.mu);
  while (c.done < N) {
    pthread_cond_wait(&c.cv, &c.mu);
  }
  pthread_mutex_unlock(&c.mu);
  assert_int_equal(c.ok, N);
  assert_int_equal(test_check_ids(f->s, 1000, N, 1), N);
  tv_store_stats stats;
  tv_store_get_stats(f->s, &stats);
  assert_true(stats.records >= N && stats.batches >= 1 && stats.batches <= N);
  free(ops);
  free(recs);
}

/* Two PUTs of one token in flight at once (likely in one group): the
 * first submitted wins, the other gets TOKEN_EXISTS. */
static void test_same_token_in_one_group(void **state) {
  fixture *f = *state;
  enum { PAIRS = 64 };
  static test_rec recs[2 * PAIRS];
  static tv_store_op ops[2 * PAIRS];
  counter c = {.done = 0, .ok = 0};
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  for (size_t i = 0; i < 2 * PAIRS; i++) {
    test_rec_make(&recs[i], 3000 + i, 1);
    if (i % 2 == 1) { /* same token as its pair, another value */
      recs[i].put.token = recs[i - 1].put.token;
      recs[i].put.token_len = recs[i - 1].put.token_len;
    }
    ops[i] = (tv_store_op){.kind = TV_STORE_OP_PUT, .put = recs[i].put, .done = count_done, .user = &c};
  }
  for (size_t i = 0; i < 2 * PAIRS; i++) {
    assert_int_equal(tv_store_submit_wait(f->s, &ops[i]), TV_OK);
  }
  pthread_mutex_lock(&c.mu);
  while (c.done < 2 * PAIRS) {
    pthread_cond_wait(&c.cv, &c.mu);
  }
  pthread_mutex_unlock(&c.mu);
  assert_int_equal(c.ok, PAIRS);
  tv_store_buf buf = {0};
  for (size_t i = 0; i < 2 * PAIRS; i += 2) {
    tv_store_item it;
    assert_int_equal(get_one(f->s, &recs[i], &it, &buf), TV_OK);
    assert_true(test_put_equal(&it.put, &recs[i].put)); /* the first submitted */
  }
  tv_store_buf_cleanup(&buf);
}

static void test_bad_record_refused(void **state) {
  fixture *f = *state;
  test_rec a;
  test_rec_make(&a, 41, 1);
  a.put.ns_len = 0;
  assert_int_equal(tv_store_put(f->s, &a.put, NULL), TV_E_STORE_RECORD_FIELD);
  test_rec_make(&a, 42, 1);
  a.put.metadata_len = TV_STORE_METADATA_LEN_MAX + 1;
  assert_int_equal(tv_store_put(f->s, &a.put, NULL), TV_E_STORE_RECORD_FIELD);
}

/* Data survives close and is seen by a new store on the same data. */
static void test_reopen(void **state) {
  fixture *f = *state;
  for (size_t i = 0; i < 20; i++) {
    test_rec r;
    test_rec_make(&r, 500 + i, 3);
    assert_int_equal(tv_store_put(f->s, &r.put, NULL), TV_OK);
  }
  tv_store_close(f->s);
  f->s = NULL;
  assert_int_equal(test_backend_reopen(&f->b, &f->s), TV_OK);
  assert_int_equal(test_check_ids(f->s, 500, 20, 3), 20);
}

int main(int argc, char **argv) {
  if (argc > 1) {
    g_which = argv[1];
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_existing_token, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reput, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_find_fingerprint, setup, teardown),
      cmocka_unit_test_setup_teardown(test_find_fingerprints, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scan_and_locations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scan_while_reputting, setup, teardown),
      cmocka_unit_test_setup_teardown(test_async_submit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_same_token_in_one_group, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_record_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
  };
  return cmocka_run_group_tests_name(g_which, tests, NULL, NULL);
}
