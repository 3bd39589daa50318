/* HSM benchmark: what key custody costs through a PKCS#11 module
 * (SoftHSM2 by default), on a fresh development token in a temporary
 * directory.
 *
 *   hsm_bench [--json] [--ops N] [--module PATH]
 *
 * Cases: wrap and unwrap latency of one 32-byte data key (median, p99 over
 * N operations); start-up: open + login + unwrap the 200 data keys of 10
 * namespaces x 20 versions; KEK rotation: rewrap those 200 keys under a new
 * KEK: create the KEK, wrap the 200 in-memory keys under it, disable the old
 * one (kek_rotation_total_200), and, for a cold keyring, 200 rewraps from
 * the old blobs (kek_rotation_rewrap_200). For the start-up and
 * rotation cases each sample is one whole run of 200 keys (5 runs), and
 * total_ms is the median run. --json prints one object per line. */
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsm/dev_init.h"
#include "hsm/hsm.h"

#define KEYS_STARTUP 200 /* 10 namespaces x 20 key versions */
#define REPEATS 5        /* start-up and rotation are repeated, median kept */
#define OPS_MAX 1000000

typedef struct bench {
  int json;
  unsigned ops;
  const char *module;
  tv_hsm_dev_token token;
  tv_hsm_config config;
  tv_hsm *hsm;
} bench;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void report(const bench *b, const char *name, unsigned ops, double *samples_us,
                   unsigned samples, double total_ms) {
  qsort(samples_us, samples, sizeof *samples_us, cmp_double);
  double median = samples_us[samples / 2];
  if (total_ms < 0) { /* repeated whole runs: the typical run's total */
    total_ms = median / 1e3;
  }
  double p99 = samples_us[(size_t)((double)(samples - 1) * 0.99)];
  if (b->json) {
    printf("{\"case\":\"%s\",\"ops\":%u,\"samples\":%u,\"median_us\":%.1f,\"p99_us\":%.1f,"
           "\"total_ms\":%.2f,\"module\":\"%s\"}\n",
           name, ops, samples, median, p99, total_ms, b->module);
  } else {
    printf("%-22s ops %-6u median %9.1f us   p99 %9.1f us   total %9.2f ms\n", name, ops, median,
           p99, total_ms);
  }
}

static void check(tv_status status, const char *what) {
  if (status != TV_OK) {
    fprintf(stderr, "hsm_bench: %s: %s (%s)\n", what, tv_status_message(status),
            tv_hsm_error_detail());
    exit(1);
  }
}

static void fill(uint8_t *key, size_t len, unsigned seed) {
  for (size_t i = 0; i < len; i++) {
    key[i] = (uint8_t)(seed * 131u + i * 7u);
  }
}

static void bench_wrap_unwrap(bench *b) {
  double *wrap_us = calloc(b->ops, sizeof *wrap_us);
  double *unwrap_us = calloc(b->ops, sizeof *unwrap_us);
  if (wrap_us == NULL || unwrap_us == NULL) {
    exit(1);
  }
  uint8_t key[32], blob[TV_HSM_WRAPPED_MAX], out[TV_HSM_DATA_KEY_MAX];
  size_t blob_len = 0, out_len = 0;
  double wrap_total = 0, unwrap_total = 0;
  for (unsigned i = 0; i < b->ops; i++) {
    fill(key, sizeof key, i);
    double t0 = now_us();
    check(tv_hsm_wrap(b->hsm, blob, &blob_len, sizeof blob, b->token.kek_label, key, 32), "wrap");
    double t1 = now_us();
    check(tv_hsm_unwrap(b->hsm, out, &out_len, sizeof out, b->token.kek_label, blob, blob_len),
          "unwrap");
    double t2 = now_us();
    if (out_len != 32 || memcmp(out, key, 32) != 0) {
      fprintf(stderr, "hsm_bench: unwrap returned a different key\n");
      exit(1);
    }
    wrap_us[i] = t1 - t0;
    unwrap_us[i] = t2 - t1;
    wrap_total += wrap_us[i];
    unwrap_total += unwrap_us[i];
  }
  report(b, "wrap", b->ops, wrap_us, b->ops, wrap_total / 1e3);
  report(b, "unwrap", b->ops, unwrap_us, b->ops, unwrap_total / 1e3);
  free(wrap_us);
  free(unwrap_us);
}

typedef struct keyring {
  uint8_t blob[KEYS_STARTUP][TV_HSM_WRAPPED_MAX];
  size_t blob_len[KEYS_STARTUP];
} keyring;

static void bench_startup(bench *b, keyring *ring) {
  for (unsigned k = 0; k < KEYS_STARTUP; k++) {
    uint8_t key[32];
    fill(key, sizeof key, 7000 + k);
    check(tv_hsm_wrap(b->hsm, ring->blob[k], &ring->blob_len[k], TV_HSM_WRAPPED_MAX,
                      b->token.kek_label, key, 32),
          "wrap");
  }
  double open_unwrap_ms[REPEATS], unwrap_ms[REPEATS];
  for (unsigned r = 0; r < REPEATS; r++) {
    double t0 = now_us();
    tv_hsm *hsm = NULL;
    check(tv_hsm_open(&hsm, &b->config), "open");
    double t1 = now_us();
    for (unsigned k = 0; k < KEYS_STARTUP; k++) {
      uint8_t out[TV_HSM_DATA_KEY_MAX];
      size_t out_len = 0;
      check(tv_hsm_unwrap(hsm, out, &out_len, sizeof out, b->token.kek_label, ring->blob[k],
                          ring->blob_len[k]),
            "unwrap");
    }
    double t2 = now_us();
    tv_hsm_free(hsm);
    open_unwrap_ms[r] = (t2 - t0) / 1e3;
    unwrap_ms[r] = (t2 - t1) / 1e3;
  }
  /* Per-repeat figures in ms: samples are whole start-ups. */
  double us[REPEATS];
  for (unsigned r = 0; r < REPEATS; r++) {
    us[r] = unwrap_ms[r] * 1e3;
  }
  report(b, "startup_unwrap_200", KEYS_STARTUP, us, REPEATS, -1);
  for (unsigned r = 0; r < REPEATS; r++) {
    us[r] = open_unwrap_ms[r] * 1e3;
  }
  report(b, "startup_open_unwrap_200", KEYS_STARTUP, us, REPEATS, -1);
}

