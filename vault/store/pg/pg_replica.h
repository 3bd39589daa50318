/* Reads from a hot standby (issue 11 point 2): what a store opened with
 * tv_store_options.read_conninfo saw of its standby, for the metrics.
 *
 * The rule (pg_replica.c): a reveal read is answered from the standby
 * only when the standby proved, in that same round trip, that it had
 * replayed the primary's WAL up to a position the primary reported at
 * most read_lag_max_ms before the read started (and after this store's
 * last delete or rewrite), on the primary's timeline; anything else goes
 * to the primary. A key the standby does not have is read again from the
 * primary. */
#ifndef TV_STORE_PG_PG_REPLICA_H
#define TV_STORE_PG_PG_REPLICA_H

#include <stdint.h>

#include "vault/store/store.h"

/* What the watcher last found (tv_pg_replica_stats.state). */
typedef enum tv_pg_replica_state {
  TV_PG_REPLICA_OFF = 0,             /* no read_conninfo */
  TV_PG_REPLICA_OK = 1,              /* fresh within the bound: reads go to it */
  TV_PG_REPLICA_LAGGING = 2,         /* reachable, but behind by more than the bound */
  TV_PG_REPLICA_UNREACHABLE = 3,     /* cannot connect, or a read failed */
  TV_PG_REPLICA_NOT_STANDBY = 4,     /* not in recovery, or on another timeline */
  TV_PG_REPLICA_PRIMARY_UNKNOWN = 5, /* the primary's position cannot be read: no bound */
} tv_pg_replica_state;
#define TV_PG_REPLICA_STATES_COUNT 6

/* Why a read went to the primary instead (tv_pg_replica_stats.fallbacks). */
typedef enum tv_pg_replica_reason {
  TV_PG_REPLICA_FALLBACK_LAG = 0,         /* staler than read_lag_max_ms, or no proof yet */
  TV_PG_REPLICA_FALLBACK_UNREACHABLE = 1, /* down, or the read on it failed */
  TV_PG_REPLICA_FALLBACK_NOT_STANDBY = 2, /* a primary, or another timeline */
  TV_PG_REPLICA_FALLBACK_OWN_WRITE = 3,   /* this store deleted or rewrote rows it has not replayed yet */
} tv_pg_replica_reason;
#define TV_PG_REPLICA_REASONS_COUNT 4

typedef struct tv_pg_replica_stats {
  int configured;               /* read_conninfo given */
  int state;                    /* tv_pg_replica_state, the watcher's last check */
  uint64_t lag_max_ms;          /* the bound in force */
  int staleness_known;          /* the last check proved a bound: */
  uint64_t staleness_ms;        /* how old the newest primary position the standby had replayed was */
  uint64_t lag_bytes;           /* WAL bytes the standby had not replayed at the last check */
  uint64_t reads;               /* get_batch_replica calls answered from the standby */
  uint64_t rechecks;            /* keys not found there, read again from the primary */
  uint64_t fallbacks[TV_PG_REPLICA_REASONS_COUNT]; /* calls the primary answered, by reason */
  uint64_t checks;              /* watcher rounds */
} tv_pg_replica_stats;

/* tv_pg_store_get_replica_stats fills |out| for a store opened with
 * tv_store_backend_pg (all zero, state OFF, without read_conninfo);
 * TV_E_INVALID_ARGUMENT for another backend. */
tv_status tv_pg_store_get_replica_stats(tv_store *s, tv_pg_replica_stats *out);

/* tv_pg_replica_state_name / tv_pg_replica_reason_name: the metric label. */
const char *tv_pg_replica_state_name(int state);
const char *tv_pg_replica_reason_name(int reason);

#endif
