/* Audit log benchmark: durable appends per second (each acknowledged only
 * after its fdatasync) with 1, 16 and 64 producer threads, the entries
 * each fdatasync carried (group commit), and, measured in the same run on
 * the same directory, the disk's plain fdatasync rate (one 256-byte write +
 * fdatasync per operation), so the ratio shows what batching buys. The
 * disk may be shared, so the plain rate is measured again right before
 * each case, and each ratio uses the measurement next to it.
 *
 *   audit_bench [--json] [--seconds S] [--dir DIR] [--smoke]
 *
 * The log and a development SoftHSM2 token (for the checkpoint MACs, every
 * 1000 entries, and the HSM counter) live in a fresh temporary directory
 * under DIR (default $TMPDIR or /tmp), removed at the end. --smoke runs
 * each case for 0.1 s (a check that the benchmark works, not a figure).
 * --json prints one object per line. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hsm/dev_init.h"
#include "hsm/hsm.h"
#include "vault/audit/audit.h"

#define THREADS_MAX 64

typedef struct bench {
  int json;
  double seconds;
  const char *base;
  char root[PATH_MAX];
  tv_hsm *hsm;
  double fdatasync_per_s;
} bench;

typedef struct producer {
  tv_audit_log *log;
  const volatile int *stop;
  uint64_t appended;
  int failed;
} producer;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The disk's own rate: what one durable write costs without batching. */
static int measure_fdatasync(bench *b, unsigned before_threads) {
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/fdatasync.probe", b->root);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return -1;
  }
  char record[256];
  memset(record, 'a', sizeof record);
  uint64_t ops = 0;
  double start = now_s(), end = start;
  while (end - start < b->seconds) {
    if (pwrite(fd, record, sizeof record, (off_t)(ops * sizeof record)) != (ssize_t)sizeof record ||
        fdatasync(fd) != 0) {
      close(fd);
      return -1;
    }
    ops++;
    end = now_s();
  }
  close(fd);
  unlink(path);
  b->fdatasync_per_s = (double)ops / (end - start);
  if (b->json) {
    printf("{\"case\":\"plain_fdatasync\",\"before_threads\":%u,\"ops\":%llu,\"seconds\":%.3f,"
           "\"ops_per_s\":%.0f}\n",
           before_threads, (unsigned long long)ops, end - start, b->fdatasync_per_s);
  } else {
    printf("plain fdatasync    %10.0f ops/s     (256-byte pwrite + fdatasync, %llu ops)\n",
           b->fdatasync_per_s, (unsigned long long)ops);
  }
  return 0;
}

static void *produce(void *arg) {
  producer *p = arg;
  tv_audit_entry e = {.type = TV_AUDIT_CALL, .principal = "spiffe://crm.example/app",
                      .peer = "ipv4:10.1.2.3:51234", .method = "Detokenize", .ns = "pan",
                      .items = 100, .outcome = "OK", .latency_us = 850,
                      .request_id = "5b0c2f1e-8d2a-4a53-9a8e-0f3c1d2e4b6a"};
  while (!*p->stop) {
    uint64_t seq = 0;
    if (tv_audit_append(p->log, &seq, &e) != TV_OK) {
      p->failed = 1;
      return NULL;
    }
    p->appended++;
  }
  return NULL;
}

