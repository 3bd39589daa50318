/* A latency histogram in Prometheus text: the buckets of
 * vault/util/latency.h (arriving non-cumulative; the last is +Inf) and the
 * worst case, which the buckets would blur. Shared by the store, audit and
 * database families (metrics_vault.c, metrics_db.c). */
#ifndef TV_DAEMON_METRICS_LATENCY_H
#define TV_DAEMON_METRICS_LATENCY_H

#include <stdint.h>

#include "vault/service/metrics.h"
#include "vault/util/latency.h"

typedef struct tv_metrics_latency {
  const char *name;     /* the metric without its "_seconds" suffix */
  const char *help;     /* the histogram's */
  const char *max_help; /* the <name>_max_seconds gauge's */
  const uint64_t *buckets; /* TV_LATENCY_BUCKETS_COUNT + 1 counts */
  uint64_t sum_us;
  uint64_t max_us;
} tv_metrics_latency;

/* tv_metrics_render_latency appends <name>_seconds (histogram) and
 * <name>_max_seconds (gauge) to |out|. */
void tv_metrics_render_latency(const tv_metrics_latency *l, tv_metrics_text *out);

#endif
