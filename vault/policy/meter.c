/* Reveal (and tokenize) counters: a token bucket per (kind, principal, role), refilled
 * continuously at the role's per-minute rate, holding at most one minute's
 * worth. Integer arithmetic in 1/60000ths of a reveal, so each millisecond
 * adds exactly |per_minute| units and no rounding ever grants an extra
 * value. One mutex: a check holds it for a hash probe and a few adds. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/policy/policy.h"
#include "vault/policy/policy_internal.h"

#define METER_MS_PER_MINUTE 60000u
/* A per-minute rate above this could overflow the scaled level; no role
 * needs more than ten billion reveals a minute. */
#define METER_RATE_MAX 10000000000ull

typedef struct meter_slot {
  uint64_t key; /* 0: free */
  uint64_t level; /* scaled reveals available */
  uint64_t last_ms;
} meter_slot;

struct policy_meter {
  pthread_mutex_t lock;
  policy_clock_fn clock;
  void *clock_ctx;
  meter_slot *slots; /* POLICY_METER_SLOTS_MAX */
};

static uint64_t monotonic_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

tv_status policy_meter_new(policy_clock_fn clock, void *clock_ctx, policy_meter **out_meter) {
  TV_ENSURE(out_meter != NULL, TV_E_INVALID_ARGUMENT);
  policy_meter *m = calloc(1, sizeof(*m));
  TV_ENSURE(m != NULL, TV_E_NO_MEMORY);
  m->slots = calloc(POLICY_METER_SLOTS_MAX, sizeof(*m->slots));
  if (m->slots == NULL || pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m->slots);
    free(m);
    return TV_E_NO_MEMORY;
  }
  m->clock = clock != NULL ? clock : monotonic_ms;
  m->clock_ctx = clock_ctx;
  *out_meter = m;
  return TV_OK;
}

void policy_meter_free(policy_meter *meter) {
  if (meter == NULL) {
    return;
  }
  pthread_mutex_destroy(&meter->lock);
  free(meter->slots);
  free(meter);
}

/* FNV-1a over the kind, principal, a NUL, role. Two pairs sharing a hash would share
 * a bucket: stricter, never looser. 0 is reserved for "free". */
static uint64_t slot_key(policy_meter_kind kind, const char *principal, const char *role) {
  uint64_t h = (0xcbf29ce484222325ull ^ (uint64_t)kind) * 0x100000001b3ull;
  for (const char *s = principal; *s != '\0'; s++) {
    h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
  }
  h = h * 0x100000001b3ull;
  for (const char *s = role; *s != '\0'; s++) {
    h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
  }
  return h != 0 ? h : 1;
}

static meter_slot *find_slot(policy_meter *m, uint64_t key, uint64_t capacity, uint64_t now) {
  size_t start = (size_t)(key % POLICY_METER_SLOTS_MAX);
  for (size_t probe = 0; probe < POLICY_METER_SLOTS_MAX; probe++) {
    meter_slot *s = &m->slots[(start + probe) % POLICY_METER_SLOTS_MAX];
    if (s->key == key) {
      return s;
    }
    if (s->key == 0) {
      /* A caller seen for the first time starts with a full minute. */
      *s = (meter_slot){.key = key, .level = capacity, .last_ms = now};
      return s;
    }
  }
  return NULL;
}

tv_status policy_meter_take(policy_meter *meter, policy_meter_kind kind, const char *principal,
                            const char *role, uint64_t per_minute, uint64_t count) {
  assert(meter != NULL && principal != NULL && role != NULL && per_minute > 0);
  if (per_minute > METER_RATE_MAX) {
    per_minute = METER_RATE_MAX;
  }
  TV_ENSURE(count <= per_minute, TV_E_POLICY_RATE_LIMITED);
  uint64_t capacity = per_minute * METER_MS_PER_MINUTE;
  uint64_t cost = count * METER_MS_PER_MINUTE;
  uint64_t key = slot_key(kind, principal, role);
  tv_status status = TV_OK;
  pthread_mutex_lock(&meter->lock);
  uint64_t now = meter->clock(meter->clock_ctx);
  meter_slot *s = find_slot(meter, key, capacity, now);
  if (s == NULL) {
    status = TV_E_POLICY_METER_FULL;
  } else {
    uint64_t elapsed = now > s->last_ms ? now - s->last_ms : 0;
    if (elapsed > METER_MS_PER_MINUTE) {
      elapsed = METER_MS_PER_MINUTE; /* a full minute refills everything */
    }
    uint64_t level = s->level + elapsed * per_minute;
    /* A reload may have lowered the rate: never hold more than it allows. */
    s->level = level < capacity ? level : capacity;
    if (now > s->last_ms) {
      s->last_ms = now;
    }
    if (s->level >= cost) {
      s->level -= cost;
    } else {
      status = TV_E_POLICY_RATE_LIMITED;
    }
  }
  pthread_mutex_unlock(&meter->lock);
  return status;
}
