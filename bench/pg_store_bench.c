/* pg_store_bench — the PostgreSQL store backend against the database's
 * own rate for the same statements, in the same run.
 *
 *   pg_store_bench [--json] [--seconds S] [--batch B] [--rows N]
 *                  [--pgbench PATH] [--conninfo C]
 *
 * The conninfo defaults to $TV_TEST_PG_CONNINFO, so the usual way to run
 * it is against a private server:
 *
 *   python3 tests/support/pg_cluster.py --run -- build/bench/pg_store_bench --json
 *
 * Cases (one JSON object per line with --json):
 *   put_backend   durable ~150-byte puts through tv_store_submit with 2 B
 *                 in flight: the writer commits groups of up to B rows,
 *                 BEGIN + one multi-row INSERT + COMMIT in one pipeline;
 *   put_pgbench_multirow  pgbench -M prepared, one connection, the same
 *                 transaction: BEGIN, one INSERT ... SELECT of B rows of
 *                 the same shape, COMMIT (the ratio's reference);
 *   put_pgbench_pipeline  the alternative design: BEGIN, B single-row
 *                 INSERTs, COMMIT inside \startpipeline / \endpipeline;
 *   get_backend   tv_store_get_batch of B random existing tokens, one
 *                 thread (one reader connection, one statement per batch);
 *   get_pgbench_multirow  pgbench: the backend's statement, B random
 *                 tokens unnested and joined (the ratio's reference);
 *   get_pgbench_pipeline  B single-row SELECTs in one pipeline;
 *   get_pgbench_any  one SELECT ... WHERE ns = N AND token = ANY(array)
 *                 (a design the backend could move to: see its README);
 * and the ratios backend / pgbench. pgbench computes its keys in SQL
 * (lpad, md5) where the backend binds bytes: a small server-side extra
 * on pgbench's side. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vault/store/pg/pg_store.h"
#include "vault/store/store.h"

#define DEFAULT_PGBENCH "/usr/lib/postgresql/15/bin/pgbench"

typedef struct config {
  int json;
  double seconds;
  unsigned batch;
  unsigned rows;
  const char *pgbench;
  const char *conninfo;
} config;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A put of the shape the engine writes for a PAN: token = 16 digits. */
typedef struct bench_rec {
  char token[17];
  uint8_t ct[52];
  tv_record_put put;
} bench_rec;

static void rec_make(bench_rec *r, uint64_t id) {
  memset(r, 0, sizeof *r);
  snprintf(r->token, sizeof r->token, "%016llu", (unsigned long long)id);
  for (size_t i = 0; i < sizeof r->ct; i++) {
    r->ct[i] = (uint8_t)(id * 7 + i);
  }
  r->put.ns = (const uint8_t *)"pan";
  r->put.ns_len = 3;
  r->put.token = (const uint8_t *)r->token;
  r->put.token_len = 16;
  for (int i = 0; i < 16; i++) {
    r->put.fingerprint[i] = (uint8_t)(id >> (i % 8 * 8)) ^ (uint8_t)(i * 13);
    r->put.tag[i] = (uint8_t)i;
  }
  r->put.key_version = 1;
  memcpy(r->put.nonce, r->ct, 12);
  r->put.created_ms = 1700000000000ull;
  r->put.ciphertext = r->ct;
  r->put.ciphertext_len = sizeof r->ct;
  r->put.metadata = (const uint8_t *)"meta";
  r->put.metadata_len = 4;
}

/* The async put driver: a slot per op in flight, resubmitted from |done|. */
typedef struct driver {
  tv_store *s;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t next_id, last_id, committed, failed;
  size_t in_flight;
  int stop;
} driver;

typedef struct slot {
  tv_store_op op;
  bench_rec rec;
  driver *d;
} slot;

static void slot_submit(slot *sl);

static void slot_done(tv_store_op *op, tv_status st) {
  slot *sl = op->user;
  driver *d = sl->d;
  pthread_mutex_lock(&d->mu);
  d->committed += st == TV_OK;
  d->failed += st != TV_OK;
  int again = !d->stop && d->next_id <= d->last_id;
  if (!again) {
    d->in_flight--;
    pthread_cond_signal(&d->cv);
  }
  pthread_mutex_unlock(&d->mu);
  if (again) {
    slot_submit(sl);
  }
}

