/* ff1_bench — FF1 speed per implementation, single calls and batches.
 *
 *   ff1_bench [--json] [--seconds S]
 *
 * Every case uses AES-256. Each figure is the median of five timed runs.
 * The same run also times ten dependent AES-256 block encryptions (the
 * serial latency floor of one FF1 call) so results can be read as ratios,
 * which survive a noisy machine better than absolute times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <immintrin.h>
#include <openssl/rand.h>

#include "vault/crypto/ff1.h"

#define INPUTS 1024u
#define REPS 5u
#define TWEAK_BYTES 8u

typedef struct bench_case {
  const char *name;
  unsigned radix;
  size_t length;
} bench_case;

static const bench_case cases[] = {
    {"pan16_keep6_4", 10, 6},   /* the middle six digits of a 16-digit PAN */
    {"pan16_full", 10, 16},     /* all sixteen digits */
    {"iban_de_account", 10, 10}, /* the ten-digit account part of a DE IBAN */
    {"base36_20", 36, 20},      /* a 20-character customer reference */
};

typedef struct workload {
  uint8_t in[INPUTS][32];
  uint8_t out[INPUTS][32];
  uint8_t tweak[INPUTS][TWEAK_BYTES];
  ff1_batch_item items[INPUTS];
} workload;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void fill_workload(workload *w, const bench_case *c) {
  if (RAND_bytes((uint8_t *)w->tweak, sizeof w->tweak) != 1 ||
      RAND_bytes((uint8_t *)w->in, sizeof w->in) != 1) {
    fprintf(stderr, "ff1_bench: RAND_bytes failed\n");
    exit(1);
  }
  for (size_t i = 0; i < INPUTS; i++) {
    for (size_t j = 0; j < c->length; j++) {
      w->in[i][j] = (uint8_t)(w->in[i][j] % c->radix);
    }
    w->items[i] = (ff1_batch_item){w->tweak[i], TWEAK_BYTES, w->in[i], w->out[i], c->length, TV_OK};
  }
}

/* Runs |op| over the workload until |seconds| pass; returns ns per item. */
static double time_once(const ff1_key *key, const bench_case *c, workload *w, int batch,
                        double seconds) {
  size_t done = 0;
  double start = now_s(), elapsed = 0;
  do {
    if (batch) {
      if (ff1_encrypt_batch(key, c->radix, w->items, INPUTS) != TV_OK) {
        fprintf(stderr, "ff1_bench: batch failed\n");
        exit(1);
      }
    } else {
      for (size_t i = 0; i < INPUTS; i++) {
        if (ff1_encrypt(key, c->radix, w->tweak[i], TWEAK_BYTES, w->in[i], c->length,
                        w->out[i]) != TV_OK) {
          fprintf(stderr, "ff1_bench: encrypt failed\n");
          exit(1);
        }
      }
    }
    done += INPUTS;
    elapsed = now_s() - start;
  } while (elapsed < seconds);
  return elapsed * 1e9 / (double)done;
}

static double time_median(const ff1_key *key, const bench_case *c, workload *w, int batch,
                          double seconds) {
  double runs[REPS];
  for (size_t r = 0; r < REPS; r++) {
    runs[r] = time_once(key, c, w, batch, seconds);
  }
  qsort(runs, REPS, sizeof runs[0], cmp_double);
  return runs[REPS / 2];
}

/* Ten dependent AES-256 block encryptions with AES-NI: the serial latency
 * floor of one FF1 call, which chains at least ten of them. Only the
 * ratio to it means much on a shared machine. */
__attribute__((target("aes,sse2"))) static double time_aes_chain_floor(double seconds) {
  __m128i rk[15];
  for (int i = 0; i < 15; i++) {
    rk[i] = _mm_set1_epi32(0x01020304 * (i + 1));
  }
  __m128i x = _mm_set1_epi32(7);
  double runs[REPS];
  for (size_t r = 0; r < REPS; r++) {
    size_t done = 0;
    double start = now_s(), elapsed;
    do {
      for (int i = 0; i < 10000; i++) {
        for (int k = 0; k < 10; k++) {
          x = _mm_xor_si128(x, rk[0]);
          for (int j = 1; j < 14; j++) {
            x = _mm_aesenc_si128(x, rk[j]);
          }
          x = _mm_aesenclast_si128(x, rk[14]);
        }
      }
      done += 10000;
      elapsed = now_s() - start;
    } while (elapsed < seconds);
    runs[r] = elapsed * 1e9 / (double)done;
  }
  volatile int sink = _mm_cvtsi128_si32(x);
  (void)sink;
  qsort(runs, REPS, sizeof runs[0], cmp_double);
  return runs[REPS / 2];
}

static void report(int json, const char *name, const char *impl, const char *mode, double ns,
                   double ratio_name_value) {
  if (json) {
    printf("{\"case\":\"%s\",\"impl\":\"%s\",\"mode\":\"%s\",\"ns_per_op\":%.1f,"
           "\"ops_per_s\":%.0f,\"speedup_vs_openssl_single\":%.2f}\n",
           name, impl, mode, ns, 1e9 / ns, ratio_name_value);
  } else {
    printf("%-18s %-8s %-7s %9.1f ns/op %12.0f ops/s  %6.2fx vs openssl single\n", name, impl,
           mode, ns, 1e9 / ns, ratio_name_value);
  }
}

int main(int argc, char **argv) {
  int json = 0;
  double seconds = 0.2;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = atof(argv[++i]);
    } else {
      fprintf(stderr, "usage: ff1_bench [--json] [--seconds S]\n");
      return 2;
    }
  }
  uint8_t raw_key[32];
  if (RAND_bytes(raw_key, sizeof raw_key) != 1) {
    return 1;
  }
  static workload w;
  double floor_ns = time_aes_chain_floor(seconds);
  if (json) {
    printf("{\"case\":\"aes256_10_dependent_blocks\",\"impl\":\"aesni\",\"mode\":\"floor\","
           "\"ns_per_op\":%.1f,\"ops_per_s\":%.0f}\n", floor_ns, 1e9 / floor_ns);
  } else {
    printf("floor: 10 dependent AES-256 blocks (AES-NI) %.1f ns\n", floor_ns);
  }
  static const ff1_impl impls[] = {FF1_IMPL_OPENSSL, FF1_IMPL_AESNI, FF1_IMPL_VAES};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    fill_workload(&w, &cases[c]);
    double base = 0;
    for (size_t m = 0; m < sizeof impls / sizeof impls[0]; m++) {
      ff1_key *key = NULL;
      if (!ff1_impl_available(impls[m])) {
        continue;
      }
      if (ff1_key_new(&key, impls[m], raw_key, 32) != TV_OK) {
        return 1;
      }
      double single = time_median(key, &cases[c], &w, 0, seconds);
      if (base == 0) {
        base = single; /* the OpenSSL single call, first in the list */
      }
      report(json, cases[c].name, ff1_impl_name(impls[m]), "single", single, base / single);
      double batch = time_median(key, &cases[c], &w, 1, seconds);
      report(json, cases[c].name, ff1_impl_name(impls[m]), "batch", batch, base / batch);
      ff1_key_free(key);
    }
  }
  return 0;
}
