/* Keyring benchmark: what the vault's key custody costs at start-up and
 * during rotations, on a fresh development SoftHSM2 token in a temporary
 * directory.
 *
 *   keyring_bench [--json] [--namespaces N] [--versions V] [--runs R] [--smoke]
 *
 * Cases (each run R times; the median run is reported, with min and max):
 *   keyring_startup     open the keyring: read, HSM MAC check, generation
 *                       check, unwrap every key (N x (2 + V) keys);
 *   data_key_rotation   one tv_keyring_rotate_data_key (new key, wrap, MAC,
 *                       atomic file replace, HSM counter);
 *   kek_rotation        approving a KEK rotation: create the KEK, rewrap
 *                       every key, three durable keyring writes, disable
 *                       the old KEK.
 * Defaults: 10 namespaces x 20 versions, 5 runs. --smoke: 2 x 2, 1 run.
 * --json prints one object per line. */
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsm/dev_init.h"
#include "hsm/hsm.h"
#include "vault/keyring/keyring.h"

#define RUNS_MAX 100

typedef struct bench {
  int json;
  unsigned namespaces;
  unsigned versions;
  unsigned runs;
  char root[PATH_MAX];
  char path[PATH_MAX + 16];
  tv_hsm_dev_token token;
  tv_hsm_config config;
  tv_keyring_options options;
  tv_hsm *hsm;
  tv_keyring *kr;
} bench;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return (x > y) - (x < y);
}

static void report(const bench *b, const char *name, double *ms, unsigned runs) {
  qsort(ms, runs, sizeof *ms, cmp_double);
  unsigned keys = b->namespaces * (2 + b->versions);
  if (b->json) {
    printf("{\"case\":\"%s\",\"namespaces\":%u,\"versions\":%u,\"keys\":%u,\"runs\":%u,"
           "\"median_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f}\n",
           name, b->namespaces, b->versions, keys, runs, ms[runs / 2], ms[0], ms[runs - 1]);
  } else {
    printf("%-20s %u namespaces x %u versions (%u keys): median %.3f ms (min %.3f, max %.3f)\n",
           name, b->namespaces, b->versions, keys, ms[runs / 2], ms[0], ms[runs - 1]);
  }
}

static int fail(const char *what, tv_status status) {
  fprintf(stderr, "keyring_bench: %s: %s: %s %s\n", what, tv_status_name(status),
          tv_status_message(status), tv_hsm_error_detail());
  return 1;
}

#define BENCH_TRY(what, expr)          \
  do {                                 \
    tv_status bench_st_ = (expr);      \
    if (bench_st_ != TV_OK) {          \
      return fail((what), bench_st_);  \
    }                                  \
  } while (0)

