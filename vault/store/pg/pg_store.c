/* The PostgreSQL backend: open (conninfo check, connect, schema check,
 * writer start), close, statistics, health, and the operation the log has
 * but a database does not need (snapshot). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/store/pg/pg_internal.h"

static void pg_free(tv_pg *pg) {
  tv_pg_replica_close(pg);
  tv_pg_readers_close(pg);
  PQfinish(pg->wconn);
  pthread_cond_destroy(&pg->pool_cv);
  pthread_mutex_destroy(&pg->pool_mu);
  pthread_cond_destroy(&pg->space_cv);
  pthread_cond_destroy(&pg->cv);
  pthread_mutex_destroy(&pg->mu);
  free(pg->conninfo);
  free(pg);
}

static tv_pg *pg_alloc(const char *conninfo) {
  tv_pg *pg = calloc(1, sizeof *pg);
  if (pg == NULL) {
    return NULL;
  }
  pthread_mutex_init(&pg->mu, NULL);
  pthread_cond_init(&pg->cv, NULL);
  pthread_cond_init(&pg->space_cv, NULL);
  pthread_mutex_init(&pg->pool_mu, NULL);
  pthread_cond_init(&pg->pool_cv, NULL);
  pg->conninfo = strdup(conninfo);
  if (pg->conninfo == NULL) {
    pg_free(pg);
    return NULL;
  }
  return pg;
}

/* connect_checked opens the writer's connection and refuses a database
 * whose schema is missing or newer than this build. */
static tv_status connect_checked(tv_pg *pg, char *why, size_t why_len) {
  PGconn *conn = tv_pg_connect(pg->conninfo, 0, why, why_len);
  TV_ENSURE(conn != NULL, TV_E_STORE_UNAVAILABLE);
  tv_status st = tv_pg_schema_check(conn, why, why_len);
  PQfinish(conn);
  TV_TRY(st);
  pg->wconn = tv_pg_connect_session(pg, why, why_len);
  TV_ENSURE(pg->wconn != NULL, TV_E_STORE_UNAVAILABLE);
  tv_pg_writer_connected(pg, pg->wconn);
  return TV_OK;
}

static tv_status pg_open(const tv_store_options *opts, tv_store_diag *diag, void **out_impl) {
  TV_ENSURE(opts->conninfo != NULL, TV_E_INVALID_ARGUMENT);
  TV_TRY(tv_pg_conninfo_check(opts->conninfo, diag->message, sizeof diag->message));
  TV_TRY(tv_pg_conninfo_failover_check(opts->conninfo, diag->message, sizeof diag->message));
  tv_pg *pg = pg_alloc(opts->conninfo);
  TV_ENSURE(pg != NULL, TV_E_NO_MEMORY);
  pg->statement_timeout_ms =
      opts->statement_timeout_ms != 0 ? opts->statement_timeout_ms : TV_STORE_STATEMENT_TIMEOUT_MS_DEFAULT;
  tv_status st = connect_checked(pg, diag->message, sizeof diag->message);
  if (st == TV_OK && opts->read_conninfo != NULL) {
    st = tv_pg_replica_open(pg, opts->read_conninfo, opts->read_lag_max_ms, diag->message, sizeof diag->message);
  }
  if (st == TV_OK && pthread_create(&pg->writer, NULL, tv_pg_writer_main, pg) != 0) {
    st = TV_E_NO_MEMORY;
  }
  if (st != TV_OK) {
    pg_free(pg);
    return st;
  }
  *out_impl = pg;
  return TV_OK;
}

static void pg_close(void *impl) {
  tv_pg *pg = impl;
  pthread_mutex_lock(&pg->mu);
  pg->closing = 1; /* the writer drains what was accepted, then exits */
  pthread_cond_broadcast(&pg->cv);
  pthread_cond_broadcast(&pg->space_cv);
  pthread_mutex_unlock(&pg->mu);
  pthread_join(pg->writer, NULL);
  pg_free(pg);
}

