/* The store end to end: group commit with many producers, durability
 * across close/reopen, put/re-put/delete semantics, fingerprint lookups,
 * scans and async completion. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/store.h"
#include "vault/store/store_limits.h"

enum { THREADS = 32, PER_THREAD = 250 };

typedef struct producer {
  tv_store *s;
  int index;
  int failures;
} producer;

static void *produce(void *arg) {
  producer *p = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    test_rec t;
    test_rec_make(&t, (uint64_t)p->index * PER_THREAD + (uint64_t)i, 1);
    tv_store_loc loc = 0;
    if (tv_store_put(p->s, &t.put, &loc) != TV_OK || loc == 0) {
      p->failures++;
    }
  }
  return NULL;
}

static void test_many_producers_durable_and_batched(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 256 * 1024); /* several segments */
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  pthread_t th[THREADS];
  producer prods[THREADS];
  for (int i = 0; i < THREADS; i++) {
    prods[i] = (producer){s, i, 0};
    pthread_create(&th[i], NULL, produce, &prods[i]);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(prods[i].failures, 0);
  }
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_true(st.records == THREADS * PER_THREAD);
  /* With 32 producers waiting, some fsync must be shared: fewer batches
   * than records. How many records share one is speed, measured by
   * bench/store_bench.c (records_per_fsync), not asserted here. */
  double per_fsync = (double)st.records / (double)st.batches;
  print_message("records per fsync: %.1f (%llu batches)\n", per_fsync, (unsigned long long)st.batches);
  assert_true(st.batches > 0 && st.batches < st.records);
  assert_int_equal(test_check_ids(s, 0, THREADS * PER_THREAD, 1), THREADS * PER_THREAD);
  tv_store_close(s);

  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  tv_store_get_stats(s, &st);
  assert_true(st.recovered_records == THREADS * PER_THREAD);
  assert_int_equal(st.index.tokens, THREADS * PER_THREAD);
  assert_true(st.torn_bytes_cut == 0);
  assert_int_equal(test_check_ids(s, 0, THREADS * PER_THREAD, 1), THREADS * PER_THREAD);
  tv_store_close(s);
  test_rmdir(dir);
}

/* Each durable batch is one timed write + fdatasync: the buckets add up to
 * the count, which equals the batches, and the time is not zero. */
static void test_fsync_latency_stats(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 0);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_int_equal(st.fsyncs, 0);
  assert_int_equal(st.fsync_us_sum, 0);
  enum { N = 40 };
  for (uint64_t i = 0; i < N; i++) { /* one producer, waiting: one batch each */
    test_rec t;
    test_rec_make(&t, i, 1);
    tv_store_loc loc = 0;
    assert_int_equal(tv_store_put(s, &t.put, &loc), TV_OK);
  }
  test_rec dup;
  test_rec_make(&dup, 0, 1);
  tv_store_loc loc = 0;
  assert_int_equal(tv_store_put(s, &dup.put, &loc), TV_E_STORE_TOKEN_EXISTS); /* nothing written */
  tv_store_get_stats(s, &st);
  assert_int_equal(st.batches, N);
  assert_int_equal(st.fsyncs, N);
  uint64_t in_buckets = 0;
  for (size_t b = 0; b <= TV_LATENCY_BUCKETS_COUNT; b++) {
    in_buckets += st.fsync_buckets[b];
  }
  assert_int_equal(in_buckets, st.fsyncs);
  assert_true(st.fsync_us_sum > 0);
  assert_true(st.fsync_us_max > 0 && st.fsync_us_max <= st.fsync_us_sum);
  assert_true(st.fsync_us_max * N >= st.fsync_us_sum); /* the worst is at least the mean */
  for (size_t b = 1; b < TV_LATENCY_BUCKETS_COUNT; b++) {
    assert_true(tv_latency_bounds_us[b] > tv_latency_bounds_us[b - 1]);
  }
  print_message("fsync: %llu, mean %.1f us, max %llu us\n", (unsigned long long)st.fsyncs,
                (double)st.fsync_us_sum / (double)st.fsyncs, (unsigned long long)st.fsync_us_max);
  tv_store_close(s);
  test_rmdir(dir);
}

