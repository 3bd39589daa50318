/* engine_bench — in-process engine throughput on a dev SoftHSM token:
 *
 *   tokenize   durable tokenizations/s (each answered only after its record
 *              is fsynced), PAN namespace, convergent (fingerprint lookup
 *              first) and FF1; with 1 and 16 producer threads, 256 threads,
 *              256 single-value requests in flight through the async API
 *              (one submitting thread), 64 requests of 64 values in
 *              flight (4096 values) and 32 requests of 1000 values
 *              (32 000 values: twice the store's queue, so back pressure);
 *   detokenize FULL reveal of records already in the page cache, batches of
 *              1000, with 1 and 2 threads.
 *
 *   engine_bench [--json] [--seconds S] [--smoke]
 *
 * Each case also reports the process's CPU time (user + system, every
 * thread) per value: on a shared machine it varies less than values/s.
 *
 * --json prints one object per line. --smoke: a very short run of every
 * case (checks the benchmark works, not the speed). The store lives in a
 * fresh directory under $TMPDIR (or /tmp), removed at the end. */
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hsm/dev_init.h"
#include "hsm/hsm.h"
#include "vault/engine/engine.h"
#include "vault/util/secure_mem.h"

#define THREADS_MAX 256
#define DETOK_BATCH 1000
#define ASYNC_BATCH 64
/* Values per request in the "many in flight" case: 32 such requests hold
 * twice the store's queue, so producers meet its back pressure. */
#define ASYNC_BIG_BATCH 1000

typedef struct bench {
  int json;
  double seconds;
  char root[PATH_MAX];
  char path[PATH_MAX + 16];
  tv_hsm_dev_token token;
  tv_hsm *hsm;
  tv_keyring *kr;
  tv_store *store;
  tv_engine *engine;
  atomic_uint_fast64_t next_value;
  /* Tokens minted so far (for the detokenize cases). */
  char (*tokens)[20];
  size_t num_tokens;
  size_t tokens_cap;
  pthread_mutex_t tokens_lock;
} bench;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, tv_status status) {
  fprintf(stderr, "engine_bench: %s: %s: %s\n", what, tv_status_name(status), tv_status_message(status));
  return 1;
}

#define BENCH_TRY(what, expr)         \
  do {                                \
    tv_status bench_st_ = (expr);     \
    if (bench_st_ != TV_OK) {         \
      return fail((what), bench_st_); \
    }                                 \
  } while (0)

/* A Luhn-valid 16-digit PAN from |n|. */
static void make_pan(char out[17], uint64_t n) {
  snprintf(out, 17, "411111%09llu0", (unsigned long long)(n % 1000000000ull));
  int sum = 0;
  for (int i = 0; i < 15; i++) {
    int d = out[14 - i] - '0';
    if (i % 2 == 0) {
      d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    }
    sum += d;
  }
  out[15] = (char)('0' + (10 - sum % 10) % 10);
  out[16] = '\0';
}

static void keep_token(bench *b, const tv_tokenize_item *item) {
  if (item->status != TV_OK || item->token_len >= sizeof b->tokens[0]) {
    return;
  }
  pthread_mutex_lock(&b->tokens_lock);
  if (b->num_tokens < b->tokens_cap) {
    memcpy(b->tokens[b->num_tokens++], item->token, item->token_len + 1);
  }
  pthread_mutex_unlock(&b->tokens_lock);
}

/* cpu_s returns the CPU seconds (user + system) this process used so far. */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* CPU time at the start of the running case (cases run one at a time). */
static double case_cpu0;

static void case_begin(void) { case_cpu0 = cpu_s(); }

