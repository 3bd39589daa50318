/* store_bench — durable appends, recovery speed and index memory of the
 * io_uring log store.
 *
 *   store_bench [--json] [--seconds S] [--dir DIR] [--replay-records N]
 *               [--big-index] [--smoke] [--direct-rounds K] [--replay-only]
 *
 * Cases (one line each; with --json one JSON object per line):
 *   fsync_baseline  the disk's plain rate of 4 KiB write + fdatasync, one
 *                   at a time, measured in the same run as the appends so
 *                   appends can be read as a multiple of it;
 *   append          durable ~150-byte token puts with N producer threads
 *                   each blocking on its own put (1, 16, 256);
 *   append_direct   the same with O_DIRECT writes from a registered
 *                   buffer (store option direct_io), 16 and 256 producers;
 *                   --direct-rounds K runs only this comparison, K rounds
 *                   alternating which of the two goes first;
 *   append_async    N puts kept in flight by completion callbacks (how a
 *                   gRPC server with N concurrent calls drives the store);
 *   replay          reopening a store of R records: records/s recovered
 *                   (files are in the page cache: a warm restart);
 *   replay_checkpoint the same store reopened from an index checkpoint
 *                   (written at close) against the full replay: open
 *                   time with and without it, and the checkpoint's cost;
 *                   the open with it still checks every covered record
 *                   (CRC, lengths, order; no index work): checked_records;
 *   index_memory    bytes of index per token at 1M tokens (10M with
 *                   --big-index), grown on demand and presized;
 *   compact         compaction of R records of which R/3 are superseded:
 *                   records/s and bytes/s read, bytes before and after.
 * The store directory defaults to $TMPDIR (or /tmp) and is removed after. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "vault/store/index.h"
#include "vault/store/store.h"

typedef struct config {
  int json;
  double seconds;
  const char *base;
  uint64_t replay_records;
  int big_index;
  int direct_rounds; /* > 0: only the buffered vs O_DIRECT comparison */
  int replay_only;   /* only the replay and replay_checkpoint cases */
} config;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A token put of about 150 bytes on disk, derived from |id|. */
typedef struct bench_rec {
  char token[24];
  uint8_t ciphertext[48];
  tv_record_put put;
} bench_rec;

static void rec_make(bench_rec *r, uint64_t id) {
  int n = snprintf(r->token, sizeof r->token, "4111%012llu", (unsigned long long)id);
  memset(r->ciphertext, (int)(id & 0xff), sizeof r->ciphertext);
  memset(&r->put, 0, sizeof r->put);
  r->put.ns = (const uint8_t *)"pan";
  r->put.ns_len = 3;
  r->put.token = (const uint8_t *)r->token;
  r->put.token_len = (size_t)n;
  memcpy(r->put.fingerprint, &id, sizeof id);
  r->put.key_version = 1;
  r->put.created_ms = id;
  r->put.ciphertext = r->ciphertext;
  r->put.ciphertext_len = sizeof r->ciphertext;
}

static void make_dir(const config *c, char *out, size_t out_len) {
  snprintf(out, out_len, "%s/tv_store_bench_XXXXXX", c->base);
  if (mkdtemp(out) == NULL) {
    perror("store_bench: mkdtemp");
    exit(1);
  }
}

static void remove_dir(const char *dir) {
  char cmd[4400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "store_bench: could not remove %s\n", dir);
  }
}

static tv_store *open_store_opts(const char *dir, size_t hint, uint64_t checkpoint_records, int direct_io) {
  tv_store_options o;
  memset(&o, 0, sizeof o);
  o.dir = dir;
  o.tokens_hint = hint;
  o.checkpoint_records = checkpoint_records;
  o.direct_io = direct_io;
  tv_store *s;
  tv_store_diag d;
  tv_status st = tv_store_open(NULL, &o, &s, &d);
  if (st != TV_OK) {
    fprintf(stderr, "store_bench: open %s: %s %s\n", dir, tv_status_name(st), d.message);
    exit(1);
  }
  return s;
}