static void test_put_reput_delete_semantics(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 0);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  test_rec a, a2, b;
  test_rec_make(&a, 1, 1);
  test_rec_make(&a2, 1, 2); /* same token, re-encrypted under version 2 */
  test_rec_make(&b, 2, 1);
  tv_store_key ka = test_rec_key(&a), kb = test_rec_key(&b);
  assert_int_equal(tv_store_put(s, &a.put, NULL), TV_OK);
  assert_int_equal(tv_store_put(s, &a.put, NULL), TV_E_STORE_TOKEN_EXISTS);
  assert_int_equal(tv_store_reput(s, &b.put, NULL), TV_E_STORE_NOT_FOUND);
  assert_int_equal(tv_store_delete(s, &kb, 5), TV_E_STORE_NOT_FOUND);
  assert_int_equal(tv_store_reput(s, &a2.put, NULL), TV_OK);
  assert_int_equal(tv_store_put(s, &b.put, NULL), TV_OK);
  assert_int_equal(tv_store_delete(s, &kb, 5), TV_OK);
  assert_int_equal(tv_store_delete(s, &kb, 6), TV_E_STORE_NOT_FOUND);
  /* A deleted token can be issued again. */
  assert_int_equal(tv_store_put(s, &b.put, NULL), TV_OK);
  assert_int_equal(tv_store_delete(s, &kb, 7), TV_OK);

  for (int round = 0; round < 2; round++) {
    tv_store_key keys[2] = {ka, kb};
    tv_store_item items[2];
    tv_store_buf buf = {0};
    assert_int_equal(tv_store_get_batch(s, keys, 2, items, &buf), TV_OK);
    assert_int_equal(items[0].status, TV_OK);
    assert_true(test_put_equal(&items[0].put, &a2.put));
    assert_int_equal(items[1].status, TV_E_STORE_NOT_FOUND);
    /* The old fingerprint entry went with the old version. */
    size_t n = 9;
    tv_store_item fi[4];
    assert_int_equal(tv_store_find_fingerprint(s, a.put.ns, 3, a2.put.fingerprint, fi, 4, &n, &buf), TV_OK);
    assert_int_equal(n, 1);
    assert_int_equal(fi[0].put.key_version, 2);
    assert_int_equal(tv_store_find_fingerprint(s, b.put.ns, 3, b.put.fingerprint, fi, 4, &n, &buf), TV_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tv_store_find_fingerprint(s, (const uint8_t *)"iban", 4, a2.put.fingerprint, fi, 4, &n, &buf),
                     TV_OK);
    assert_int_equal(n, 0);
    tv_store_buf_cleanup(&buf);
    tv_store_stats st;
    tv_store_get_stats(s, &st);
    assert_int_equal(st.index.tokens, 1);
    assert_int_equal(st.index.fingerprints, 1);
    tv_store_close(s); /* and the same after replay */
    assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  }
  tv_store_close(s);
  test_rmdir(dir);
}

static void test_fingerprint_many_tokens(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 0);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  /* Non-convergent namespace: one value, three tokens. */
  test_rec r[3];
  for (int i = 0; i < 3; i++) {
    test_rec_make(&r[i], 100 + (uint64_t)i, 1);
    memset(r[i].put.fingerprint, 0xEE, 16);
    assert_int_equal(tv_store_put(s, &r[i].put, NULL), TV_OK);
  }
  tv_store_buf buf = {0};
  tv_store_item fi[2];
  size_t n = 0;
  assert_int_equal(tv_store_find_fingerprint(s, r[0].put.ns, 3, r[0].put.fingerprint, fi, 2, &n, &buf), TV_OK);
  assert_int_equal(n, 3); /* count of all, only 2 copied */
  assert_int_equal(fi[0].status, TV_OK);
  tv_store_buf_cleanup(&buf);
  tv_store_close(s);
  test_rmdir(dir);
}

typedef struct scan_ctx {
  size_t seen;
  int bad;
} scan_ctx;

static tv_status count_scan(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  scan_ctx *c = ctx;
  c->bad |= loc == 0 || put->ns_len != 3;
  c->seen++;
  return TV_OK;
}