static int setup(bench *b) {
  const char *tmp = getenv("TMPDIR");
  snprintf(b->root, sizeof b->root, "%s/tv-keyring-bench-XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(b->root) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  char dir[PATH_MAX + 8];
  snprintf(dir, sizeof dir, "%s/hsm", b->root);
  tv_hsm_dev_options dev = {.dir = dir};
  BENCH_TRY("hsm dev init", tv_hsm_dev_init(&b->token, &dev));
  b->config = (tv_hsm_config){.token_label = b->token.token_label,
                              .pin_kind = TV_HSM_PIN_FILE,
                              .pin_source = b->token.pin_path};
  BENCH_TRY("hsm open", tv_hsm_open(&b->hsm, &b->config));
  snprintf(b->path, sizeof b->path, "%s/keyring", b->root);
  b->options = (tv_keyring_options){
      .path = b->path, .mac_label = b->token.mac_label, .kek_label = b->token.kek_label};
  BENCH_TRY("keyring create", tv_keyring_create(&b->kr, b->hsm, &b->options));
  for (unsigned i = 0; i < b->namespaces; i++) {
    char name[32];
    snprintf(name, sizeof name, "ns%u", i);
    BENCH_TRY("add namespace", tv_keyring_add_namespace(b->kr, name));
    for (unsigned v = 1; v < b->versions; v++) {
      BENCH_TRY("rotate", tv_keyring_rotate_data_key(b->kr, NULL, name));
    }
  }
  return 0;
}

static int bench_startup(bench *b) {
  double ms[RUNS_MAX];
  for (unsigned r = 0; r < b->runs; r++) {
    tv_keyring_free(b->kr);
    b->kr = NULL;
    double start = now_ms();
    BENCH_TRY("keyring open", tv_keyring_open(&b->kr, b->hsm, &b->options));
    ms[r] = now_ms() - start;
  }
  report(b, "keyring_startup", ms, b->runs);
  return 0;
}

/* Rotates a namespace of its own, so the measured keyring keeps its shape
 * (N x V plus this one). */
static int bench_rotation(bench *b) {
  BENCH_TRY("add namespace", tv_keyring_add_namespace(b->kr, "bench-rotation"));
  double ms[RUNS_MAX];
  for (unsigned r = 0; r < b->runs; r++) {
    double start = now_ms();
    BENCH_TRY("rotate", tv_keyring_rotate_data_key(b->kr, NULL, "bench-rotation"));
    ms[r] = now_ms() - start;
  }
  report(b, "data_key_rotation", ms, b->runs);
  return 0;
}

static int bench_kek_rotation(bench *b) {
  double ms[RUNS_MAX];
  for (unsigned r = 0; r < b->runs; r++) {
    char old_label[TV_HSM_LABEL_MAX + 1];
    BENCH_TRY("kek label", tv_keyring_kek_label(b->kr, old_label));
    tv_keyring_proposal p = {.action = TV_KEYRING_ROTATE_KEK};
    snprintf(p.label, sizeof p.label, "bench-kek-%u", r);
    uint64_t id = 0;
    BENCH_TRY("propose", tv_keyring_propose(b->kr, &id, &p, "officer-a", 1000));
    double start = now_ms();
    BENCH_TRY("approve", tv_keyring_approve(b->kr, id, "officer-b", 1001));
    ms[r] = now_ms() - start;
    /* Not timed: officers destroy the retired KEK later. */
    tv_keyring_proposal d = {.action = TV_KEYRING_DESTROY_OLD_KEK};
    snprintf(d.label, sizeof d.label, "%s", old_label);
    BENCH_TRY("propose destroy", tv_keyring_propose(b->kr, &id, &d, "officer-a", 1002));
    BENCH_TRY("approve destroy", tv_keyring_approve(b->kr, id, "officer-b", 1003));
  }
  report(b, "kek_rotation", ms, b->runs);
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
    const char *a = argv[i];
    int has_value = i + 1 < argc;
    if (strcmp(a, "--json") == 0) {
      b->json = 1;
    } else if (strcmp(a, "--smoke") == 0) {
      b->namespaces = 2;
      b->versions = 2;
      b->runs = 1;
    } else if (has_value && strcmp(a, "--namespaces") == 0) {
      b->namespaces = (unsigned)strtoul(argv[++i], NULL, 10);
    } else if (has_value && strcmp(a, "--versions") == 0) {
      b->versions = (unsigned)strtoul(argv[++i], NULL, 10);
    } else if (has_value && strcmp(a, "--runs") == 0) {
      b->runs = (unsigned)strtoul(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "usage: keyring_bench [--json] [--namespaces N] [--versions V] "
                      "[--runs R] [--smoke]\n");
      return 2;
    }
  }
  if (b->namespaces < 1 || b->namespaces > 100 || b->versions < 1 ||
      b->versions > TV_KEYRING_VERSIONS_MAX - 1 || b->runs < 1 || b->runs > RUNS_MAX) {
    fprintf(stderr, "keyring_bench: namespaces 1..100, versions 1..%d, runs 1..%d\n",
            TV_KEYRING_VERSIONS_MAX - 1, RUNS_MAX);
    return 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  static bench b = {.namespaces = 10, .versions = 20, .runs = 5};
  int rc = parse_args(&b, argc, argv);
  if (rc != 0) {
    return rc;
  }
  rc = setup(&b);
  if (rc == 0) {
    rc = bench_startup(&b);
  }
  if (rc == 0) {
    rc = bench_rotation(&b);
  }
  if (rc == 0) {
    rc = bench_kek_rotation(&b);
  }
  tv_keyring_free(b.kr);
  tv_hsm_free(b.hsm);
  if (b.root[0] != '\0') {
    nftw(b.root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
  return rc;
}
