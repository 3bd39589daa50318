/* New tokens per (principal, namespace, kept-characters group) per UTC
 * day, in bounded memory.
 *
 * A count-min sketch: POLICY_GROUP_METER_ROWS rows of
 * POLICY_GROUP_METER_WIDTH counters; a key adds to one counter per row
 * (a different hash per row) and its count is the smallest of them.
 * Other keys can only add to a counter, so a count is never below the
 * truth: a collision makes a group stricter, never looser. Memory is
 * fixed (8 MiB) however many principals and groups a day brings; the
 * price is that a very busy day raises every count a little: with N new
 * tokens in metered namespaces that day, each counter carries about
 * N / 2^20 of others' tokens, so a group's limit of 100 is reached early
 * only when both its counters carry ~100 others' (Poisson tails: below
 * 1e-20 per item up to N = 50 million a day, 10% at 100 million).
 *
 * The hashes are seeded from the CSPRNG at start, so a caller cannot
 * pick values whose counters collide with another principal's groups.
 * The counters are cleared when the UTC day changes (the day is the
 * window: one day's counts are all the meter keeps). Keys are hashed,
 * never stored: no kept characters stay in memory. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "vault/policy/policy.h"

#define GROUP_MS_PER_DAY UINT64_C(86400000)

struct policy_group_meter {
  pthread_mutex_t lock;
  policy_clock_fn clock;
  void *clock_ctx;
  uint64_t seeds[POLICY_GROUP_METER_ROWS];
  uint32_t day;
  uint32_t *counters; /* ROWS x WIDTH */
};

static uint64_t realtime_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t policy_group_limit_default(uint64_t candidates, unsigned kept_chars) {
  if (kept_chars == 0 || candidates >= POLICY_GROUP_SPACE_MAX) {
    return 0;
  }
  uint64_t share = candidates / POLICY_GROUP_SPACE_DIVISOR;
  return share > POLICY_GROUP_LIMIT_FLOOR ? share : POLICY_GROUP_LIMIT_FLOOR;
}

uint64_t policy_group_limit_effective(uint64_t configured, uint64_t candidates, unsigned kept_chars) {
  if (configured == POLICY_GROUP_LIMIT_AUTO) {
    return policy_group_limit_default(candidates, kept_chars);
  }
  return kept_chars == 0 ? 0 : configured;
}

tv_status policy_group_meter_new(policy_clock_fn unix_clock, void *clock_ctx,
                                 policy_group_meter **out_meter) {
  TV_ENSURE(out_meter != NULL, TV_E_INVALID_ARGUMENT);
  policy_group_meter *m = calloc(1, sizeof *m);
  TV_ENSURE(m != NULL, TV_E_NO_MEMORY);
  size_t bytes = (size_t)POLICY_GROUP_METER_ROWS * POLICY_GROUP_METER_WIDTH * sizeof *m->counters;
  m->counters = malloc(bytes);
  int seeded = getrandom(m->seeds, sizeof m->seeds, 0) == (ssize_t)sizeof m->seeds;
  if (m->counters == NULL || !seeded || pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m->counters);
    free(m);
    return TV_E_NO_MEMORY;
  }
  /* Touched now, not page by page under load: the process's memory is
   * what it will be from the start (a soak's RSS stays flat). */
  memset(m->counters, 0, bytes);
  m->clock = unix_clock != NULL ? unix_clock : realtime_ms;
  m->clock_ctx = clock_ctx;
  m->day = (uint32_t)(m->clock(m->clock_ctx) / GROUP_MS_PER_DAY);
  *out_meter = m;
  return TV_OK;
}

void policy_group_meter_free(policy_group_meter *meter) {
  if (meter == NULL) {
    return;
  }
  pthread_mutex_destroy(&meter->lock);
  free(meter->counters);
  free(meter);
}