static tv_status stop_scan(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)put;
  (void)loc;
  scan_ctx *c = ctx;
  return ++c->seen == 3 ? TV_E_INTERNAL : TV_OK;
}

static void test_scan_sees_live_tokens_only(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 64 * 1024);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  for (uint64_t i = 0; i < 1200; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    assert_int_equal(tv_store_put(s, &t.put, NULL), TV_OK);
  }
  for (uint64_t i = 0; i < 1200; i += 4) { /* delete a quarter, re-put a quarter */
    test_rec t;
    test_rec_make(&t, i, 1);
    tv_store_key k = test_rec_key(&t);
    assert_int_equal(tv_store_delete(s, &k, 1), TV_OK);
    test_rec_make(&t, i + 1, 2);
    assert_int_equal(tv_store_reput(s, &t.put, NULL), TV_OK);
  }
  scan_ctx c = {0};
  assert_int_equal(tv_store_scan(s, count_scan, &c), TV_OK);
  assert_int_equal(c.seen, 900);
  assert_int_equal(c.bad, 0);
  c.seen = 0;
  assert_int_equal(tv_store_scan(s, stop_scan, &c), TV_E_INTERNAL);
  assert_int_equal(c.seen, 3);
  tv_store_close(s);
  test_rmdir(dir);
}

typedef struct async_ctx {
  atomic_int done;
  atomic_int ok;
} async_ctx;

static void on_done(tv_store_op *op, tv_status st) {
  async_ctx *c = op->user;
  if (st == TV_OK && op->loc != 0 && op->seq != 0) {
    atomic_fetch_add(&c->ok, 1);
  }
  atomic_fetch_add(&c->done, 1);
}

static void test_async_submit_and_close_drains(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 0);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  enum { N = 3000 };
  test_rec *recs = calloc(N, sizeof *recs);
  tv_store_op *ops = calloc(N, sizeof *ops);
  async_ctx c = {0};
  for (int i = 0; i < N; i++) {
    test_rec_make(&recs[i], (uint64_t)i, 1);
    ops[i].kind = TV_STORE_OP_PUT;
    ops[i].put = recs[i].put;
    ops[i].done = on_done;
    ops[i].user = &c;
    assert_int_equal(tv_store_submit(s, &ops[i]), TV_OK);
  }
  /* Built afresh: ops[0] itself belongs to the store until it completes. */
  tv_store_op bad = {.kind = TV_STORE_OP_PUT, .put = recs[0].put, .done = on_done, .user = &c};
  bad.put.ns_len = 0;
  assert_int_equal(tv_store_submit(s, &bad), TV_E_STORE_RECORD_FIELD);
  bad.put.ns_len = recs[0].put.ns_len;
  bad.done = NULL;
  assert_int_equal(tv_store_submit(s, &bad), TV_E_INVALID_ARGUMENT);
  tv_store_stats st;
  tv_store_close(s); /* must complete every accepted op first */
  assert_int_equal(atomic_load(&c.done), N);
  assert_int_equal(atomic_load(&c.ok), N);
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  tv_store_get_stats(s, &st);
  assert_int_equal(st.index.tokens, N);
  assert_int_equal(test_check_ids(s, 0, N, 1), N);
  tv_store_close(s);
  free(recs);
  free(ops);
  test_rmdir(dir);
}

/* A gate the writer waits at in its fault hook (called before each
 * batch's write), so the queue behind it fills up. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
  atomic_int entered;
} gate;

static int gate_fault(void *ctx, uint64_t batch_no) {
  gate *g = ctx;
  (void)batch_no;
  atomic_fetch_add(&g->entered, 1);
  pthread_mutex_lock(&g->mu);
  while (!g->open) {
    pthread_cond_wait(&g->cv, &g->mu);
  }
  pthread_mutex_unlock(&g->mu);
  return 0;
}

typedef struct wait_arg {
  tv_store *s;
  tv_store_op *ops;
  int n;
  atomic_int submitted;
  atomic_int bad;
} wait_arg;

static void *submit_waiting(void *arg) {
  wait_arg *w = arg;
  for (int i = 0; i < w->n; i++) {
    if (tv_store_submit_wait(w->s, &w->ops[i]) != TV_OK) {
      atomic_fetch_add(&w->bad, 1);
    }
    atomic_fetch_add(&w->submitted, 1);
  }
  return NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* fill_until_busy submits ops from |ops| until the queue refuses one;
 * returns how many were accepted. */
