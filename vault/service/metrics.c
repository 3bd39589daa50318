#include "vault/service/metrics.h"
#include "vault/service/metrics_reveals.h"

#include <assert.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TV_VERSION_STRING
#define TV_VERSION_STRING "unknown"
#endif

const uint64_t tv_metrics_bucket_bounds_us[TV_METRICS_BUCKETS_COUNT] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
};

/* One method's histogram: non-cumulative counts, the last slot is +Inf.
 * Cumulating at scrape time keeps the call path to one increment. */
typedef struct method_hist {
  atomic_uint_fast64_t buckets[TV_METRICS_BUCKETS_COUNT + 1];
  atomic_uint_fast64_t sum_us;
} method_hist;

struct tv_metrics {
  atomic_uint_fast64_t calls[TV_METHOD_COUNT][TV_METRICS_CODES_COUNT];
  atomic_uint_fast64_t items[TV_METHOD_COUNT];
  method_hist latency[TV_METHOD_COUNT];
  atomic_uint_fast64_t admission_refused[TV_METHOD_COUNT];
  atomic_uint_fast64_t item_failures[TV_METHOD_COUNT][TV_ITEM_CLASS_COUNT];
  tv_reveal_counts reveals;
};

static const char *const code_names[TV_METRICS_CODES_COUNT] = {
    "OK",           "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
    "NOT_FOUND",    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",      "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",         "UNAVAILABLE",
    "DATA_LOSS",    "UNAUTHENTICATED",
};

tv_status tv_metrics_new(tv_metrics **out) {
  TV_ENSURE(out != NULL, TV_E_INVALID_ARGUMENT);
  /* calloc: all-zero bits are a valid zero for the lock-free atomics. */
  tv_metrics *m = calloc(1, sizeof *m);
  TV_ENSURE(m != NULL, TV_E_NO_MEMORY);
  if (tv_reveal_counts_init(&m->reveals) != TV_OK) {
    free(m);
    return TV_E_NO_MEMORY;
  }
  *out = m;
  return TV_OK;
}

void tv_metrics_free(tv_metrics *m) {
  if (m != NULL) {
    tv_reveal_counts_cleanup(&m->reveals);
  }
  free(m);
}

void tv_metrics_revealed(tv_metrics *m, const char *principal, const char *level, uint64_t count) {
  if (m != NULL) {
    tv_reveal_counts_add(&m->reveals, principal, level, count);
  }
}

void tv_metrics_reveal_refused(tv_metrics *m, const char *principal) {
  if (m != NULL) {
    tv_reveal_counts_refused(&m->reveals, principal);
  }
}

void tv_metrics_items_failed(tv_metrics *m, tv_method_id method, const tv_item_outcome *outcome) {
  if (m == NULL || outcome == NULL || (unsigned)method >= TV_METHOD_COUNT) {
    return;
  }
  for (size_t i = 0; i < TV_ITEM_CLASS_COUNT; i++) {
    if (outcome->failed[i] != 0) {
      atomic_fetch_add_explicit(&m->item_failures[method][i], outcome->failed[i], memory_order_relaxed);
    }
  }
}

static size_t bucket_index(uint64_t latency_us) {
  size_t i = 0;
  while (i < TV_METRICS_BUCKETS_COUNT && latency_us > tv_metrics_bucket_bounds_us[i]) {
    i++;
  }
  return i;
}

void tv_metrics_call_done(tv_metrics *m, tv_method_id method, int code, uint64_t items,
                          uint64_t latency_us) {
  if (m == NULL || (unsigned)method >= TV_METHOD_COUNT) {
    return;
  }
  if (code < 0 || code >= TV_METRICS_CODES_COUNT) {
    code = 2; /* UNKNOWN */
  }
  /* Relaxed: counters are independent; a scrape needs no ordering. */
  atomic_fetch_add_explicit(&m->calls[method][code], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->items[method], items, memory_order_relaxed);
  method_hist *h = &m->latency[method];
  atomic_fetch_add_explicit(&h->buckets[bucket_index(latency_us)], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_us, latency_us, memory_order_relaxed);
}

void tv_metrics_admission_refused(tv_metrics *m, tv_method_id method) {
  if (m != NULL && (unsigned)method < TV_METHOD_COUNT) {
    atomic_fetch_add_explicit(&m->admission_refused[method], 1, memory_order_relaxed);
  }
}

/* ---- text ---- */

static int text_reserve(tv_metrics_text *t, size_t extra) {
  if (t->failed) {
    return 0;
  }
  if (extra >= TV_METRICS_TEXT_BYTES_MAX - t->len) {
    t->failed = 1;
    return 0;
  }
  size_t need = t->len + extra + 1;
  if (need <= t->cap) {
    return 1;
  }
  size_t cap = t->cap != 0 ? t->cap : 4096;
  while (cap < need) {
    cap *= 2;
  }
  char *p = realloc(t->data, cap);
  if (p == NULL) {
    t->failed = 1;
    return 0;
  }
  t->data = p;
  t->cap = cap;
  return 1;
}

void tv_metrics_text_printf(tv_metrics_text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !text_reserve(t, (size_t)n)) {
    t->failed = 1;
    return;
  }
  va_start(ap, fmt);
  (void)vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

void tv_metrics_text_label(tv_metrics_text *t, const char *value) {
  for (const char *p = value; *p != '\0'; p++) {
    if (*p == '\\' || *p == '"') {
      tv_metrics_text_printf(t, "\\%c", *p);
    } else if (*p == '\n') {
      tv_metrics_text_printf(t, "\\n");
    } else {
      tv_metrics_text_printf(t, "%c", *p);
    }
  }
}