static void slot_submit(slot *sl) {
  pthread_mutex_lock(&sl->d->mu);
  uint64_t id = sl->d->next_id++;
  pthread_mutex_unlock(&sl->d->mu);
  rec_make(&sl->rec, id);
  memset(&sl->op, 0, sizeof sl->op);
  sl->op.kind = TV_STORE_OP_PUT;
  sl->op.put = sl->rec.put;
  sl->op.done = slot_done;
  sl->op.user = sl;
  if (tv_store_submit(sl->d->s, &sl->op) != TV_OK) {
    slot_done(&sl->op, TV_E_STORE_BUSY);
  }
}

/* run_puts keeps |depth| puts in flight for |seconds| or until ids
 * [first_id, last_id] are written; returns committed values/s. */
static double run_puts(tv_store *s, size_t depth, double seconds, uint64_t first_id, uint64_t last_id,
                       uint64_t *out_committed) {
  driver d = {.s = s, .next_id = first_id, .last_id = last_id, .in_flight = depth};
  pthread_mutex_init(&d.mu, NULL);
  pthread_cond_init(&d.cv, NULL);
  slot *slots = calloc(depth, sizeof *slots);
  double t0 = now_s();
  for (size_t i = 0; i < depth; i++) {
    slots[i].d = &d;
    slot_submit(&slots[i]);
  }
  struct timespec nap = {0, 20 * 1000 * 1000};
  for (;;) {
    pthread_mutex_lock(&d.mu);
    int all = d.in_flight == 0;
    pthread_mutex_unlock(&d.mu);
    if (all || now_s() - t0 >= seconds) {
      break;
    }
    nanosleep(&nap, NULL);
  }
  pthread_mutex_lock(&d.mu);
  d.stop = 1;
  while (d.in_flight > 0) {
    pthread_cond_wait(&d.cv, &d.mu);
  }
  pthread_mutex_unlock(&d.mu);
  double elapsed = now_s() - t0;
  free(slots);
  if (d.failed > 0) {
    fprintf(stderr, "pg_store_bench: %llu puts failed\n", (unsigned long long)d.failed);
  }
  *out_committed = d.committed;
  return (double)d.committed / elapsed;
}

/* run_gets reads batches of |batch| random ids in [1, rows]. */
static double run_gets(tv_store *s, unsigned batch, unsigned rows, double seconds) {
  bench_rec *recs = calloc(batch, sizeof *recs);
  tv_store_key *keys = calloc(batch, sizeof *keys);
  tv_store_item *items = calloc(batch, sizeof *items);
  tv_store_buf buf = {0};
  uint64_t got = 0, missing = 0;
  unsigned seed = 7;
  double t0 = now_s();
  while (now_s() - t0 < seconds) {
    for (unsigned i = 0; i < batch; i++) {
      rec_make(&recs[i], 1 + (uint64_t)rand_r(&seed) % rows);
      keys[i] = (tv_store_key){recs[i].put.ns, 3, recs[i].put.token, 16};
    }
    if (tv_store_get_batch(s, keys, batch, items, &buf) != TV_OK) {
      break;
    }
    for (unsigned i = 0; i < batch; i++) {
      got += items[i].status == TV_OK;
      missing += items[i].status != TV_OK;
    }
  }
  double elapsed = now_s() - t0;
  if (missing > 0) {
    fprintf(stderr, "pg_store_bench: %llu lookups missed\n", (unsigned long long)missing);
  }
  tv_store_buf_cleanup(&buf);
  free(items);
  free(keys);
  free(recs);
  return (double)got / elapsed;
}

/* ---- pgbench, the database's own rate for the same statements ---- */

#define PG_COLS "ns, token, fingerprint, fp_unique, key_version, nonce, created_ms, expires_ms, ciphertext, tag, metadata, state"
#define PG_SEL_COLS "id, ns, token, fingerprint, key_version, nonce, created_ms, expires_ms, ciphertext, tag, metadata"
/* Constant columns of a ~150-byte row, as the backend writes them. */
#define PG_CONST_NONCE "'\\x000102030405060708090a0b'::bytea"
#define PG_CONST_CT "decode(repeat('5a', 52), 'hex')"
#define PG_CONST_TAG "'\\x000102030405060708090a0b0c0d0e0f'::bytea"
#define PG_TOKEN(expr) "convert_to(lpad((" expr ")::text, 16, '0'), 'UTF8')"

static void script_put_pipeline(FILE *f, unsigned batch) {
  for (unsigned i = 0; i < batch; i++) {
    fprintf(f, "\\set t%u random(1000000000000000, 9999999999999999)\n", i);
  }
  fprintf(f, "\\startpipeline\nBEGIN;\n");
  for (unsigned i = 0; i < batch; i++) {
    fprintf(f,
            "INSERT INTO tv_tokens (" PG_COLS ") VALUES ('\\x70616e'::bytea, " PG_TOKEN(":t%u") ", "
            "decode(md5(:t%u::text), 'hex'), false, 1, " PG_CONST_NONCE ", 1700000000000, 0, " PG_CONST_CT ", "
            PG_CONST_TAG ", 'meta'::bytea, 1) ON CONFLICT DO NOTHING RETURNING id;\n",
            i, i);
  }
  fprintf(f, "COMMIT;\n\\endpipeline\n");
}