static int fill_until_busy(tv_store *s, tv_store_op *ops, int max) {
  for (int i = 0; i < max; i++) {
    tv_status st = tv_store_submit(s, &ops[i]);
    if (st == TV_E_STORE_BUSY) {
      return i;
    }
    assert_int_equal(st, TV_OK);
  }
  fail_msg("the queue never filled");
  return max;
}

static void make_ops(test_rec *recs, tv_store_op *ops, int n, async_ctx *c) {
  for (int i = 0; i < n; i++) {
    test_rec_make(&recs[i], (uint64_t)i, 1);
    ops[i] = (tv_store_op){.kind = TV_STORE_OP_PUT, .put = recs[i].put, .done = on_done, .user = c};
  }
}

/* submit_wait: a producer meeting a full queue blocks (no BUSY, no
 * polling), and goes on once the writer drains it; every op is durable. */
static void test_submit_wait_blocks_until_drained(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
  tv_store_options o = test_store_options(dir, 0);
  o.fault = gate_fault;
  o.fault_ctx = &g;
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  enum { N = TV_STORE_QUEUE_ITEMS_MAX + 2 * TV_STORE_BATCH_RECORDS_MAX + 3000 };
  test_rec *recs = calloc(N, sizeof *recs);
  tv_store_op *ops = calloc(N, sizeof *ops);
  assert_non_null(recs);
  assert_non_null(ops);
  async_ctx c = {0};
  make_ops(recs, ops, N, &c);
  assert_int_equal(tv_store_submit(s, &ops[0]), TV_OK);
  while (atomic_load(&g.entered) == 0) { /* the writer holds a batch at the gate */
    sleep_ms(1);
  }
  int queued = 1 + fill_until_busy(s, ops + 1, N - 1);
  assert_true(queued >= (int)TV_STORE_QUEUE_ITEMS_MAX);
  wait_arg w = {.s = s, .ops = ops + queued, .n = N - queued};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, submit_waiting, &w), 0);
  sleep_ms(100);
  assert_int_equal(atomic_load(&w.submitted), 0); /* blocked, not refused */
  pthread_mutex_lock(&g.mu);
  g.open = 1;
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);
  pthread_join(t, NULL);
  assert_int_equal(atomic_load(&w.submitted), N - queued);
  assert_int_equal(atomic_load(&w.bad), 0);
  tv_store_close(s);
  assert_int_equal(atomic_load(&c.done), N);
  assert_int_equal(atomic_load(&c.ok), N);
  o.fault = NULL;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  assert_int_equal(test_check_ids(s, 0, N, 1), N); /* read from the maps */
  tv_store_close(s);
  o.uring_reads = 1;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  assert_int_equal(test_check_ids(s, 0, N, 1), N); /* through io_uring */
  tv_store_close(s);
  free(recs);
  free(ops);
  test_rmdir(dir);
}

