/* The store side of the power-loss tests (driven by
 * test_store_powerloss.py on a lossyfs mount):
 *
 *   powerloss_store write DIR FIRST_ID [compact]
 *       opens the store in DIR and puts records from several threads,
 *       printing each acknowledged id on stdout, one line each, until it
 *       is killed (or a bound is reached). Small segments and frequent
 *       index checkpoints, so rolls and checkpoints happen during the
 *       run; with "compact", another thread compacts in a loop and
 *       prints "compacted" after each compaction that swapped.
 *   powerloss_store check DIR ACKED_FILE
 *       opens the store and looks up every id listed in ACKED_FILE;
 *       prints "acked N present P lost L bad B" and exits 1 if any
 *       acknowledged record is missing or differs, or any record present
 *       is not exactly what a producer wrote.
 *
 * Built twice: against tv_store, and against
 * tv_store_unsafe_nosync_for_tests (powerloss_store_nosync), whose writer
 * does not fdatasync: the negative control. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_test_util.h"
#include "vault/store/store.h"

enum {
  WRITER_THREADS = 6,
  IDS_PER_THREAD = 100000, /* a bound: the test kills the writer long before */
  SEGMENT_BYTES = 256 * 1024,
  CHECKPOINT_RECORDS = 3000,
  CHECK_BATCH = 256,
};

typedef struct writer_arg {
  tv_store *s;
  uint64_t first;
} writer_arg;

static void *writer_thread(void *arg) {
  const writer_arg *a = arg;
  for (uint64_t k = 0; k < IDS_PER_THREAD; k++) {
    test_rec t;
    test_rec_make(&t, a->first + k, 1);
    tv_status st = tv_store_put(a->s, &t.put, NULL);
    if (st != TV_OK) {
      fprintf(stderr, "put %llu: %s\n", (unsigned long long)(a->first + k), tv_status_name(st));
      _exit(3);
    }
    /* one short line per write(): atomic on a pipe, never interleaved */
    char line[32];
    int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)(a->first + k));
    if (write(STDOUT_FILENO, line, (size_t)n) != n) {
      _exit(4);
    }
  }
  return NULL;
}

static void *compact_thread(void *arg) {
  tv_store *s = arg;
  for (;;) {
    tv_status st = tv_store_compact(s, NULL, NULL);
    if (st != TV_OK && st != TV_E_STORE_BUSY) {
      fprintf(stderr, "compact: %s\n", tv_status_name(st));
      _exit(5);
    }
    if (st == TV_OK && write(STDOUT_FILENO, "compacted\n", 10) != 10) {
      _exit(4);
    }
    usleep(20 * 1000);
  }
  return NULL;
}

static tv_store *open_store(const char *dir) {
  tv_store_options o = test_store_options(dir, SEGMENT_BYTES);
  o.checkpoint_records = CHECKPOINT_RECORDS;
  tv_store *s;
  tv_store_diag d;
  tv_status st = tv_store_open(NULL, &o, &s, &d);
  if (st != TV_OK) {
    fprintf(stderr, "open %s: %s: %s at %llu: %s\n", dir, tv_status_name(st), d.path, (unsigned long long)d.offset,
            d.message);
    exit(2);
  }
  return s;
}

static int run_writer(const char *dir, uint64_t first, int compact) {
  alarm(120); /* never outlive a crashed test for long */
  tv_store *s = open_store(dir);
  pthread_t th[WRITER_THREADS + 1];
  writer_arg args[WRITER_THREADS];
  for (int i = 0; i < WRITER_THREADS; i++) {
    args[i] = (writer_arg){s, first + (uint64_t)i * IDS_PER_THREAD};
    pthread_create(&th[i], NULL, writer_thread, &args[i]);
  }
  if (compact) {
    pthread_create(&th[WRITER_THREADS], NULL, compact_thread, s);
  }
  for (int i = 0; i < WRITER_THREADS; i++) {
    pthread_join(th[i], NULL);
  }
  _exit(0); /* the bound was reached: fine, the test checks what it got */
}

typedef struct check_state {
  size_t acked, present, bad;
} check_state;

static void check_batch(tv_store *s, const uint64_t *ids, size_t n, check_state *c) {
  test_rec recs[CHECK_BATCH];
  tv_store_key keys[CHECK_BATCH] = {{0}};
  tv_store_item items[CHECK_BATCH];
  tv_store_buf buf = {0};
  for (size_t j = 0; j < n; j++) {
    test_rec_make(&recs[j], ids[j], 1);
    keys[j] = test_rec_key(&recs[j]);
  }
  if (tv_store_get_batch(s, keys, n, items, &buf) != TV_OK) {
    fprintf(stderr, "get_batch failed\n");
    exit(2);
  }
  for (size_t j = 0; j < n; j++) {
    if (items[j].status == TV_OK) {
      c->present++;
      c->bad += !test_put_equal(&items[j].put, &recs[j].put);
    }
  }
  c->acked += n;
  tv_store_buf_cleanup(&buf);
}

/* scan_record: every record present must be exactly what a writer put. */
static tv_status scan_record(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)loc;
  check_state *c = ctx;
  char token[40];
  if (put->token_len < 5 || put->token_len >= sizeof token) {
    c->bad++;
    return TV_OK;
  }
  memcpy(token, put->token, put->token_len);
  token[put->token_len] = '\0';
  test_rec want;
  test_rec_make(&want, strtoull(token + 4, NULL, 10), 1);
  c->bad += !test_put_equal(put, &want.put);
  return TV_OK;
}

static int run_check(const char *dir, const char *acked_path) {
  FILE *f = fopen(acked_path, "r");
  if (f == NULL) {
    fprintf(stderr, "%s: %s\n", acked_path, strerror(errno));
    return 2;
  }
  tv_store *s = open_store(dir);
  check_state c = {0};
  uint64_t ids[CHECK_BATCH];
  size_t n = 0;
  unsigned long long id;
  while (fscanf(f, "%llu", &id) == 1) {
    ids[n++] = id;
    if (n == CHECK_BATCH) {
      check_batch(s, ids, n, &c);
      n = 0;
    }
  }
  fclose(f);
  if (n > 0) {
    check_batch(s, ids, n, &c);
  }
  if (tv_store_scan(s, scan_record, &c) != TV_OK) {
    fprintf(stderr, "scan failed\n");
    return 2;
  }
  tv_store_close(s);
  printf("acked %zu present %zu lost %zu bad %zu\n", c.acked, c.present, c.acked - c.present, c.bad);
  return c.present == c.acked && c.bad == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "write") == 0) {
    return run_writer(argv[2], strtoull(argv[3], NULL, 10), argc >= 5 && strcmp(argv[4], "compact") == 0);
  }
  if (argc == 4 && strcmp(argv[1], "check") == 0) {
    return run_check(argv[2], argv[3]);
  }
  fprintf(stderr, "usage: powerloss_store write DIR FIRST_ID [compact] | check DIR ACKED_FILE\n");
  return 2;
}
