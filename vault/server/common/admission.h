/* Admission control: a bound on the work the server has accepted but not
 * yet answered, so that under overload the excess is refused at once
 * (RESOURCE_EXHAUSTED, "server busy ...; retry with backoff") instead of
 * queueing without bound — queued calls would all grow slow together and
 * hold their memory.
 *
 * Two budgets, both checked when a unary call is accepted, before it is
 * queued for a worker: items (values or tokens of the request, counted on
 * the wire) and request bytes. A call is admitted when both fit and is
 * released when its last reference goes (its answer was sent or it was
 * cancelled). A bidi stream's messages are counted too, one in flight per
 * stream, but never refused mid-stream: a bulk job is not cut half-way;
 * unary calls are refused first instead.
 *
 * Why items: the time an admitted call waits is the work queued before it,
 * and that is items (a 1,000-item call costs ~1,000 times a 1-item one).
 * Defaults (config `server:` 0 or absent): TV_ADMISSION_ITEMS_PER_WORKER
 * per worker thread, and a share of physical memory for bytes
 * (tv_admission_limits_derive).
 *
 * One budget for the whole server: tokenvaultd's gRPC and HTTP transports
 * both enter the same tv_admission (the gRPC server owns it; the HTTP
 * listener is handed a pointer), so a flood on one port refuses work on
 * the other rather than doubling the work in flight. */
#ifndef TV_SERVER_COMMON_ADMISSION_H
#define TV_SERVER_COMMON_ADMISSION_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/service/methods.h"
#include "vault/util/status.h"

typedef struct tv_admission_limits {
  uint64_t items_max; /* at least TV_REQUEST_ITEMS_MAX: one full call fits */
  uint64_t bytes_max; /* at least TV_MESSAGE_BYTES_MAX: one largest call fits */
} tv_admission_limits;

typedef struct tv_admission {
  pthread_mutex_t lock;
  tv_admission_limits limits;
  uint64_t items; /* in flight */
  uint64_t bytes;
} tv_admission;

/* tv_admission_limits_derive fills in the configured limits, replacing a 0
 * by the machine's default: |worker_threads| * TV_ADMISSION_ITEMS_PER_WORKER
 * items, |physical_bytes| / TV_ADMISSION_MEMORY_SHARE bytes within
 * [TV_ADMISSION_BYTES_MIN, TV_ADMISSION_BYTES_MAX]; values below one full
 * call are raised to it. */
tv_admission_limits tv_admission_limits_derive(uint64_t items_max, uint64_t bytes_max, size_t worker_threads,
                                               uint64_t physical_bytes);

void tv_admission_init(tv_admission *a, tv_admission_limits limits);
void tv_admission_cleanup(tv_admission *a);

/* tv_admission_enter reserves |items| and |bytes| if both fit under the
 * limits (or always, with |force|: stream messages). Returns TV_OK, or
 * TV_E_SERVER_BUSY with "server busy: N items in flight, limit M; retry
 * with backoff" (or the same for bytes) in |out_err|. */
tv_status tv_admission_enter(tv_admission *a, uint64_t items, uint64_t bytes, int force, char *out_err,
                             size_t out_err_len);

/* tv_admission_leave returns what tv_admission_enter reserved. */
void tv_admission_leave(tv_admission *a, uint64_t items, uint64_t bytes);

/* tv_admission_exempt says whether calls of |method| skip admission:
 * health probes and WhoAmI do no vault work, and a load balancer must see
 * a busy server's true health rather than "server busy". */
int tv_admission_exempt(tv_method_id method);

/* tv_admission_in_flight reads the current totals (for metrics, tests). */
void tv_admission_in_flight(tv_admission *a, uint64_t *out_items, uint64_t *out_bytes);

#endif
