#include "vault/daemon/metrics_latency.h"

void tv_metrics_render_latency(const tv_metrics_latency *l, tv_metrics_text *out) {
  tv_metrics_text_printf(out, "# HELP %s_seconds %s\n# TYPE %s_seconds histogram\n", l->name, l->help, l->name);
  uint64_t cumulative = 0;
  for (size_t b = 0; b < TV_LATENCY_BUCKETS_COUNT; b++) {
    cumulative += l->buckets[b];
    tv_metrics_text_printf(out, "%s_seconds_bucket{le=\"%g\"} %llu\n", l->name,
                           (double)tv_latency_bounds_us[b] / 1e6, (unsigned long long)cumulative);
  }
  cumulative += l->buckets[TV_LATENCY_BUCKETS_COUNT];
  tv_metrics_text_printf(out, "%s_seconds_bucket{le=\"+Inf\"} %llu\n%s_seconds_sum %.6f\n%s_seconds_count %llu\n",
                         l->name, (unsigned long long)cumulative, l->name, (double)l->sum_us / 1e6, l->name,
                         (unsigned long long)cumulative);
  tv_metrics_text_printf(out, "# HELP %s_max_seconds %s\n# TYPE %s_max_seconds gauge\n%s_max_seconds %.6f\n",
                         l->name, l->max_help, l->name, l->name, (double)l->max_us / 1e6);
}
