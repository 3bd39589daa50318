/* Shared by pg_replica.c (the rule and the watcher) and
 * pg_replica_read.c (reads through the standby). Not for use outside
 * vault/store/pg. */
#ifndef TV_STORE_PG_PG_REPLICA_INTERNAL_H
#define TV_STORE_PG_PG_REPLICA_INTERNAL_H

#include "vault/store/pg/pg_internal.h"
#include "vault/store/pg/pg_replica.h"

/* Bounds of read_lag_max_ms: below 10 ms the watcher would sample the
 * primary more often than a round trip takes; above 10 minutes a stale
 * read is no longer a replica's lag but an outage. */
#define TV_PG_READ_LAG_MAX_MS_MIN 10u
#define TV_PG_READ_LAG_MAX_MS_MAX 600000u
/* The watcher samples every read_lag_max_ms / 4 within these bounds, so
 * a standby that keeps up is proven fresh well inside the bound. */
#define TV_PG_REPLICA_PERIOD_US_MIN 5000u
#define TV_PG_REPLICA_PERIOD_US_MAX 1000000u
/* Primary positions kept: at the shortest period, 16 cover 80 ms, more
 * than 4 periods whatever the bound. */
#define TV_PG_REPLICA_SAMPLES 16u
/* A standby that takes longer than this to answer is treated as down
 * (the read goes to the primary), whatever statement_timeout_ms is. */
#define TV_PG_REPLICA_STATEMENT_TIMEOUT_MS_MAX 2000u

/* A position of the primary's WAL and the local time just before it was
 * asked for. */
typedef struct tv_pg_replica_sample {
  uint64_t at_us, lsn, timeline;
} tv_pg_replica_sample;

/* What a standby says about itself (tv_pg_replica_status_sql). */
typedef struct tv_pg_standby_status {
  int in_recovery;
  uint64_t replay_lsn, timeline;
} tv_pg_standby_status;

typedef struct tv_pg_replica {
  tv_pg *primary; /* the store */
  tv_pg *pool;    /* readers on the standby: a tv_pg used only for its pool */
  uint64_t lag_max_us, period_us;
  pthread_t watcher;
  pthread_mutex_t mu;
  pthread_cond_t wake; /* the watcher's sleep (CLOCK_MONOTONIC); close wakes it */
  pthread_cond_t cv;   /* broadcast after every check */
  int closing;
  /* Under mu. */
  tv_pg_replica_sample samples[TV_PG_REPLICA_SAMPLES]; /* a ring, oldest overwritten */
  size_t num_samples, next;
  uint64_t fence_us; /* end of this store's last group that deleted or rewrote rows */
  int state;         /* tv_pg_replica_state: reads skip the standby unless OK */
  uint64_t state_us; /* when the watcher last finished a check */
  tv_pg_replica_stats stats;
  /* The watcher's own connections (watcher thread only). */
  PGconn *primary_conn, *standby_conn;
} tv_pg_replica;

/* tv_pg_replica_record_end turns a pg_current_wal_insert_lsn() position
 * into the form a standby's replay position takes: the insert position
 * points past the page header (|block|, |segment|: the WAL page and
 * segment sizes) when the last record ended exactly at a page boundary,
 * where the standby reports the boundary itself — without this an idle
 * primary could never be matched. Exact: no record ends inside a page
 * header. */
uint64_t tv_pg_replica_record_end(uint64_t lsn, uint64_t block, uint64_t segment);

/* The statement a replica read runs before its lookup: in recovery,
 * replay position, timeline (three bigints). */
extern const char tv_pg_replica_status_sql[];

/* tv_pg_replica_status_parse reads tv_pg_replica_status_sql's binary
 * result; 0 if it is not one row of three bigints. */
int tv_pg_replica_status_parse(const PGresult *res, tv_pg_standby_status *out);

/* tv_pg_replica_judge (under r->mu) says whether a standby that reported
 * |ss| serves a read sent at |sent_us|: TV_PG_REPLICA_OK when a sample on
 * its timeline at or below its replay position was taken at most the
 * bound before |sent_us|; |*out_at_us| gets the newest such sample's time
 * (left alone if none) and |*out_lag_bytes| how far the standby trails
 * the newest sample. */
int tv_pg_replica_judge(const tv_pg_replica *r, const tv_pg_standby_status *ss, uint64_t sent_us,
                        uint64_t *out_at_us, uint64_t *out_lag_bytes);

#endif