void tv_metrics_text_cleanup(tv_metrics_text *t) {
  free(t->data);
  memset(t, 0, sizeof *t);
}

/* ---- rendering ---- */

static void render_counts(const tv_metrics *m, tv_metrics_text *out) {
  tv_metrics_text_printf(out, "# HELP tokenvault_calls_total Calls answered (one per stream message), by method and gRPC code.\n"
                              "# TYPE tokenvault_calls_total counter\n");
  for (size_t i = 0; i < TV_METHOD_COUNT; i++) {
    for (size_t c = 0; c < TV_METRICS_CODES_COUNT; c++) {
      uint64_t n = atomic_load_explicit(&m->calls[i][c], memory_order_relaxed);
      if (n != 0) {
        tv_metrics_text_printf(out, "tokenvault_calls_total{method=\"%s\",code=\"%s\"} %llu\n",
                               tv_method_get((tv_method_id)i)->name, code_names[c], (unsigned long long)n);
      }
    }
  }
  tv_metrics_text_printf(out, "# HELP tokenvault_admission_refused_total Calls refused before any work because "
                              "the server was busy (admission control, RESOURCE_EXHAUSTED), by method.\n"
                              "# TYPE tokenvault_admission_refused_total counter\n");
  for (size_t i = 0; i < TV_METHOD_COUNT; i++) {
    tv_metrics_text_printf(out, "tokenvault_admission_refused_total{method=\"%s\"} %llu\n",
                           tv_method_get((tv_method_id)i)->name,
                           (unsigned long long)atomic_load_explicit(&m->admission_refused[i], memory_order_relaxed));
  }
  tv_metrics_text_printf(out, "# HELP tokenvault_item_failures_total Items of data calls that failed, by method "
                              "and class (not_found, deleted, expired, invalid, policy, namespace, key, error).\n"
                              "# TYPE tokenvault_item_failures_total counter\n");
  for (size_t i = 0; i < TV_METHOD_COUNT; i++) {
    for (size_t k = 0; k < TV_ITEM_CLASS_COUNT; k++) {
      uint64_t n = atomic_load_explicit(&m->item_failures[i][k], memory_order_relaxed);
      if (n != 0) {
        tv_metrics_text_printf(out, "tokenvault_item_failures_total{method=\"%s\",class=\"%s\"} %llu\n",
                               tv_method_get((tv_method_id)i)->name, tv_item_class_name((tv_item_class)k),
                               (unsigned long long)n);
      }
    }
  }
  tv_metrics_text_printf(out, "# HELP tokenvault_items_total Items (values or tokens) in answered calls, by method.\n"
                              "# TYPE tokenvault_items_total counter\n");
  for (size_t i = 0; i < TV_METHOD_COUNT; i++) {
    tv_metrics_text_printf(out, "tokenvault_items_total{method=\"%s\"} %llu\n", tv_method_get((tv_method_id)i)->name,
                           (unsigned long long)atomic_load_explicit(&m->items[i], memory_order_relaxed));
  }
}

/* One method's histogram. The bucket counts are read once and cumulated,
 * and _count is their total, so a scrape is always self-consistent
 * (+Inf == _count) even while calls are being counted. */
static void render_hist(const method_hist *h, const char *name, tv_metrics_text *out) {
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= TV_METRICS_BUCKETS_COUNT; b++) {
    cumulative += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
    if (b < TV_METRICS_BUCKETS_COUNT) {
      tv_metrics_text_printf(out, "tokenvault_call_latency_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n", name,
                             (double)tv_metrics_bucket_bounds_us[b] / 1e6, (unsigned long long)cumulative);
    } else {
      tv_metrics_text_printf(out, "tokenvault_call_latency_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n", name,
                             (unsigned long long)cumulative);
    }
  }
  uint64_t sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
  tv_metrics_text_printf(out, "tokenvault_call_latency_seconds_sum{method=\"%s\"} %.6f\n", name, (double)sum_us / 1e6);
  tv_metrics_text_printf(out, "tokenvault_call_latency_seconds_count{method=\"%s\"} %llu\n", name,
                         (unsigned long long)cumulative);
}

void tv_metrics_render_calls(const tv_metrics *m, tv_metrics_text *out) {
  assert(m != NULL && out != NULL);
  render_counts(m, out);
  tv_metrics_text_printf(out, "# HELP tokenvault_call_latency_seconds Time from a call's start to its audited answer.\n"
                              "# TYPE tokenvault_call_latency_seconds histogram\n");
  for (size_t i = 0; i < TV_METHOD_COUNT; i++) {
    render_hist(&m->latency[i], tv_method_get((tv_method_id)i)->name, out);
  }
  tv_reveal_counts_render(&m->reveals, out);
}

void tv_metrics_render_build(tv_metrics_text *out) {
  tv_metrics_text_printf(out, "# HELP tokenvault_build_info The running build (always 1).\n"
                              "# TYPE tokenvault_build_info gauge\n"
                              "tokenvault_build_info{version=\"");
  tv_metrics_text_label(out, TV_VERSION_STRING);
  tv_metrics_text_printf(out, "\",compiler=\"");
  tv_metrics_text_label(out, __VERSION__); /* compiler strings may hold quotes */
  tv_metrics_text_printf(out, "\"} 1\n");
}