static void test_read_locations_and_bad_keys(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 64 * 1024);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  enum { M = 600 }; /* spans several segments */
  static tv_store_loc locs[M + 2];
  for (uint64_t i = 0; i < M; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    assert_int_equal(tv_store_put(s, &t.put, &locs[i]), TV_OK);
  }
  locs[M] = tv_loc_pack(999, 64, 160); /* no such segment */
  locs[M + 1] = tv_loc_pack(1, 8, 160); /* inside the segment header */
  static tv_store_item items[M + 2];
  tv_store_buf buf = {0};
  assert_int_equal(tv_store_read_locations(s, locs, M + 2, items, &buf), TV_OK);
  for (uint64_t i = 0; i < M; i++) {
    test_rec t;
    test_rec_make(&t, i, 1);
    assert_int_equal(items[i].status, TV_OK);
    assert_true(items[i].loc == locs[i]);
    assert_true(test_put_equal(&items[i].put, &t.put));
  }
  assert_int_equal(items[M].status, TV_E_INVALID_ARGUMENT);
  assert_int_not_equal(items[M + 1].status, TV_OK);

  /* Malformed keys get their own status; good keys beside them still work. */
  test_rec good;
  test_rec_make(&good, 3, 1);
  tv_store_key keys[3] = {test_rec_key(&good), test_rec_key(&good), test_rec_key(&good)};
  keys[1].ns_len = 0;
  keys[2].token_len = TV_STORE_TOKEN_LEN_MAX + 1;
  assert_int_equal(tv_store_get_batch(s, keys, 3, items, &buf), TV_OK);
  assert_int_equal(items[0].status, TV_OK);
  assert_int_equal(items[1].status, TV_E_INVALID_ARGUMENT);
  assert_int_equal(items[2].status, TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_store_get_batch(s, keys, TV_STORE_GET_ITEMS_MAX + 1, items, &buf), TV_E_INVALID_ARGUMENT);
  tv_store_buf_cleanup(&buf);
  tv_store_close(s);
  test_rmdir(dir);
}

enum { RW_WRITERS = 4, RW_PER_WRITER = 400 };

typedef struct rw_shared {
  tv_store *s;
  atomic_ullong acked[RW_WRITERS]; /* ids [w * 1e6, w * 1e6 + acked) are durable */
  atomic_int writers_done;
  atomic_int bad;
  atomic_long reads;
} rw_shared;

typedef struct rw_writer {
  rw_shared *sh;
  int w;
} rw_writer;

static void *rw_write(void *arg) {
  rw_writer *wr = arg;
  for (uint64_t i = 0; i < RW_PER_WRITER; i++) {
    test_rec t;
    test_rec_make(&t, (uint64_t)wr->w * 1000000 + i, 1);
    if (tv_store_put(wr->sh->s, &t.put, NULL) != TV_OK) {
      atomic_fetch_add(&wr->sh->bad, 1);
    }
    atomic_store(&wr->sh->acked[wr->w], i + 1);
  }
  atomic_fetch_add(&wr->sh->writers_done, 1);
  return NULL;
}

/* Readers check that everything acknowledged so far is readable, while
 * writers append and segments roll underneath them. */
static void *rw_read(void *arg) {
  rw_shared *sh = arg;
  tv_store_buf buf = {0};
  unsigned seed = 1;
  while (atomic_load(&sh->writers_done) < RW_WRITERS) {
    test_rec recs[32];
    tv_store_key keys[32];
    tv_store_item items[32];
    size_t n = 0;
    for (int w = 0; w < RW_WRITERS; w++) {
      uint64_t acked = atomic_load(&sh->acked[w]);
      for (int j = 0; j < 8 && acked > 0; j++) {
        test_rec_make(&recs[n], (uint64_t)w * 1000000 + (uint64_t)rand_r(&seed) % acked, 1);
        keys[n] = test_rec_key(&recs[n]);
        n++;
      }
    }
    if (n == 0 || tv_store_get_batch(sh->s, keys, n, items, &buf) != TV_OK) {
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      if (items[i].status != TV_OK || !test_put_equal(&items[i].put, &recs[i].put)) {
        atomic_fetch_add(&sh->bad, 1);
      }
    }
    atomic_fetch_add(&sh->reads, (long)n);
  }
  tv_store_buf_cleanup(&buf);
  return NULL;
}

static void test_readers_during_appends(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 64 * 1024);
  rw_shared sh = {0};
  assert_int_equal(tv_store_open(NULL, &o, &sh.s, NULL), TV_OK);
  pthread_t wt[RW_WRITERS], rt[2];
  rw_writer wr[RW_WRITERS];
  for (int w = 0; w < RW_WRITERS; w++) {
    wr[w] = (rw_writer){&sh, w};
    pthread_create(&wt[w], NULL, rw_write, &wr[w]);
  }
  for (int r = 0; r < 2; r++) {
    pthread_create(&rt[r], NULL, rw_read, &sh);
  }
  for (int w = 0; w < RW_WRITERS; w++) {
    pthread_join(wt[w], NULL);
  }
  for (int r = 0; r < 2; r++) {
    pthread_join(rt[r], NULL);
  }
  assert_int_equal(atomic_load(&sh.bad), 0);
  assert_true(atomic_load(&sh.reads) > 0);
  tv_store_stats st;
  tv_store_get_stats(sh.s, &st);
  assert_int_equal(st.index.tokens, RW_WRITERS * RW_PER_WRITER);
  tv_store_close(sh.s);
  test_rmdir(dir);
}