static void pg_get_stats(void *impl, tv_store_stats *out) {
  tv_pg *pg = impl;
  pthread_mutex_lock(&pg->mu);
  out->batches = pg->stats.batches;
  out->records = pg->stats.records;
  out->bytes = pg->stats.bytes;
  out->failed_batches = pg->stats.failed_batches;
  /* The durable point of a group is its COMMIT: its latency stands for
   * the log's write + fdatasync. */
  out->fsyncs = pg->stats.commits;
  out->fsync_us_sum = pg->stats.commit_us_sum;
  out->fsync_us_max = pg->stats.commit_us_max;
  memcpy(out->fsync_buckets, pg->stats.commit_buckets, sizeof out->fsync_buckets);
  pthread_mutex_unlock(&pg->mu);
}

tv_status tv_pg_store_get_stats(tv_store *s, tv_pg_store_stats *out) {
  tv_pg *pg = tv_store_backend_impl(s, &tv_store_backend_pg);
  TV_ENSURE(pg != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&pg->mu);
  *out = pg->stats.ha;
  pthread_mutex_unlock(&pg->mu);
  pthread_mutex_lock(&pg->pool_mu);
  out->reads = pg->reads;
  out->read_us_sum = pg->read_us_sum;
  out->read_us_max = pg->read_us_max;
  out->read_retries = pg->read_retries;
  out->reader_connect_failures = pg->reader_connect_failures;
  out->reads_failed_fast = pg->reads_failed_fast;
  memcpy(out->read_buckets, pg->read_buckets, sizeof out->read_buckets);
  out->readers_open = pg->num_open;
  out->readers_idle = pg->num_idle;
  out->readers_max = TV_PG_READERS_MAX;
  pthread_mutex_unlock(&pg->pool_mu);
  return TV_OK;
}

/* The health probe: one trivial statement on a reader connection
 * (connecting if none is pooled). */
static tv_status pg_health(void *impl) {
  tv_pg *pg = impl;
  PGconn *conn = tv_pg_reader_take(pg);
  TV_ENSURE(conn != NULL, TV_E_STORE_UNAVAILABLE);
  PGresult *res = PQexec(conn, "SELECT 1");
  int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
  tv_status st = ok ? TV_OK : tv_pg_read_failure(conn, res);
  PQclear(res);
  tv_pg_reader_give(pg, conn, !ok && st != TV_E_STORE_TIMEOUT);
  return st;
}

/* Backups of a database store are the database's own (pg_dump, base
 * backups with WAL archiving): see vault/store/pg/README.md. */
static tv_status pg_snapshot(void *impl, const char *dest_dir, const char *const *extra_paths, size_t num_extra,
                             tv_store_snapshot_info *info) {
  (void)impl, (void)dest_dir, (void)extra_paths, (void)num_extra;
  snprintf(info->diag.message, sizeof info->diag.message,
           "the postgres store is backed up with pg_dump or base backups, not snapshots");
  return TV_E_STORE_UNSUPPORTED;
}


const tv_store_backend tv_store_backend_pg = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .submit = tv_pg_submit,
    .get_batch = tv_pg_get_batch,
    .read_locations = tv_pg_read_locations,
    .find_fingerprint = tv_pg_find_fingerprint,
    .find_fingerprints = tv_pg_find_fingerprints,
    .scan = tv_pg_scan,
    .snapshot = pg_snapshot,
    .compact = tv_pg_compact, /* the purge of expired values: pg_purge.c */
    .get_stats = pg_get_stats,
    .submit_wait = tv_pg_submit_wait,
    .health = pg_health,
    .lease = tv_pg_lease,
    .lease_release = tv_pg_lease_release,
    .get_batch_replica = tv_pg_get_batch_replica, /* reads from a hot standby: pg_replica_read.c */
};