static void script_put_multirow(FILE *f, unsigned batch) {
  /* BEGIN, INSERT, COMMIT in one round trip, as the backend sends them. */
  fprintf(f, "\\set t random(1000000000000000, 9999999999999999)\n\\startpipeline\nBEGIN;\n");
  fprintf(f,
          "INSERT INTO tv_tokens (" PG_COLS ") SELECT '\\x70616e'::bytea, " PG_TOKEN(":t::bigint + g") ", "
          "decode(md5((:t::bigint + g)::text), 'hex'), false, 1, " PG_CONST_NONCE ", 1700000000000, 0, " PG_CONST_CT ", "
          PG_CONST_TAG ", 'meta'::bytea, 1 FROM generate_series(1, %u) g ON CONFLICT DO NOTHING RETURNING id;\n"
          "COMMIT;\n\\endpipeline\n",
          batch);
}

static void script_get_pipeline(FILE *f, unsigned batch, unsigned rows) {
  for (unsigned i = 0; i < batch; i++) {
    fprintf(f, "\\set k%u random(1, %u)\n", i, rows);
  }
  fprintf(f, "\\startpipeline\n");
  for (unsigned i = 0; i < batch; i++) {
    fprintf(f, "SELECT " PG_SEL_COLS " FROM tv_tokens WHERE ns = '\\x70616e'::bytea AND token = " PG_TOKEN(":k%u") ";\n",
            i);
  }
  fprintf(f, "\\endpipeline\n");
}

/* The backend's own get statement (tv_get_many in pg_conn.c): two
 * arrays unnested WITH ORDINALITY and joined by the primary key. */
static void script_get_multirow(FILE *f, unsigned batch, unsigned rows) {
  fprintf(f,
          "SELECT t.id, t.ns, t.token, t.fingerprint, t.key_version, t.nonce, t.created_ms, t.expires_ms, "
          "t.ciphertext, t.tag, t.metadata, k.i FROM unnest(ARRAY(SELECT '\\x70616e'::bytea FROM generate_series(1, %u)), "
          "ARRAY(SELECT " PG_TOKEN("1 + floor(random() * %u)::bigint") " FROM generate_series(1, %u))) "
          "WITH ORDINALITY AS k(ns, token, i) JOIN tv_tokens t ON t.ns = k.ns AND t.token = k.token;\n",
          batch, rows, batch);
}

/* An alternative: one namespace, token = ANY(array); the caller would
 * then match rows to keys itself (no ordinality). */
static void script_get_any(FILE *f, unsigned batch, unsigned rows) {
  fprintf(f,
          "SELECT " PG_SEL_COLS " FROM tv_tokens WHERE ns = '\\x70616e'::bytea AND token = ANY (ARRAY(SELECT "
          PG_TOKEN("1 + floor(random() * %u)::bigint") " FROM generate_series(1, %u)));\n",
          rows, batch);
}

/* run_pgbench runs |script| with one connection for |seconds|; returns
 * transactions per second, or a negative number if pgbench failed. */
static double run_pgbench(const config *c, void (*write)(FILE *, unsigned, unsigned), double seconds) {
  char path[] = "/tmp/tv_pgbench_XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (f == NULL) {
    return -1;
  }
  write(f, c->batch, c->rows);
  fclose(f);
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' -n -M prepared -c 1 -j 1 -T %d -f '%s' \"$TV_BENCH_CONNINFO\" 2>&1", c->pgbench,
           (int)(seconds + 0.5), path);
  setenv("TV_BENCH_CONNINFO", c->conninfo, 1); /* no quoting of the conninfo into a shell line */
  FILE *p = popen(cmd, "r");
  double tps = -1;
  char line[512];
  while (p != NULL && fgets(line, sizeof line, p) != NULL) {
    if (sscanf(line, "tps = %lf", &tps) != 1 && strstr(line, "error") != NULL) {
      fprintf(stderr, "pgbench: %s", line);
    }
  }
  if (p != NULL) {
    pclose(p);
  }
  unlink(path);
  return tps;
}

static void w_put_pipeline(FILE *f, unsigned b, unsigned r) { (void)r, script_put_pipeline(f, b); }
static void w_put_multirow(FILE *f, unsigned b, unsigned r) { (void)r, script_put_multirow(f, b); }