typedef struct seq_ctx {
  atomic_int done;
  tv_status status[8];
} seq_ctx;

static void on_seq_done(tv_store_op *op, tv_status st) {
  seq_ctx *c = op->user;
  c->status[op->put.key_version] = st; /* key_version doubles as the op index */
  atomic_fetch_add(&c->done, 1);
}

/* Operations on one token queued together (so they meet in one collect)
 * must take effect in submission order, as if run one by one. */
static void test_same_token_ops_keep_order(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 0);
  tv_store *s;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  for (int round = 0; round < 20; round++) {
    const tv_store_op_kind kinds[7] = {TV_STORE_OP_PUT,    TV_STORE_OP_PUT,    TV_STORE_OP_DELETE, TV_STORE_OP_REPUT,
                                       TV_STORE_OP_PUT,    TV_STORE_OP_REPUT,  TV_STORE_OP_REPUT};
    const tv_status want[7] = {TV_OK, TV_E_STORE_TOKEN_EXISTS, TV_OK, TV_E_STORE_NOT_FOUND, TV_OK, TV_OK, TV_OK};
    test_rec recs[7];
    tv_store_op ops[7];
    seq_ctx c = {0};
    for (int i = 0; i < 7; i++) {
      test_rec_make(&recs[i], 5000 + (uint64_t)round, (uint32_t)i);
      memset(&ops[i], 0, sizeof ops[i]);
      ops[i].kind = kinds[i];
      ops[i].put = recs[i].put;
      ops[i].done = on_seq_done;
      ops[i].user = &c;
    }
    for (int i = 0; i < 7; i++) {
      assert_int_equal(tv_store_submit(s, &ops[i]), TV_OK);
    }
    while (atomic_load(&c.done) < 7) {
      sched_yield();
    }
    for (int i = 0; i < 7; i++) {
      assert_int_equal(c.status[i], want[i]);
    }
    assert_int_equal(test_check_ids(s, 5000 + (uint64_t)round, 1, 6), 1); /* the last re-put won */
  }
  tv_store_close(s);
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  assert_int_equal(test_check_ids(s, 5000, 20, 6), 20);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  assert_int_equal(st.index.tokens, 20);
  assert_int_equal(st.index.fingerprints, 20);
  tv_store_close(s);
  test_rmdir(dir);
}

static void test_second_open_is_locked(void **state) {
  (void)state;
  char dir[256];
  test_tmpdir(dir, sizeof dir);
  tv_store_options o = test_store_options(dir, 0);
  tv_store *s, *s2 = NULL;
  assert_int_equal(tv_store_open(NULL, &o, &s, NULL), TV_OK);
  tv_store_diag d;
  assert_int_equal(tv_store_open(NULL, &o, &s2, &d), TV_E_STORE_LOCKED);
  assert_null(s2);
  assert_true(strlen(d.message) > 0);
  tv_store_close(s);
  o.segment_bytes = 100; /* below the minimum */
  assert_int_equal(tv_store_open(NULL, &o, &s2, &d), TV_E_INVALID_ARGUMENT);
  test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_many_producers_durable_and_batched),
      cmocka_unit_test(test_fsync_latency_stats),
      cmocka_unit_test(test_put_reput_delete_semantics),
      cmocka_unit_test(test_fingerprint_many_tokens),
      cmocka_unit_test(test_scan_sees_live_tokens_only),
      cmocka_unit_test(test_async_submit_and_close_drains),
      cmocka_unit_test(test_submit_wait_blocks_until_drained),
      cmocka_unit_test(test_read_locations_and_bad_keys),
      cmocka_unit_test(test_readers_during_appends),
      cmocka_unit_test(test_same_token_ops_keep_order),
      cmocka_unit_test(test_second_open_is_locked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
