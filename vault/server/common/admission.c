#include "vault/server/common/admission.h"

#include <assert.h>
#include <stdio.h>

#include "vault/service/limits.h"

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

tv_admission_limits tv_admission_limits_derive(uint64_t items_max, uint64_t bytes_max, size_t worker_threads,
                                               uint64_t physical_bytes) {
  tv_admission_limits l = {items_max, bytes_max};
  if (l.items_max == 0) {
    l.items_max = (uint64_t)(worker_threads > 0 ? worker_threads : 1) * TV_ADMISSION_ITEMS_PER_WORKER;
  }
  if (l.bytes_max == 0) {
    l.bytes_max = clamp_u64(physical_bytes / TV_ADMISSION_MEMORY_SHARE, TV_ADMISSION_BYTES_MIN,
                            TV_ADMISSION_BYTES_MAX);
  }
  /* One full call must always be admissible on an idle server. */
  l.items_max = l.items_max < TV_REQUEST_ITEMS_MAX ? TV_REQUEST_ITEMS_MAX : l.items_max;
  l.bytes_max = l.bytes_max < TV_MESSAGE_BYTES_MAX ? TV_MESSAGE_BYTES_MAX : l.bytes_max;
  return l;
}

int tv_admission_exempt(tv_method_id method) {
  return method == TV_METHOD_HEALTH_CHECK || method == TV_METHOD_HEALTH_WATCH || method == TV_METHOD_WHO_AM_I;
}

void tv_admission_init(tv_admission *a, tv_admission_limits limits) {
  assert(a != NULL && limits.items_max > 0 && limits.bytes_max > 0);
  pthread_mutex_init(&a->lock, NULL);
  a->limits = limits;
  a->items = 0;
  a->bytes = 0;
}

void tv_admission_cleanup(tv_admission *a) {
  assert(a->items == 0 && a->bytes == 0); /* every call released before the server is freed */
  pthread_mutex_destroy(&a->lock);
}

tv_status tv_admission_enter(tv_admission *a, uint64_t items, uint64_t bytes, int force, char *out_err,
                             size_t out_err_len) {
  pthread_mutex_lock(&a->lock);
  /* An idle server admits any call: a single call over a limit is
   * bounded by the request limits already. */
  int idle = a->items == 0 && a->bytes == 0;
  int items_fit = a->items + items <= a->limits.items_max;
  int bytes_fit = a->bytes + bytes <= a->limits.bytes_max;
  tv_status st = TV_OK;
  if (force || idle || (items_fit && bytes_fit)) {
    a->items += items;
    a->bytes += bytes;
  } else if (!items_fit) {
    snprintf(out_err, out_err_len, "server busy: %llu items in flight, limit %llu; retry with backoff",
             (unsigned long long)a->items, (unsigned long long)a->limits.items_max);
    st = TV_E_SERVER_BUSY;
  } else {
    snprintf(out_err, out_err_len, "server busy: %llu request bytes in flight, limit %llu; retry with backoff",
             (unsigned long long)a->bytes, (unsigned long long)a->limits.bytes_max);
    st = TV_E_SERVER_BUSY;
  }
  pthread_mutex_unlock(&a->lock);
  return st;
}

void tv_admission_leave(tv_admission *a, uint64_t items, uint64_t bytes) {
  pthread_mutex_lock(&a->lock);
  assert(a->items >= items && a->bytes >= bytes);
  a->items -= items;
  a->bytes -= bytes;
  pthread_mutex_unlock(&a->lock);
}

void tv_admission_in_flight(tv_admission *a, uint64_t *out_items, uint64_t *out_bytes) {
  pthread_mutex_lock(&a->lock);
  *out_items = a->items;
  *out_bytes = a->bytes;
  pthread_mutex_unlock(&a->lock);
}
