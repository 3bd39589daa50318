/* Whether the vault can answer a data call right now, for grpc.health and
 * /healthz: a load balancer should move traffic away while every call
 * would be refused, and bring it back once the fault clears by itself.
 *
 * A call is answered only after its audit line is durable, and a line is
 * durable only if the audit disk takes it and, when a checkpoint is due,
 * the HSM signs it. So the state is what the audit log last said:
 * svc_call reports every append's status (tv_readiness_audit); a failure
 * makes the vault NOT_SERVING with that status as the reason
 * (AUDIT_NO_SPACE, AUDIT_UNAVAILABLE, HSM_UNAVAILABLE, ...).
 *
 * Nothing clears by client calls alone, since a load balancer sends none
 * to a NOT_SERVING vault: a probe thread, once a second while not ready,
 * appends an `audit_resumed` alert entry (which also needs the HSM when a
 * checkpoint is due); when that is durable the vault is SERVING again and
 * the audit log records how long it was not. Failed attempts write
 * nothing. While ready, the probe checks that the audit directory still
 * has TV_READINESS_AUDIT_FREE_BYTES_MIN free, so a vault that starts (or
 * runs idle) on a full audit disk is NOT_SERVING before a call is
 * refused.
 *
 * The store: a write (tokenize of a new value, rotation) needs its disk,
 * so the probe also checks that the store directory has
 * TV_READINESS_STORE_FREE_BYTES_MIN free, else the vault is NOT_SERVING
 * with STORE_NO_SPACE (reads would still work, but a load balancer should
 * prefer a node that can tokenize); it is SERVING again, with no audit
 * entry, once the space is back. A store reason never hides an audit one:
 * the audit checks come first.
 *
 * A database store (store.backend postgres) is also asked, each probe
 * period, whether it can serve (tv_store_health: one trivial statement):
 * while the database is unreachable the vault is NOT_SERVING with
 * STORE_UNAVAILABLE (or STORE_TIMEOUT while it is too slow to answer), so
 * a load balancer sends the calls to a node that has its database; it is
 * SERVING again, with no audit entry, once a probe succeeds. The log
 * backend's probe does nothing.
 *
 * Every change of state is logged (`vault_not_ready` with the reason and
 * the first failure, `vault_ready` with how long and how many calls were
 * refused), at most one line per TV_READINESS_LOG_MS; while it lasts a
 * `vault_still_not_ready` line repeats every TV_READINESS_REMIND_MS. */
#ifndef TV_SERVICE_READINESS_H
#define TV_SERVICE_READINESS_H

#include <stddef.h>
#include <stdint.h>

#include "vault/audit/audit.h"
#include "vault/store/store.h"
#include "vault/util/status.h"

/* The probe's period while not ready (and the free-space check's). */
#define TV_READINESS_PROBE_MS 1000u
/* Less free space than this (about 40 audit lines) in the audit directory
 * counts as a full disk: the next batch may not fit. */
#define TV_READINESS_AUDIT_FREE_BYTES_MIN (16u * 1024u)
/* Less free space than this in the store directory counts as a full
 * disk: about one group-commit batch of records. */
#define TV_READINESS_STORE_FREE_BYTES_MIN (64u * 1024u)
/* State-change log lines at most this often (a flapping disk cannot flood
 * the log); suppressed changes are counted in the next line. */
#define TV_READINESS_LOG_MS 1000u
/* While not ready, a reminder line this often. */
#define TV_READINESS_REMIND_MS 60000u

typedef struct tv_readiness tv_readiness;

typedef struct tv_readiness_config {
  tv_audit_log *audit;   /* borrowed; the probe appends to it */
  const char *audit_dir; /* checked for free space */
  const char *store_dir; /* checked for free space; NULL: not checked */
  tv_store *store;       /* borrowed; asked tv_store_health; NULL: not asked */
  uint32_t probe_ms;     /* 0: TV_READINESS_PROBE_MS (tests go faster) */
} tv_readiness_config;

/* tv_readiness_start starts the probe thread (ready until told otherwise).
 * TV_E_NO_MEMORY, TV_E_INTERNAL (thread). */
tv_status tv_readiness_start(tv_readiness **out, const tv_readiness_config *config);

/* tv_readiness_stop stops the probe and frees |r| (NULL accepted); call it
 * before the audit log closes. */
void tv_readiness_stop(tv_readiness *r);

/* tv_readiness_audit records the outcome of an audit append (|r| may be
 * NULL). Cheap when nothing changes: one atomic load on the hot path.
 * TV_E_AUDIT_ENTRY_INVALID (one bad entry) and TV_E_AUDIT_CLOSED (the
 * stop) change nothing. */
void tv_readiness_audit(tv_readiness *r, tv_status status);

/* tv_readiness_reason returns TV_OK when the vault can answer data calls,
 * else why not (|r| NULL: TV_OK). */
tv_status tv_readiness_reason(tv_readiness *r);

#endif