static tv_store *open_store_ckpt(const char *dir, size_t hint, uint64_t checkpoint_records) {
  return open_store_opts(dir, hint, checkpoint_records, 0);
}

static tv_store *open_store(const char *dir, size_t hint) { return open_store_ckpt(dir, hint, 0); }

static double fsync_baseline(const config *c, const char *when) {
  char dir[4200], path[4300];
  make_dir(c, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/fsync", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  static uint8_t page[4096];
  long n = 0;
  double t0 = now_s(), t;
  do {
    if (fd < 0 || pwrite(fd, page, sizeof page, (off_t)(n % 256) * 4096) != (ssize_t)sizeof page ||
        fdatasync(fd) != 0) {
      perror("store_bench: fsync baseline");
      exit(1);
    }
    n++;
    t = now_s();
  } while (t - t0 < c->seconds);
  close(fd);
  remove_dir(dir);
  double rate = (double)n / (t - t0);
  if (c->json) {
    printf("{\"case\":\"fsync_baseline\",\"when\":\"%s\",\"fsyncs_per_s\":%.0f,\"latency_us\":%.1f}\n", when, rate,
           1e6 / rate);
  } else {
    printf("fsync_baseline %-6s %8.0f write+fdatasync/s (%.1f us each)\n", when, rate, 1e6 / rate);
  }
  return rate;
}

typedef struct producer {
  tv_store *s;
  uint64_t base;
  atomic_int *stop;
  uint64_t done;
} producer;

static void *produce(void *arg) {
  producer *p = arg;
  bench_rec r;
  while (!atomic_load_explicit(p->stop, memory_order_relaxed)) {
    rec_make(&r, p->base + p->done);
    if (tv_store_put(p->s, &r.put, NULL) != TV_OK) {
      fprintf(stderr, "store_bench: put failed\n");
      exit(1);
    }
    p->done++;
  }
  return NULL;
}

static void report_append(const config *c, const char *name, int producers, uint64_t records, double secs,
                          const tv_store_stats *st, double fsync_rate) {
  double rate = (double)records / secs;
  double per_fsync = st->batches ? (double)st->records / (double)st->batches : 0;
  double fsyncs = (double)st->batches / secs;
  if (c->json) {
    printf("{\"case\":\"%s\",\"producers\":%d,\"appends_per_s\":%.0f,\"records_per_fsync\":%.1f,"
           "\"fsyncs_per_s\":%.0f,\"plain_fsyncs_per_s\":%.0f,\"appends_vs_plain_fsync\":%.1f,\"seconds\":%.2f}\n",
           name, producers, rate, per_fsync, fsyncs, fsync_rate, rate / fsync_rate, secs);
  } else {
    printf("%-14s %5d producers %10.0f durable appends/s, %7.1f records/fsync, %6.0f fsync/s (%.1fx plain fsync)\n",
           name, producers, rate, per_fsync, fsyncs, rate / fsync_rate);
  }
}

/* |direct|: the O_DIRECT + registered buffer experiment (store option
 * direct_io), reported as "append_direct". */
static void bench_append(const config *c, int producers, double fsync_rate, int direct) {
  char dir[4200];
  make_dir(c, dir, sizeof dir);
  tv_store *s = open_store_opts(dir, 0, 0, direct);
  atomic_int stop = 0;
  producer *p = calloc((size_t)producers, sizeof *p);
  pthread_t *th = calloc((size_t)producers, sizeof *th);
  tv_store_stats before, after;
  tv_store_get_stats(s, &before);
  double t0 = now_s();
  for (int i = 0; i < producers; i++) {
    p[i] = (producer){s, (uint64_t)i << 32, &stop, 0};
    pthread_create(&th[i], NULL, produce, &p[i]);
  }
  struct timespec nap = {(time_t)c->seconds, (long)((c->seconds - (double)(time_t)c->seconds) * 1e9)};
  nanosleep(&nap, NULL);
  atomic_store(&stop, 1);
  uint64_t total = 0;
  for (int i = 0; i < producers; i++) {
    pthread_join(th[i], NULL);
    total += p[i].done;
  }
  double secs = now_s() - t0;
  tv_store_get_stats(s, &after);
  after.batches -= before.batches;
  after.records -= before.records;
  if (direct && after.direct_io != 2) {
    fprintf(stderr, "store_bench: O_DIRECT run without a registered buffer (mode %d)\n", after.direct_io);
  }
  report_append(c, direct ? "append_direct" : "append", producers, total, secs, &after, fsync_rate);
  tv_store_close(s);
  free(p);
  free(th);
  remove_dir(dir);
}

/* Closed loop of in-flight ops: each completion submits the next id. */
typedef struct slot {
  tv_store_op op;
  bench_rec rec;
  struct async_run *run;
} slot;

typedef struct async_run {
  tv_store *s;
  atomic_int stop;
  atomic_ullong next_id;
  atomic_ullong done;
  atomic_int outstanding;
  uint64_t limit; /* stop after this many ids (0: until stop) */
  tv_store_op_kind kind; /* 0: PUT */
} async_run;

static void slot_submit(slot *sl);

static void slot_done(tv_store_op *op, tv_status st) {
  slot *sl = op->user;
  if (st != TV_OK) {
    fprintf(stderr, "store_bench: async put failed: %s\n", tv_status_name(st));
    exit(1);
  }
  atomic_fetch_add(&sl->run->done, 1);
  slot_submit(sl);
}

static void slot_submit(slot *sl) {
  async_run *run = sl->run;
  uint64_t id = atomic_fetch_add(&run->next_id, 1);
  if (atomic_load(&run->stop) || (run->limit && id >= run->limit)) {
    atomic_fetch_sub(&run->outstanding, 1);
    return;
  }
  rec_make(&sl->rec, id);
  memset(&sl->op, 0, sizeof sl->op);
  sl->op.kind = run->kind != 0 ? run->kind : TV_STORE_OP_PUT;
  sl->op.put = sl->rec.put;
  sl->op.done = slot_done;
  sl->op.user = sl;
  if (tv_store_submit(run->s, &sl->op) != TV_OK) {
    fprintf(stderr, "store_bench: submit refused\n");
    exit(1);
  }
}

/* run_async keeps |inflight| puts outstanding until |limit| ids or the
 * time is up; returns the elapsed seconds. */
static double run_async(async_run *run, int inflight, double seconds) {
  slot *slots = calloc((size_t)inflight, sizeof *slots);
  atomic_store(&run->outstanding, inflight);
  double t0 = now_s();
  for (int i = 0; i < inflight; i++) {
    slots[i].run = run;
    slot_submit(&slots[i]);
  }
  while (atomic_load(&run->outstanding) > 0) {
    struct timespec nap = {0, 1000000};
    nanosleep(&nap, NULL);
    if (seconds > 0 && now_s() - t0 >= seconds) {
      atomic_store(&run->stop, 1);
    }
  }
  double secs = now_s() - t0;
  free(slots);
  return secs;
}

static void bench_append_async(const config *c, int inflight, double fsync_rate) {
  char dir[4200];
  make_dir(c, dir, sizeof dir);
  async_run run = {.s = open_store(dir, 0)};
  double secs = run_async(&run, inflight, c->seconds);
  tv_store_stats st;
  tv_store_get_stats(run.s, &st);
  report_append(c, "append_async", inflight, atomic_load(&run.done), secs, &st, fsync_rate);
  tv_store_close(run.s);
  remove_dir(dir);
}

/* |sizing|: "grown" (1.5x steps on demand), "presized" (told the count),
 * "from_log" (a store reopened: sized from the puts found in its log). */
static void report_index(const config *c, const char *where, size_t tokens, size_t bytes, const char *sizing) {
  double per = (double)bytes / (double)tokens;
  if (c->json) {
    printf("{\"case\":\"index_memory\",\"source\":\"%s\",\"tokens\":%zu,\"bytes\":%zu,\"bytes_per_token\":%.1f,"
           "\"sizing\":\"%s\"}\n",
           where, tokens, bytes, per, sizing);
  } else {
    printf("index_memory   %-6s %9zu tokens %6.1f bytes/token (sizing: %s)\n", where, tokens, per, sizing);
  }
}

/* Batched reads of random existing tokens (one io_uring submission per
 * batch of 256; data in the page cache), each record CRC-checked. */
static void bench_get_batch(const config *c, tv_store *s, uint64_t records) {
  enum { BATCH = 256 };
  static bench_rec recs[BATCH];
  tv_store_key keys[BATCH];
  tv_store_item items[BATCH];
  tv_store_buf buf = {0};
  uint64_t reads = 0, x = 88172645463325252ull;
  double t0 = now_s(), t;
  do {
    for (int i = 0; i < BATCH; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      rec_make(&recs[i], x % records);
      keys[i] = (tv_store_key){recs[i].put.ns, recs[i].put.ns_len, recs[i].put.token, recs[i].put.token_len};
    }
    if (tv_store_get_batch(s, keys, BATCH, items, &buf) != TV_OK) {
      fprintf(stderr, "store_bench: get_batch failed\n");
      exit(1);
    }
    for (int i = 0; i < BATCH; i++) {
      if (items[i].status != TV_OK) {
        fprintf(stderr, "store_bench: token missing after replay\n");
        exit(1);
      }
    }
    reads += BATCH;
    t = now_s();
  } while (t - t0 < c->seconds);
  tv_store_buf_cleanup(&buf);
  double rate = (double)reads / (t - t0);
  if (c->json) {
    printf("{\"case\":\"get_batch\",\"batch\":%d,\"reads_per_s\":%.0f,\"threads\":1,\"cache\":\"warm\"}\n", BATCH,
           rate);
  } else {
    printf("get_batch      %5d keys/batch %10.0f reads/s (1 thread, page cache warm)\n", BATCH, rate);
  }
}

/* bench_replay_checkpoint: one more put in a session with checkpoints on
 * (so close writes one covering the whole log), then a timed reopen that
 * loads it and replays only what follows it (nothing). */
static void bench_replay_checkpoint(const config *c, const char *dir, double full_secs, uint64_t full_records) {
  tv_store *s = open_store_ckpt(dir, 0, UINT64_MAX);
  bench_rec r;
  rec_make(&r, c->replay_records);
  if (tv_store_put(s, &r.put, NULL) != TV_OK) {
    fprintf(stderr, "store_bench: put failed\n");
    exit(1);
  }
  double t0 = now_s();
  tv_store_close(s);
  double write_secs = now_s() - t0;
  t0 = now_s();
  s = open_store(dir, 0);
  double secs = now_s() - t0;
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  tv_store_close(s);
  char path[4300];
  snprintf(path, sizeof path, "%s/CHECKPOINT", dir);
  struct stat sb;
  if (st.checkpoint_tokens == 0 || stat(path, &sb) != 0) {
    fprintf(stderr, "store_bench: the checkpoint was not used\n");
    exit(1);
  }
  if (c->json) {
    printf("{\"case\":\"replay_checkpoint\",\"records\":%llu,\"full_replay_s\":%.3f,\"checkpoint_open_s\":%.3f,"
           "\"tokens_from_checkpoint\":%llu,\"checked_records\":%llu,\"tail_records\":%llu,"
           "\"checkpoint_bytes\":%lld,\"close_with_checkpoint_s\":%.3f,\"cache\":\"warm\"}\n",
           (unsigned long long)full_records, full_secs, secs, (unsigned long long)st.checkpoint_tokens,
           (unsigned long long)st.checked_records, (unsigned long long)st.recovered_records, (long long)sb.st_size,
           write_secs);
  } else {
    printf("replay_ckpt    %9llu tokens: open %.3f s with checkpoint (%llu covered records checked) vs %.3f s "
           "full replay (checkpoint %lld bytes, written at close in %.3f s)\n",
           (unsigned long long)st.checkpoint_tokens, secs, (unsigned long long)st.checked_records, full_secs,
           (long long)sb.st_size, write_secs);
  }
}

static void bench_replay(const config *c) {
  char dir[4200];
  make_dir(c, dir, sizeof dir);
  async_run run = {.s = open_store(dir, 0), .limit = c->replay_records};
  run_async(&run, 4096, 0);
  tv_store_close(run.s);
  double t0 = now_s();
  tv_store *s = open_store(dir, 0);
  double secs = now_s() - t0;
  tv_store_stats st;
  tv_store_get_stats(s, &st);
  double rate = (double)st.recovered_records / secs;
  if (c->json) {
    printf("{\"case\":\"replay\",\"records\":%llu,\"seconds\":%.3f,\"records_per_s\":%.0f,\"cache\":\"warm\"}\n",
           (unsigned long long)st.recovered_records, secs, rate);
  } else {
    printf("replay         %9llu records in %.3f s: %10.0f records/s (page cache warm)\n",
           (unsigned long long)st.recovered_records, secs, rate);
  }
  report_index(c, "store", st.index.tokens, st.index.bytes, "from_log");
  bench_get_batch(c, s, c->replay_records);
  tv_store_close(s);
  bench_replay_checkpoint(c, dir, secs, st.recovered_records);
  remove_dir(dir);
}

/* Compaction of a store of R puts of which R/2 were re-put (so a third of
 * the records are superseded): records and bytes read per second, and
 * what is left. Files in the page cache; the output is fsynced. */
static void bench_compact(const config *c) {
  char dir[4200];
  make_dir(c, dir, sizeof dir);
  async_run run = {.s = open_store(dir, 0), .limit = c->replay_records};
  run_async(&run, 4096, 0);
  async_run re = {.s = run.s, .limit = c->replay_records / 2, .kind = TV_STORE_OP_REPUT};
  run_async(&re, 4096, 0);
  tv_store_compact_progress p;
  double t0 = now_s();
  tv_status st = tv_store_compact(run.s, NULL, &p);
  double secs = now_s() - t0;
  if (st != TV_OK) {
    fprintf(stderr, "store_bench: compact: %s\n", tv_status_name(st));
    exit(1);
  }
  tv_store_compact_report r;
  tv_store_compact_progress_get(&p, &r);
  if (c->json) {
    printf("{\"case\":\"compact\",\"records\":%llu,\"records_kept\":%llu,\"seconds\":%.3f,"
           "\"records_per_s\":%.0f,\"bytes_in\":%llu,\"bytes_out\":%llu,\"bytes_per_s\":%.0f,"
           "\"swap_stall_ms\":%.1f,\"cache\":\"warm\"}\n",
           (unsigned long long)r.records_done, (unsigned long long)r.records_kept, secs,
           (double)r.records_done / secs, (unsigned long long)r.bytes_done, (unsigned long long)r.bytes_written,
           (double)r.bytes_done / secs, (double)r.swap_stall_us / 1000);
  } else {
    printf("compact        %9llu records (%llu kept) in %.3f s: %10.0f records/s, %.1f MB/s read, "
           "%llu -> %llu bytes, reads held %.1f ms by the swap\n",
           (unsigned long long)r.records_done, (unsigned long long)r.records_kept, secs,
           (double)r.records_done / secs, (double)r.bytes_done / secs / 1e6, (unsigned long long)r.bytes_done,
           (unsigned long long)r.bytes_written, (double)r.swap_stall_us / 1000);
  }
  tv_store_close(run.s);
  remove_dir(dir);
}

/* The index alone at a given size: the same structure the store uses. */
static void bench_index(const config *c, size_t tokens, int presized) {
  tv_index *idx;
  if (tv_index_new(presized ? tokens : 0, 12345, &idx) != TV_OK) {
    fprintf(stderr, "store_bench: index alloc failed\n");
    exit(1);
  }
  double t0 = now_s();
  tv_index_write_begin(idx);
  for (size_t i = 0; i < tokens; i++) {
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
    tv_store_loc loc = tv_loc_pack((uint32_t)(i >> 20) + 1, 64 + (i & 0xfffff) * 8, 160);
    if (tv_index_token_insert(idx, h, loc) != TV_OK || tv_index_fp_insert(idx, h ^ 0x5555, loc) != TV_OK) {
      fprintf(stderr, "store_bench: index insert failed\n");
      exit(1);
    }
  }
  tv_index_write_end(idx);
  double secs = now_s() - t0;
  tv_index_stats st;
  tv_index_get_stats(idx, &st);
  report_index(c, "index", st.tokens, st.bytes, presized ? "presized" : "grown");
  if (!c->json) {
    printf("               %.0f token+fingerprint inserts/s\n", (double)tokens / secs);
  }
  tv_index_free(idx);
}

static config parse_args(int argc, char **argv) {
  const char *tmp = getenv("TMPDIR");
  config c = {.seconds = 2.0, .base = tmp ? tmp : "/tmp", .replay_records = 1000000};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      c.json = 1;
    } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      c.seconds = atof(argv[++i]);
    } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      c.base = argv[++i];
    } else if (strcmp(argv[i], "--replay-records") == 0 && i + 1 < argc) {
      c.replay_records = strtoull(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--direct-rounds") == 0 && i + 1 < argc) {
      c.direct_rounds = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--big-index") == 0) {
      c.big_index = 1;
    } else if (strcmp(argv[i], "--replay-only") == 0) {
      c.replay_only = 1;
    } else if (strcmp(argv[i], "--smoke") == 0) {
      c.seconds = 0.05;
      c.replay_records = 2000;
    } else {
      fprintf(stderr, "usage: store_bench [--json] [--seconds S] [--dir DIR] [--replay-records N] "
                      "[--big-index] [--smoke] [--direct-rounds K] [--replay-only]\n");
      exit(2);
    }
  }
  if (c.seconds <= 0 || c.replay_records == 0) {
    fprintf(stderr, "store_bench: --seconds and --replay-records must be positive\n");
    exit(2);
  }
  return c;
}