/* A rotation as the keyring runs it: the data keys are in host memory
 * already (unwrapped at start-up), so it creates a KEK, wraps every key
 * under it and disables the old KEK. Rewrapping from the blobs (unwrap
 * under the old KEK, wrap under the new) is measured too, for a cold
 * rotation of a keyring file that is not loaded. */
static void bench_rotation(bench *b, keyring *ring) {
  double create_us[REPEATS], wrap_us[REPEATS], rewrap_us[REPEATS], rotation_us[REPEATS];
  const char *old_label = b->token.kek_label;
  char labels[REPEATS][32];
  for (unsigned r = 0; r < REPEATS; r++) {
    snprintf(labels[r], sizeof labels[r], "bench-kek-%u", r + 2);
    double t0 = now_us();
    check(tv_hsm_kek_create(b->hsm, labels[r]), "create KEK");
    double t1 = now_us();
    for (unsigned k = 0; k < KEYS_STARTUP; k++) {
      uint8_t key[32], out[TV_HSM_WRAPPED_MAX];
      size_t out_len = 0;
      fill(key, sizeof key, 7000 + k);
      check(tv_hsm_wrap(b->hsm, out, &out_len, sizeof out, labels[r], key, 32), "wrap");
    }
    double t2 = now_us();
    check(tv_hsm_kek_disable(b->hsm, old_label), "disable KEK");
    double t3 = now_us();
    check(tv_hsm_kek_enable(b->hsm, old_label), "enable KEK"); /* for the rewrap below */
    double t4 = now_us();
    for (unsigned k = 0; k < KEYS_STARTUP; k++) {
      uint8_t out[TV_HSM_WRAPPED_MAX];
      size_t out_len = 0;
      check(tv_hsm_rewrap(b->hsm, out, &out_len, sizeof out, labels[r], old_label, ring->blob[k],
                          ring->blob_len[k]),
            "rewrap");
      memcpy(ring->blob[k], out, out_len);
      ring->blob_len[k] = out_len;
    }
    double t5 = now_us();
    check(tv_hsm_kek_disable(b->hsm, old_label), "disable KEK");
    create_us[r] = t1 - t0;
    wrap_us[r] = t2 - t1;
    rotation_us[r] = t3 - t0;
    rewrap_us[r] = t5 - t4;
    old_label = labels[r];
  }
  report(b, "kek_create", 1, create_us, REPEATS, -1);
  report(b, "kek_rotation_wrap_200", KEYS_STARTUP, wrap_us, REPEATS, -1);
  report(b, "kek_rotation_total_200", KEYS_STARTUP, rotation_us, REPEATS, -1);
  report(b, "kek_rotation_rewrap_200", KEYS_STARTUP, rewrap_us, REPEATS, -1);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int parse_args(bench *b, int argc, char **argv) {
  b->ops = 2000;
  b->module = TV_HSM_DEFAULT_MODULE;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      b->json = 1;
    } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
      char *end = NULL;
      unsigned long ops = strtoul(argv[++i], &end, 10);
      if (*end != '\0' || ops < 1 || ops > OPS_MAX) {
        fprintf(stderr, "hsm_bench: --ops must be 1..%d\n", OPS_MAX);
        return 2;
      }
      b->ops = (unsigned)ops;
    } else if (strcmp(argv[i], "--module") == 0 && i + 1 < argc) {
      b->module = argv[++i];
    } else {
      fprintf(stderr, "usage: hsm_bench [--json] [--ops N] [--module PATH]\n");
      return 2;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  static bench b;
  int rc = parse_args(&b, argc, argv);
  if (rc != 0) {
    return rc;
  }
  const char *tmp = getenv("TMPDIR");
  char root[PATH_MAX];
  snprintf(root, sizeof root, "%s/tv-hsm-bench-XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
  if (mkdtemp(root) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  char dir[PATH_MAX + 8];
  snprintf(dir, sizeof dir, "%s/hsm", root);
  tv_hsm_dev_options options = {.dir = dir, .module_path = b.module};
  check(tv_hsm_dev_init(&b.token, &options), "dev init");
  b.config = (tv_hsm_config){.module_path = b.module, .token_label = b.token.token_label,
                             .pin_kind = TV_HSM_PIN_FILE, .pin_source = b.token.pin_path};
  check(tv_hsm_open(&b.hsm, &b.config), "open");
  bench_wrap_unwrap(&b);
  static keyring ring;
  bench_startup(&b, &ring);
  bench_rotation(&b, &ring);
  tv_hsm_free(b.hsm);
  nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
