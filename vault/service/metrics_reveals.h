/* Values revealed per principal, for /metrics: the one place a principal
 * becomes a label. Principals are identities from client certificates the
 * policy names (a service account, a batch job), never values, and the
 * set is bounded: the first TV_METRICS_PRINCIPALS_MAX principals that
 * reveal get their own series, any later one is counted under
 * principal="_other" (so the exposition cannot grow without bound).
 *
 * Counting is lock-free for a principal already in the table (one acquire
 * load, a scan of at most TV_METRICS_PRINCIPALS_MAX names, relaxed adds);
 * a new principal takes a mutex once to append its name. */
#ifndef TV_SERVICE_METRICS_REVEALS_H
#define TV_SERVICE_METRICS_REVEALS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "vault/policy/policy.h"
#include "vault/service/metrics.h"

#define TV_METRICS_PRINCIPALS_MAX 128u

/* Reveal levels counted, in label order. */
typedef enum tv_reveal_level {
  TV_REVEAL_LEVEL_FULL = 0,
  TV_REVEAL_LEVEL_MASKED,
  TV_REVEAL_LEVEL_NONE,
  TV_REVEAL_LEVEL_COUNT
} tv_reveal_level;

typedef struct tv_reveal_slot {
  char principal[POLICY_PRINCIPAL_LEN_MAX + 1];
  atomic_uint_fast64_t revealed[TV_REVEAL_LEVEL_COUNT];
  atomic_uint_fast64_t refused; /* calls refused by the reveal rate limit */
} tv_reveal_slot;

typedef struct tv_reveal_counts {
  pthread_mutex_t append_lock;
  atomic_size_t num; /* slots published (release) */
  tv_reveal_slot slots[TV_METRICS_PRINCIPALS_MAX];
  tv_reveal_slot other;
} tv_reveal_counts;

/* tv_reveal_counts_init / _cleanup: |c| zeroed first by the caller. */
tv_status tv_reveal_counts_init(tv_reveal_counts *c);
void tv_reveal_counts_cleanup(tv_reveal_counts *c);

/* tv_reveal_counts_add counts |count| values revealed to |principal| at
 * |level| ("FULL", "MASKED" or "NONE"; anything else, or an empty
 * principal, is ignored). */
void tv_reveal_counts_add(tv_reveal_counts *c, const char *principal, const char *level, uint64_t count);

/* tv_reveal_counts_refused counts one call of |principal| refused by its
 * reveal rate limit. */
void tv_reveal_counts_refused(tv_reveal_counts *c, const char *principal);

/* tv_reveal_counts_render appends tokenvault_reveals_total{principal,level}
 * and tokenvault_reveals_refused_total{principal}. */
void tv_reveal_counts_render(const tv_reveal_counts *c, tv_metrics_text *out);

#endif
