/* A fixed pool of worker threads with a bounded job queue. Handlers run
 * here, never on a polling thread, so a slow handler (HSM, fsync) never
 * stalls network I/O. */
#ifndef TV_SERVER_GRPC_WORKERS_H
#define TV_SERVER_GRPC_WORKERS_H

#include <stddef.h>

#include "vault/util/status.h"

typedef struct tv_workers tv_workers;
typedef void (*tv_job_fn)(void *arg);

/* tv_workers_new starts |threads| workers sharing a queue of at most
 * |jobs_max| waiting jobs. Returns TV_OK and sets |*out_workers| (free with
 * tv_workers_free), TV_E_NO_MEMORY or TV_E_INTERNAL (thread creation). */
tv_status tv_workers_new(tv_workers **out_workers, size_t threads, size_t jobs_max);

/* tv_workers_submit queues |fn(arg)|. Returns TV_OK, TV_E_SERVER_BUSY if the
 * queue is full, or TV_E_SERVER_SHUTTING_DOWN once tv_workers_free began;
 * on failure the job will not run and |arg| stays the caller's. */
tv_status tv_workers_submit(tv_workers *workers, tv_job_fn fn, void *arg);

/* tv_workers_free runs the jobs still queued, joins the threads and frees
 * the pool. Accepts NULL. */
void tv_workers_free(tv_workers *workers);

#endif