static int run_case(bench *b, unsigned threads) {
  char dir[PATH_MAX + 32];
  snprintf(dir, sizeof dir, "%s/log-%u", b->root, threads);
  tv_audit_config config = {.dir = dir, .hsm = b->hsm};
  tv_audit_log *log = NULL;
  tv_status status = tv_audit_open(&log, &config);
  if (status != TV_OK) {
    fprintf(stderr, "audit_bench: open: %s\n", tv_status_message(status));
    return -1;
  }
  static producer producers[THREADS_MAX];
  pthread_t ids[THREADS_MAX];
  volatile int stop = 0;
  double start = now_s();
  for (unsigned t = 0; t < threads; t++) {
    producers[t] = (producer){.log = log, .stop = &stop};
    pthread_create(&ids[t], NULL, produce, &producers[t]);
  }
  struct timespec nap = {(time_t)b->seconds,
                         (long)((b->seconds - (double)(time_t)b->seconds) * 1e9)};
  nanosleep(&nap, NULL);
  stop = 1;
  uint64_t total = 0;
  int failed = 0;
  for (unsigned t = 0; t < threads; t++) {
    pthread_join(ids[t], NULL);
    total += producers[t].appended;
    failed |= producers[t].failed;
  }
  double elapsed = now_s() - start;
  tv_audit_stats stats;
  tv_audit_stats_get(log, &stats);
  status = tv_audit_close(log);
  if (failed || status != TV_OK) {
    fprintf(stderr, "audit_bench: an append or the final checkpoint failed\n");
    return -1;
  }
  double per_s = (double)total / elapsed;
  double per_sync = stats.syncs > 0 ? (double)stats.entries / (double)stats.syncs : 0.0;
  double ratio = b->fdatasync_per_s > 0 ? per_s / b->fdatasync_per_s : 0.0;
  if (b->json) {
    printf("{\"case\":\"durable_append\",\"threads\":%u,\"entries\":%llu,\"seconds\":%.3f,"
           "\"entries_per_s\":%.0f,\"entries_per_fdatasync\":%.1f,\"checkpoints\":%llu,"
           "\"ratio_to_plain_fdatasync\":%.2f}\n",
           threads, (unsigned long long)total, elapsed, per_s, per_sync,
           (unsigned long long)stats.checkpoints, ratio);
  } else {
    printf("%2u producer(s)     %10.0f entries/s   %6.1f entries/fdatasync   %5.2fx plain "
           "fdatasync   (%llu entries, %llu checkpoints)\n",
           threads, per_s, per_sync, ratio, (unsigned long long)total,
           (unsigned long long)stats.checkpoints);
  }
  return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int parse_args(bench *b, int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      b->json = 1;
    } else if (strcmp(argv[i], "--smoke") == 0) {
      b->seconds = 0.1;
    } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      b->seconds = atof(argv[++i]);
    } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      b->base = argv[++i];
    } else {
      return -1;
    }
  }
  return b->seconds > 0 && b->seconds <= 600 ? 0 : -1;
}

static int open_hsm(bench *b) {
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/hsm", b->root);
  tv_hsm_dev_options options = {.dir = dir};
  tv_hsm_dev_token token;
  tv_status status = tv_hsm_dev_init(&token, &options);
  if (status == TV_OK) {
    tv_hsm_config config = {.token_label = token.token_label, .pin_kind = TV_HSM_PIN_FILE,
                            .pin_source = token.pin_path};
    status = tv_hsm_open(&b->hsm, &config);
  }
  if (status != TV_OK) {
    fprintf(stderr, "audit_bench: HSM: %s (%s)\n", tv_status_message(status),
            tv_hsm_error_detail());
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  bench b = {.seconds = 2.0};
  const char *tmp = getenv("TMPDIR");
  b.base = tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp";
  if (parse_args(&b, argc, argv) != 0) {
    fprintf(stderr, "usage: audit_bench [--json] [--seconds S] [--dir DIR] [--smoke]\n");
    return 2;
  }
  snprintf(b.root, sizeof b.root, "%s/tv-audit-bench-XXXXXX", b.base);
  if (mkdtemp(b.root) == NULL) {
    perror("audit_bench: mkdtemp");
    return 1;
  }
  static const unsigned cases[] = {1, 16, 64};
  int rc = open_hsm(&b) == 0 ? 0 : 1;
  for (size_t i = 0; rc == 0 && i < sizeof cases / sizeof cases[0]; i++) {
    rc = measure_fdatasync(&b, cases[i]) == 0 && run_case(&b, cases[i]) == 0 ? 0 : 1;
  }
  tv_hsm_free(b.hsm);
  nftw(b.root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return rc;
}
