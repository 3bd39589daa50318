/* tokenvaultd's metrics registry: what the call path pushes (calls by
 * method and gRPC status, items, a latency histogram per method) and the
 * Prometheus text exposition (format 0.0.4) it renders.
 *
 * The call path only does relaxed atomic increments on fixed arrays, so
 * counting never takes a lock and never allocates; a scrape reads the
 * counters without stopping the writers. Values and tokens are never
 * labels: labels are method names, gRPC codes, item failure classes,
 * namespace names and, for reveals only, principals (bounded:
 * metrics_reveals.h). */
#ifndef TV_SERVICE_METRICS_H
#define TV_SERVICE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "vault/service/item_outcome.h"
#include "vault/service/methods.h"
#include "vault/util/status.h"

/* Canonical codes (tv_code, the gRPC numbers) are 0..16; anything else is counted as 2 (UNKNOWN),
 * the code gRPC itself uses for a status it cannot name. */
#define TV_METRICS_CODES_COUNT 17

/* Latency bucket upper bounds in microseconds (the +Inf bucket is
 * implicit). Fixed so the call path indexes an array, and spanning a
 * cached Health call (~100 us) to a 1,000-item batch under fsync (~s). */
#define TV_METRICS_BUCKETS_COUNT 15
extern const uint64_t tv_metrics_bucket_bounds_us[TV_METRICS_BUCKETS_COUNT];

/* A rendered exposition can not grow beyond this: a bound on what a scrape
 * costs (today's output is a few tens of KiB). */
#define TV_METRICS_TEXT_BYTES_MAX (1024 * 1024)

typedef struct tv_metrics tv_metrics;

/* A growable text buffer for rendering. |failed| is set (and appends stop)
 * once an allocation fails or TV_METRICS_TEXT_BYTES_MAX would be passed. */
typedef struct tv_metrics_text {
  char *data; /* NUL-terminated once anything was appended */
  size_t len;
  size_t cap;
  int failed;
} tv_metrics_text;

/* tv_metrics_new allocates a zeroed registry into |*out|. Returns TV_OK or
 * TV_E_NO_MEMORY. Free with tv_metrics_free (accepts NULL). */
tv_status tv_metrics_new(tv_metrics **out);

/* tv_metrics_free releases |m|; no call may count into it any more. */
void tv_metrics_free(tv_metrics *m);

/* tv_metrics_call_done counts one finished call (or one message of a
 * stream) of |method| answered with |code| carrying |items| items in
 * |latency_us|. Lock-free; |m| may be NULL (metrics disabled). */
void tv_metrics_call_done(tv_metrics *m, tv_method_id method, int code, uint64_t items,
                          uint64_t latency_us);

/* tv_metrics_render_calls appends the call counters (only the method and
 * code pairs seen so far), and the item counters and latency histograms of
 * every method (zeros included, so a dashboard sees a method before its
 * first call) to |out|. Health and WhoAmI are counted too (by
 * vault/service/vault_core.h), so their zeros mean "not called". */
/* tv_metrics_admission_refused counts a call of |method| refused by
 * admission control (server busy), rendered as
 * tokenvault_admission_refused_total{method}. */
void tv_metrics_admission_refused(tv_metrics *m, tv_method_id method);

void tv_metrics_render_calls(const tv_metrics *m, tv_metrics_text *out);

/* tv_metrics_revealed counts |count| items of a Detokenize call answered
 * to |principal| at |level| ("FULL", "MASKED", "NONE"; else ignored):
 * tokenvault_reveals_total{principal,level}. |m| may be NULL. */
void tv_metrics_revealed(tv_metrics *m, const char *principal, const char *level, uint64_t count);

/* tv_metrics_reveal_refused counts a Detokenize call of |principal|
 * refused by its reveal rate limit: tokenvault_reveals_refused_total. */
void tv_metrics_reveal_refused(tv_metrics *m, const char *principal);

/* tv_metrics_items_failed counts the failed items of one data call of
 * |method| by class (item_outcome.h):
 * tokenvault_item_failures_total{method,class}. */
void tv_metrics_items_failed(tv_metrics *m, tv_method_id method, const tv_item_outcome *outcome);

/* tv_metrics_render_build appends tokenvault_build_info. */
void tv_metrics_render_build(tv_metrics_text *out);

/* tv_metrics_text_printf appends formatted text to |t| (see |failed|). */
void tv_metrics_text_printf(tv_metrics_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tv_metrics_text_label appends |value| escaped as a Prometheus label
 * value (backslash, double quote and newline escaped). */
void tv_metrics_text_label(tv_metrics_text *t, const char *value);

/* tv_metrics_text_cleanup frees |t|'s memory; |t| can be reused. */
void tv_metrics_text_cleanup(tv_metrics_text *t);

#endif