static void emit(const config *c, const char *name, double vps, double reference) {
  if (c->json) {
    printf("{\"bench\":\"pg_store\",\"case\":\"%s\",\"batch\":%u,\"values_per_s\":%.0f", name, c->batch, vps);
    if (reference > 0) {
      printf(",\"ratio_to_pgbench\":%.3f", vps / reference);
    }
    printf("}\n");
  } else {
    printf("%-24s batch %4u  %10.0f values/s", name, c->batch, vps);
    if (reference > 0) {
      printf("  (%.2fx pgbench)", vps / reference);
    }
    printf("\n");
  }
  fflush(stdout);
}

static int parse_args(int argc, char **argv, config *c) {
  *c = (config){.seconds = 5, .batch = 256, .rows = 200000, .pgbench = DEFAULT_PGBENCH,
                .conninfo = getenv("TV_TEST_PG_CONNINFO")};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--json") == 0) {
      c->json = 1;
    } else if (v != NULL && strcmp(a, "--seconds") == 0 && ++i) {
      c->seconds = atof(v);
    } else if (v != NULL && strcmp(a, "--batch") == 0 && ++i) {
      c->batch = (unsigned)atoi(v);
    } else if (v != NULL && strcmp(a, "--rows") == 0 && ++i) {
      c->rows = (unsigned)atoi(v);
    } else if (v != NULL && strcmp(a, "--pgbench") == 0 && ++i) {
      c->pgbench = v;
    } else if (v != NULL && strcmp(a, "--conninfo") == 0 && ++i) {
      c->conninfo = v;
    } else {
      fprintf(stderr, "pg_store_bench: unknown or incomplete argument %s\n", a);
      return 0;
    }
  }
  if (c->conninfo == NULL || c->batch == 0 || c->batch > 256 || c->rows == 0 || c->seconds <= 0) {
    fprintf(stderr, "pg_store_bench: need a conninfo (--conninfo or TV_TEST_PG_CONNINFO), 1 <= --batch <= 256\n");
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  config c;
  if (!parse_args(argc, argv, &c)) {
    return 2;
  }
  tv_store_diag diag;
  tv_store *s = NULL;
  tv_store_options o = {.conninfo = c.conninfo};
  if (tv_pg_schema_init(c.conninfo, &diag) != TV_OK ||
      tv_store_open(&tv_store_backend_pg, &o, &s, &diag) != TV_OK) {
    fprintf(stderr, "pg_store_bench: %s\n", diag.message);
    return 1;
  }
  /* Prefill ids 1..rows for the lookups (also the put warm-up). */
  uint64_t committed = 0;
  run_puts(s, 2 * c.batch, 600, 1, c.rows, &committed);
  if (committed < c.rows) {
    fprintf(stderr, "pg_store_bench: prefill wrote %llu of %u rows\n", (unsigned long long)committed, c.rows);
    return 1;
  }
  /* Puts: new ids above the prefilled ones. */
  double put_be = run_puts(s, 2 * c.batch, c.seconds, (uint64_t)c.rows + 1, UINT64_MAX, &committed);
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  double put_pg = run_pgbench(&c, w_put_pipeline, c.seconds) * c.batch;
  double put_multi = run_pgbench(&c, w_put_multirow, c.seconds) * c.batch;
  emit(&c, "put_backend", put_be, put_multi); /* the backend's statement is the multi-row one */
  emit(&c, "put_pgbench_multirow", put_multi, 0);
  emit(&c, "put_pgbench_pipeline", put_pg, 0);
  double get_be = run_gets(s, c.batch, c.rows, c.seconds);
  double get_pg = run_pgbench(&c, script_get_pipeline, c.seconds) * c.batch;
  double get_multi = run_pgbench(&c, script_get_multirow, c.seconds) * c.batch;
  emit(&c, "get_backend", get_be, get_multi);
  emit(&c, "get_pgbench_multirow", get_multi, 0);
  emit(&c, "get_pgbench_pipeline", get_pg, 0);
  emit(&c, "get_pgbench_any", run_pgbench(&c, script_get_any, c.seconds) * c.batch, 0);
  if (st.batches > 0) {
    printf(c.json ? "{\"bench\":\"pg_store\",\"case\":\"put_groups\",\"rows_per_commit\":%.1f,\"commit_ms_mean\":%.2f}\n"
                  : "put groups: %.1f rows per commit, %.2f ms per commit\n",
           (double)st.records / (double)st.batches, (double)st.fsync_us_sum / (double)st.fsyncs / 1000.0);
  }
  tv_store_close(s);
  return 0;
}