static void report(const bench *b, const char *name, const char *mode, unsigned producers, uint64_t values,
                   uint64_t failed, double secs, const tv_store_stats *s0) {
  double cpu_us = values > 0 ? (cpu_s() - case_cpu0) * 1e6 / (double)values : 0.0;
  tv_store_stats s1;
  tv_store_get_stats(b->store, &s1);
  uint64_t batches = s1.batches - s0->batches;
  double per_fsync = batches > 0 ? (double)(s1.records - s0->records) / (double)batches : 0.0;
  double rate = secs > 0 ? (double)values / secs : 0.0;
  if (b->json) {
    printf("{\"case\":\"%s\",\"mode\":\"%s\",\"producers\":%u,\"values\":%llu,\"failed\":%llu,"
           "\"seconds\":%.3f,\"values_per_s\":%.0f,\"records_per_fsync\":%.1f,\"cpu_us_per_value\":%.2f}\n",
           name, mode, producers, (unsigned long long)values, (unsigned long long)failed, secs, rate, per_fsync,
           cpu_us);
  } else {
    printf("%-11s %-13s producers %3u: %10.0f values/s (%llu in %.2f s, %llu failed, %.1f records/fsync, "
           "%.2f CPU us/value)\n",
           name, mode, producers, rate, (unsigned long long)values, secs, (unsigned long long)failed, per_fsync,
           cpu_us);
  }
  fflush(stdout);
}

/* ---- tokenize with threads ------------------------------------------- */

typedef struct thr_arg {
  bench *b;
  double until;
  uint64_t done;
  uint64_t failed;
} thr_arg;

static void *tok_thread(void *p) {
  thr_arg *a = p;
  char pan[17];
  while (now_s() < a->until) {
    make_pan(pan, atomic_fetch_add(&a->b->next_value, 1));
    tv_tokenize_item item = {.value = pan, .value_len = 16};
    if (tv_engine_tokenize(a->b->engine, "pan", &item, 1) != TV_OK || item.status != TV_OK) {
      a->failed++;
      continue;
    }
    keep_token(a->b, &item);
    a->done++;
  }
  return NULL;
}

static int bench_threads(bench *b, unsigned producers) {
  static thr_arg args[THREADS_MAX];
  static pthread_t threads[THREADS_MAX];
  tv_store_stats s0;
  tv_store_get_stats(b->store, &s0);
  case_begin();
  double start = now_s();
  for (unsigned i = 0; i < producers; i++) {
    args[i] = (thr_arg){.b = b, .until = start + b->seconds};
    if (pthread_create(&threads[i], NULL, tok_thread, &args[i]) != 0) {
      return fail("pthread_create", TV_E_INTERNAL);
    }
  }
  uint64_t done = 0;
  uint64_t failed = 0;
  for (unsigned i = 0; i < producers; i++) {
    pthread_join(threads[i], NULL);
    done += args[i].done;
    failed += args[i].failed;
  }
  report(b, "tokenize", "threads", producers, done, failed, now_s() - start, &s0);
  return 0;
}

/* ---- tokenize through the async API ---------------------------------- */

typedef struct async_req {
  tv_tokenize_req req;
  tv_tokenize_item items[ASYNC_BIG_BATCH];
  char pans[ASYNC_BIG_BATCH][17];
  struct async_ctx *ctx;
} async_req;

typedef struct async_ctx {
  bench *b;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  async_req **free_list;
  size_t num_free;
  uint64_t done;
  uint64_t failed;
} async_ctx;

static void async_done(tv_tokenize_req *req) {
  async_req *r = (async_req *)req;
  async_ctx *c = r->ctx;
  uint64_t ok = 0;
  for (size_t i = 0; i < req->num_items; i++) {
    ok += r->items[i].status == TV_OK;
    keep_token(c->b, &r->items[i]);
  }
  pthread_mutex_lock(&c->lock);
  c->done += ok;
  c->failed += req->num_items - ok;
  c->free_list[c->num_free++] = r;
  pthread_cond_signal(&c->cond);
  pthread_mutex_unlock(&c->lock);
}

