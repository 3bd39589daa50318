/* tv_rotation_worker — completes data-key rotations in the background.
 *
 * RotateDataKey only adds a key version (tv_keyring_rotate_data_key); the
 * records written under the older versions stay there until the engine
 * moves them (tv_engine_reencrypt) and the store drops the old copies
 * (tv_store_compact). This worker does both, one namespace at a time, on
 * its own thread, so the RPC answers at once and the vault keeps serving.
 *
 * What is queued: a namespace after each successful RotateDataKey; at
 * start every namespace that still has a DECRYPT_ONLY version (a rotation
 * whose re-encryption never finished) or that is named in the pending
 * file (<data_dir>/rotation-pending: re-encryption finished and retired
 * the old versions, but the compaction that removes their ciphertexts
 * from disk had not finished when the process stopped).
 *
 * Each run is audited ("CompleteRotation" by "system:rotation", items =
 * records moved). A failed run is logged, audited and retried with
 * exponential backoff; the worker never stops the daemon.
 *
 * On a store shared by a fleet (PostgreSQL) a run first takes the lease
 * "rotation/<namespace>" (tv_store_lease, by the database's clock) and
 * renews it between re-encryption chunks, publishing its progress; a
 * node that finds the lease held reports the holder's progress (phase
 * REENCRYPTING) and asks again every third of the lease's time. When the
 * holder stops or dies its lease expires and the next node to ask takes
 * over, resuming where the records are (re-encryption is resumable by
 * construction). Instead of log compaction the store purges expired
 * values (stubs). A finished run releases the lease; a stopped one lets
 * it expire. On the log (one process) every lease is held: nothing
 * changes. With fleet_poll_ms a node also queues the rotations started
 * through other nodes; one that finds, once it holds the lease, that
 * nothing is left (the other node finished) is DONE without a run of
 * its own (no audit entry, no purge): the rotation completes once.
 *
 * Threads: enqueue, status and stop are safe from any thread. */
#ifndef TV_SERVICE_ROTATION_WORKER_H
#define TV_SERVICE_ROTATION_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "vault/audit/audit.h"
#include "vault/engine/engine.h"
#include "vault/keyring/keyring.h"
#include "vault/util/status.h"

/* Compaction reads at most this many bytes per second unless configured:
 * a fraction of a disk's bandwidth, so calls keep their latency. */
#define TV_ROTATION_COMPACT_BYTES_PER_S_DEFAULT (UINT64_C(64) * 1024 * 1024)
/* Re-encryption is done in calls of at least this many records; the stop
 * flag is checked between calls, so this bounds how long SIGTERM waits. */
#define TV_ROTATION_CHUNK_RECORDS_MIN 16384u
/* Retries wait 1 s, 2 s, 4 s ... up to this. */
#define TV_ROTATION_RETRY_MS_MAX (UINT64_C(5) * 60 * 1000)
/* A run's lease on a fleet store lasts this long unless renewed. */
#define TV_ROTATION_LEASE_TTL_MS_DEFAULT 30000u
/* How often a fleet node's daemon has the worker look for rotations
 * started through other nodes (fleet_poll_ms): an in-memory look at the
 * keyring, which itself takes in other nodes' changes every 0.5 s. */
#define TV_ROTATION_FLEET_POLL_MS 1000u
/* The audit principal of the worker's entries. */
#define TV_ROTATION_PRINCIPAL "system:rotation"
/* The audit method of the worker's entries. */
#define TV_ROTATION_METHOD "CompleteRotation"

typedef struct tv_rotation_worker tv_rotation_worker;

typedef enum tv_rotation_phase {
  TV_ROTATION_IDLE = 0,         /* nothing to do since start */
  TV_ROTATION_QUEUED = 1,       /* waiting for the worker */
  TV_ROTATION_REENCRYPTING = 2, /* moving records to the active version */
  TV_ROTATION_COMPACTING = 3,   /* dropping old ciphertexts from disk */
  TV_ROTATION_DONE = 4,         /* the last run finished */
  TV_ROTATION_RETRYING = 5,     /* the last run failed; waiting to retry */
} tv_rotation_phase;

