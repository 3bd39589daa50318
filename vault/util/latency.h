/* Fixed latency buckets shared by every durable writer's fsync statistics
 * (store, audit log), so their Prometheus histograms line up bucket for
 * bucket. Bucket b counts values <= tv_latency_bounds_us[b]; the extra
 * last bucket (index TV_LATENCY_BUCKETS_COUNT) counts the rest. */
#ifndef TV_UTIL_LATENCY_H
#define TV_UTIL_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#define TV_LATENCY_BUCKETS_COUNT 12

extern const uint64_t tv_latency_bounds_us[TV_LATENCY_BUCKETS_COUNT];

/* tv_latency_bucket returns the bucket index (0..TV_LATENCY_BUCKETS_COUNT)
 * for a duration of |us| microseconds. */
size_t tv_latency_bucket(uint64_t us);

#endif