static int bench_async(bench *b, unsigned in_flight, size_t per_req) {
  async_req *reqs = calloc(in_flight, sizeof *reqs);
  async_ctx c = {.b = b, .free_list = calloc(in_flight, sizeof(async_req *))};
  if (reqs == NULL || c.free_list == NULL) {
    return fail("calloc", TV_E_NO_MEMORY);
  }
  pthread_mutex_init(&c.lock, NULL);
  pthread_cond_init(&c.cond, NULL);
  for (unsigned i = 0; i < in_flight; i++) {
    reqs[i].ctx = &c;
    c.free_list[c.num_free++] = &reqs[i];
  }
  tv_store_stats s0;
  tv_store_get_stats(b->store, &s0);
  case_begin();
  double start = now_s();
  double until = start + b->seconds;
  while (now_s() < until) {
    pthread_mutex_lock(&c.lock);
    while (c.num_free == 0) {
      pthread_cond_wait(&c.cond, &c.lock);
    }
    async_req *r = c.free_list[--c.num_free];
    pthread_mutex_unlock(&c.lock);
    for (size_t i = 0; i < per_req; i++) {
      make_pan(r->pans[i], atomic_fetch_add(&b->next_value, 1));
      r->items[i] = (tv_tokenize_item){.value = r->pans[i], .value_len = 16};
    }
    r->req = (tv_tokenize_req){.ns = "pan", .items = r->items, .num_items = per_req, .done = async_done};
    BENCH_TRY("submit", tv_engine_tokenize_submit(b->engine, &r->req));
  }
  pthread_mutex_lock(&c.lock);
  while (c.num_free < in_flight) {
    pthread_cond_wait(&c.cond, &c.lock);
  }
  pthread_mutex_unlock(&c.lock);
  double secs = now_s() - start;
  report(b, "tokenize", per_req == 1 ? "async" : "async_batch", (unsigned)(in_flight * per_req), c.done, c.failed,
         secs, &s0);
  free(reqs);
  free(c.free_list);
  pthread_mutex_destroy(&c.lock);
  pthread_cond_destroy(&c.cond);
  return 0;
}

/* ---- detokenize ------------------------------------------------------ */

typedef struct detok_arg {
  bench *b;
  double until;
  size_t offset;
  uint64_t done;
  uint64_t failed;
} detok_arg;

static void *detok_thread(void *p) {
  detok_arg *a = p;
  tv_detokenize_item *items = calloc(DETOK_BATCH, sizeof *items);
  if (items == NULL) {
    a->failed++;
    return NULL;
  }
  size_t at = a->offset;
  while (now_s() < a->until) {
    for (size_t i = 0; i < DETOK_BATCH; i++) {
      const char *t = a->b->tokens[(at + i) % a->b->num_tokens];
      items[i].token = t;
      items[i].token_len = strlen(t);
    }
    at += DETOK_BATCH;
    if (tv_engine_detokenize(a->b->engine, "pan", items, DETOK_BATCH, TV_REVEAL_FULL) != TV_OK) {
      a->failed += DETOK_BATCH;
      continue;
    }
    for (size_t i = 0; i < DETOK_BATCH; i++) {
      if (items[i].status == TV_OK) {
        a->done++;
      } else {
        a->failed++;
      }
    }
  }
  tv_wipe(items, DETOK_BATCH * sizeof *items); /* revealed values */
  free(items);
  return NULL;
}

static int bench_detok(bench *b, unsigned producers) {
  if (b->num_tokens == 0) {
    return fail("no tokens to detokenize", TV_E_INTERNAL);
  }
  detok_arg args[2];
  pthread_t threads[2];
  tv_store_stats s0;
  tv_store_get_stats(b->store, &s0);
  case_begin();
  double start = now_s();
  for (unsigned i = 0; i < producers; i++) {
    args[i] = (detok_arg){.b = b, .until = start + b->seconds, .offset = i * (b->num_tokens / 2)};
    if (pthread_create(&threads[i], NULL, detok_thread, &args[i]) != 0) {
      return fail("pthread_create", TV_E_INTERNAL);
    }
  }
  uint64_t done = 0;
  uint64_t failed = 0;
  for (unsigned i = 0; i < producers; i++) {
    pthread_join(threads[i], NULL);
    done += args[i].done;
    failed += args[i].failed;
  }
  report(b, "detokenize", "batch_1000", producers, done, failed, now_s() - start, &s0);
  return 0;
}