static uint64_t mix_bytes(uint64_t h, const void *bytes, size_t len) {
  const uint8_t *p = bytes;
  for (size_t i = 0; i < len; i++) {
    h = (h ^ p[i]) * 0x100000001b3ull;
  }
  return h * 0x100000001b3ull; /* the end of a field: "ab"+"c" != "a"+"bc" */
}

/* Seeded FNV-1a over the three fields, then the splitmix64 finaliser so
 * every output bit depends on every input bit. */
static size_t counter_index(const policy_group_meter *m, unsigned row, const char *principal,
                            const char *ns, const char *group, size_t group_len) {
  uint64_t h = m->seeds[row] ^ 0xcbf29ce484222325ull;
  h = mix_bytes(h, principal, strlen(principal));
  h = mix_bytes(h, ns, strlen(ns));
  h = mix_bytes(h, group, group_len);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return (size_t)row * POLICY_GROUP_METER_WIDTH + (size_t)(h % POLICY_GROUP_METER_WIDTH);
}

/* Moves the meter to today, clearing yesterday's counts. Lock held. */
static uint32_t roll_day(policy_group_meter *m) {
  uint32_t today = (uint32_t)(m->clock(m->clock_ctx) / GROUP_MS_PER_DAY);
  if (today != m->day) {
    memset(m->counters, 0, (size_t)POLICY_GROUP_METER_ROWS * POLICY_GROUP_METER_WIDTH * sizeof *m->counters);
    m->day = today;
  }
  return today;
}

tv_status policy_group_meter_take(policy_group_meter *meter, const char *principal, const char *ns,
                                  const char *group, size_t group_len, uint64_t limit,
                                  uint32_t *out_day) {
  assert(meter != NULL && principal != NULL && ns != NULL && out_day != NULL);
  assert(group != NULL || group_len == 0);
  size_t idx[POLICY_GROUP_METER_ROWS];
  for (unsigned r = 0; r < POLICY_GROUP_METER_ROWS; r++) {
    idx[r] = counter_index(meter, r, principal, ns, group, group_len);
    /* The counters are 8 MiB of random slots: start each cache miss
     * before the lock rather than under it. */
    __builtin_prefetch(&meter->counters[idx[r]], 1);
  }
  tv_status status = TV_OK;
  pthread_mutex_lock(&meter->lock);
  *out_day = roll_day(meter);
  uint64_t count = UINT32_MAX;
  for (unsigned r = 0; r < POLICY_GROUP_METER_ROWS; r++) {
    count = meter->counters[idx[r]] < count ? meter->counters[idx[r]] : count;
  }
  if (count >= limit || count >= UINT32_MAX - 1u) {
    status = TV_E_POLICY_NEW_TOKEN_LIMIT;
  } else {
    for (unsigned r = 0; r < POLICY_GROUP_METER_ROWS; r++) {
      if (meter->counters[idx[r]] < UINT32_MAX) {
        meter->counters[idx[r]]++;
      }
    }
  }
  pthread_mutex_unlock(&meter->lock);
  return status;
}

void policy_group_meter_give_back(policy_group_meter *meter, const char *principal, const char *ns,
                                  const char *group, size_t group_len, uint32_t day) {
  assert(meter != NULL && principal != NULL && ns != NULL);
  assert(group != NULL || group_len == 0);
  size_t idx[POLICY_GROUP_METER_ROWS];
  for (unsigned r = 0; r < POLICY_GROUP_METER_ROWS; r++) {
    idx[r] = counter_index(meter, r, principal, ns, group, group_len);
  }
  pthread_mutex_lock(&meter->lock);
  if (day == roll_day(meter)) {
    for (unsigned r = 0; r < POLICY_GROUP_METER_ROWS; r++) {
      /* Every take added one here, so the counter is at least 1; a
       * saturated counter stays saturated (it no longer knows its count). */
      if (meter->counters[idx[r]] > 0 && meter->counters[idx[r]] < UINT32_MAX) {
        meter->counters[idx[r]]--;
      }
    }
  }
  pthread_mutex_unlock(&meter->lock);
}
