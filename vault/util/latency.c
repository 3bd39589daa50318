#include "vault/util/latency.h"

/* 50 us (a cached write) to 2 s (a stalled disk). */
const uint64_t tv_latency_bounds_us[TV_LATENCY_BUCKETS_COUNT] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 500000, 2000000,
};

size_t tv_latency_bucket(uint64_t us) {
  size_t b = 0;
  while (b < TV_LATENCY_BUCKETS_COUNT && us > tv_latency_bounds_us[b]) {
    b++;
  }
  return b;
}