/* ---- setup ----------------------------------------------------------- */

static int setup(bench *b) {
  const char *tmp = getenv("TMPDIR");
  snprintf(b->root, sizeof b->root, "%s/tv-engine-bench-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(b->root) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  char dir[PATH_MAX + 8];
  snprintf(dir, sizeof dir, "%s/hsm", b->root);
  tv_hsm_dev_options dev = {.dir = dir};
  BENCH_TRY("hsm dev init", tv_hsm_dev_init(&b->token, &dev));
  tv_hsm_config config = {
      .token_label = b->token.token_label, .pin_kind = TV_HSM_PIN_FILE, .pin_source = b->token.pin_path};
  BENCH_TRY("hsm open", tv_hsm_open(&b->hsm, &config));
  snprintf(b->path, sizeof b->path, "%s/keyring", b->root);
  tv_keyring_options ko = {.path = b->path, .mac_label = b->token.mac_label, .kek_label = b->token.kek_label};
  BENCH_TRY("keyring create", tv_keyring_create(&b->kr, b->hsm, &ko));
  BENCH_TRY("keyring namespace", tv_keyring_add_namespace(b->kr, "pan"));
  snprintf(dir, sizeof dir, "%s/store", b->root);
  tv_store_options so = {.dir = dir, .tokens_hint = 4u << 20};
  tv_store_diag diag;
  BENCH_TRY("store open", tv_store_open(NULL, &so, &b->store, &diag));
  tv_engine_options eo = {.store = b->store, .keyring = b->kr};
  BENCH_TRY("engine", tv_engine_new(&b->engine, &eo));
  tv_engine_namespace ns = {.convergent = 1};
  BENCH_TRY("format", format_config_init(&ns.format, FORMAT_PAN, "pan"));
  BENCH_TRY("namespace", tv_engine_add_namespace(b->engine, &ns, NULL, 0));
  b->tokens_cap = 1u << 20;
  b->tokens = calloc(b->tokens_cap, sizeof *b->tokens);
  if (b->tokens == NULL) {
    return fail("calloc", TV_E_NO_MEMORY);
  }
  pthread_mutex_init(&b->tokens_lock, NULL);
  return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void teardown(bench *b) {
  tv_engine_free(b->engine);
  tv_store_close(b->store);
  tv_keyring_free(b->kr);
  tv_hsm_free(b->hsm);
  free(b->tokens);
  nftw(b->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int parse_args(bench *b, int argc, char **argv) {
  b->seconds = 3.0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      b->json = 1;
    } else if (strcmp(argv[i], "--smoke") == 0) {
      b->seconds = 0.05;
    } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      b->seconds = strtod(argv[++i], NULL);
    } else {
      fprintf(stderr, "usage: engine_bench [--json] [--seconds S] [--smoke]\n");
      return 1;
    }
  }
  if (!(b->seconds > 0.0 && b->seconds <= 600.0)) {
    fprintf(stderr, "engine_bench: --seconds must be in (0, 600]\n");
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  static bench b;
  if (parse_args(&b, argc, argv) != 0) {
    return 2;
  }
  int rc = setup(&b);
  rc = rc == 0 ? bench_threads(&b, 1) : rc;
  rc = rc == 0 ? bench_threads(&b, 16) : rc;
  rc = rc == 0 ? bench_threads(&b, 256) : rc;
  rc = rc == 0 ? bench_async(&b, 256, 1) : rc;
  rc = rc == 0 ? bench_async(&b, 64, ASYNC_BATCH) : rc;
  rc = rc == 0 ? bench_async(&b, 32, ASYNC_BIG_BATCH) : rc;
  rc = rc == 0 ? bench_detok(&b, 1) : rc;
  rc = rc == 0 ? bench_detok(&b, 2) : rc;
  teardown(&b);
  return rc;
}