/* One namespace's rotation, as reported by GetRotationStatus and metrics. */
typedef struct tv_rotation_status {
  const char *ns; /* the namespace (borrowed from the options) */
  tv_rotation_phase phase;
  uint32_t active_version; /* the version records are moved to */
  uint64_t records_done;   /* moved by the current (or last) run */
  uint64_t records_total;  /* done + still under older versions; 0 while unknown */
  uint64_t bytes_done;     /* compaction: segment bytes read */
  uint64_t bytes_total;    /* compaction: segment bytes to read */
  uint32_t attempts;       /* failed runs since the last success */
  tv_status last_error;    /* TV_OK, or why the last run failed */
  uint64_t finished_ms;    /* unix ms the last run ended; 0: none yet */
  /* Fleet: the lease holder last seen running this rotation (this node's
   * own name when it ran it); "" until a run asked for the lease, and on
   * a store of one process (the log). */
  char lease_holder[TV_STORE_LEASE_HOLDER_LEN_MAX + 1];
  int lease_held; /* 1: this node holds (or last held) the lease */
} tv_rotation_status;

typedef struct tv_rotation_worker_options {
  tv_engine *engine;   /* not owned; outlives the worker */
  tv_store *store;     /* the engine's store (compaction); not owned */
  tv_keyring *keyring; /* not owned; outlives the worker */
  tv_audit_log *audit; /* not owned; outlives the worker */
  const char *const *namespaces; /* the engine's namespaces; borrowed */
  size_t num_namespaces;         /* <= TV_ENGINE_NAMESPACES_MAX */
  const char *pending_path;      /* the pending file; NULL: none kept */
  uint64_t records_per_s;        /* re-encryption rate; 0: unlimited */
  uint64_t compact_bytes_per_s;  /* 0: TV_ROTATION_COMPACT_BYTES_PER_S_DEFAULT */
  uint64_t retry_ms_initial;     /* first backoff; 0: 1000 */
  /* The node's name (config node_id; NULL: the host name). The lease
   * holder is "<node_id>/<instance>", the instance 8 hex digits drawn at
   * each start, so two processes are never one holder (see holder_name). */
  const char *node_id;
  uint32_t lease_ttl_ms;         /* 0: TV_ROTATION_LEASE_TTL_MS_DEFAULT */
  /* Fleet (a store shared by several nodes): every this many ms the worker
   * looks for rotations started through another node (a DECRYPT_ONLY
   * version in the shared keyring) and queues them, so its status shows
   * the fleet's progress and it takes over if their node dies. 0: never
   * (one node: RotateDataKey queues every rotation here). */
  uint32_t fleet_poll_ms;
} tv_rotation_worker_options;

/* tv_rotation_worker_start queues the namespaces whose rotation is
 * unfinished (see the top of this file) and starts the thread. On success
 * |*out| is owned by the caller (tv_rotation_worker_free). */
tv_status tv_rotation_worker_start(tv_rotation_worker **out, const tv_rotation_worker_options *options);

/* tv_rotation_worker_enqueue asks for a rotation completion of |ns| (after
 * a RotateDataKey) and records it in the pending file. A namespace already
 * queued is not queued twice; one being worked on runs again afterwards.
 * TV_E_ENGINE_NAMESPACE if |ns| is not one of the options'; a pending
 * file that cannot be written is logged, not returned (the keyring's
 * DECRYPT_ONLY state resumes the rotation after a restart anyway). */
tv_status tv_rotation_worker_enqueue(tv_rotation_worker *w, const char *ns);

/* tv_rotation_worker_status copies up to |out_max| namespaces' status
 * (those ever queued, in the options' order) and returns how many there
 * are. Safe while a run is in progress; accepts a NULL |w| (returns 0). */
size_t tv_rotation_worker_status(tv_rotation_worker *w, tv_rotation_status *out, size_t out_max);

/* tv_rotation_worker_stop asks the thread to stop and returns at once:
 * re-encryption stops at the next chunk, a compaction in progress cannot
 * be cancelled and finishes first. Accepts NULL. */
void tv_rotation_worker_stop(tv_rotation_worker *w);

/* tv_rotation_worker_free stops the thread, waits for it and frees |w|;
 * accepts NULL. Call it before the engine, audit log or keyring close. */
void tv_rotation_worker_free(tv_rotation_worker *w);

/* tv_rotation_worker_holder returns this node's lease holder name
 * ("<node_id>/<instance>"), valid until tv_rotation_worker_free. */
const char *tv_rotation_worker_holder(const tv_rotation_worker *w);

/* tv_rotation_phase_name returns "idle", "queued", "reencrypting",
 * "compacting", "done", "retrying" or "unknown". */
const char *tv_rotation_phase_name(tv_rotation_phase phase);

#endif