/* compare_direct alternates buffered and O_DIRECT appends at 16 and 256
 * producers, |rounds| times, swapping which goes first each round, so
 * the disk's drifting fsync latency weighs on both alike. */
static void compare_direct(const config *c, int rounds) {
  double fsync_rate = fsync_baseline(c, "before");
  const int producers[] = {16, 256};
  for (int r = 0; r < rounds; r++) {
    for (size_t i = 0; i < 2; i++) {
      bench_append(c, producers[i], fsync_rate, r % 2);
      bench_append(c, producers[i], fsync_rate, 1 - r % 2);
    }
  }
  fsync_baseline(c, "after");
}

int main(int argc, char **argv) {
  config c = parse_args(argc, argv);
  /* The disk's fsync latency drifts (shared hosts): it is measured before
   * and after the appends. The ratio printed with each append uses the
   * "before" figure; "after" and "mean" show how much it drifted. */
  if (c.direct_rounds > 0) {
    compare_direct(&c, c.direct_rounds);
    return 0;
  }
  if (c.replay_only) {
    bench_replay(&c);
    return 0;
  }
  double fsync_before = fsync_baseline(&c, "before");
  double fsync_rate = fsync_before;
  const int producers[] = {1, 16, 256};
  for (size_t i = 0; i < sizeof producers / sizeof producers[0]; i++) {
    bench_append(&c, producers[i], fsync_rate, 0);
    if (producers[i] > 1) { /* right after the buffered run: same disk weather */
      bench_append(&c, producers[i], fsync_rate, 1);
    }
  }
  const int inflight[] = {256, 4096};
  for (size_t i = 0; i < sizeof inflight / sizeof inflight[0]; i++) {
    bench_append_async(&c, inflight[i], fsync_rate);
  }
  double fsync_after = fsync_baseline(&c, "after");
  if (c.json) {
    printf("{\"case\":\"fsync_baseline\",\"when\":\"mean\",\"fsyncs_per_s\":%.0f}\n", (fsync_before + fsync_after) / 2);
  }
  bench_replay(&c);
  bench_compact(&c);
  size_t tokens = c.replay_records < 1000000 ? (size_t)c.replay_records : 1000000;
  bench_index(&c, tokens, 0);
  bench_index(&c, tokens, 1);
  if (c.big_index) {
    bench_index(&c, 10000000, 0);
    bench_index(&c, 10000000, 1);
  }
  return 0;
}
