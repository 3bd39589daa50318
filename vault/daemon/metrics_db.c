#include "vault/daemon/metrics_db.h"

#include "vault/daemon/metrics_latency.h"

static void db_counter(tv_metrics_text *out, const char *name, const char *help, uint64_t value) {
  tv_metrics_text_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                         (unsigned long long)value);
}

static void db_gauge(tv_metrics_text *out, const char *name, const char *help, uint64_t value) {
  tv_metrics_text_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
                         (unsigned long long)value);
}

/* The writer's connection: whether it is up, what it survived, and which
 * server it is on (host and port as labels, the timeline as the value: a
 * failover shows as a new series with a higher timeline). The host comes
 * from the conninfo, never a password (refused there). */
static void render_writer(const tv_pg_store_stats *db, tv_metrics_text *out) {
  db_gauge(out, "tokenvault_db_connected", "1 while the writer holds a database connection, else 0.",
           db->connected != 0);
  db_counter(out, "tokenvault_db_reconnects_total", "Writer connections opened after the first.", db->reconnects);
  db_counter(out, "tokenvault_db_failovers_total",
             "Reconnects that found another server (a later timeline or another host:port).", db->failovers);
  db_counter(out, "tokenvault_db_read_only_refusals_total",
             "Write groups a read-only server (a standby) refused with UNAVAILABLE.", db->read_only_refusals);
  tv_metrics_text_printf(out, "# HELP tokenvault_db_timeline The writer's server (labels) and its timeline "
                              "(0: unknown).\n# TYPE tokenvault_db_timeline gauge\n");
  if (db->host[0] != '\0') {
    tv_metrics_text_printf(out, "tokenvault_db_timeline{host=\"");
    tv_metrics_text_label(out, db->host);
    tv_metrics_text_printf(out, "\",port=\"");
    tv_metrics_text_label(out, db->port);
    tv_metrics_text_printf(out, "\"} %llu\n", (unsigned long long)db->timeline);
  }
}

/* Operations per committed group (group commit at work): bucket b holds
 * groups of at most 2^b operations, the last one the group limit. */
static void render_batch_rows(const tv_pg_store_stats *db, tv_metrics_text *out) {
  tv_metrics_text_printf(out, "# HELP tokenvault_db_batch_rows Operations per committed write group.\n"
                              "# TYPE tokenvault_db_batch_rows histogram\n");
  uint64_t cumulative = 0;
  for (size_t b = 0; b < TV_PG_BATCH_ROWS_BUCKETS_COUNT; b++) {
    cumulative += db->batch_rows_buckets[b];
    tv_metrics_text_printf(out, "tokenvault_db_batch_rows_bucket{le=\"%llu\"} %llu\n", 1ULL << b,
                           (unsigned long long)cumulative);
  }
  tv_metrics_text_printf(out,
                         "tokenvault_db_batch_rows_bucket{le=\"+Inf\"} %llu\ntokenvault_db_batch_rows_sum %llu\n"
                         "tokenvault_db_batch_rows_count %llu\n",
                         (unsigned long long)cumulative, (unsigned long long)db->batch_rows_sum,
                         (unsigned long long)cumulative);
}

/* Round trips: every write waits on a COMMIT, every read on one
 * statement group; a read rerun after a lost pooled connection counts
 * as a retry. */
static void render_round_trips(const tv_pg_store_stats *db, const tv_store_stats *store, tv_metrics_text *out) {
  tv_metrics_latency commit = {"tokenvault_db_commit", "Database COMMIT round trip latency (the durable point).",
                               "Slowest COMMIT round trip since start.", store->fsync_buckets, store->fsync_us_sum,
                               store->fsync_us_max};
  tv_metrics_render_latency(&commit, out);
  tv_metrics_latency read = {"tokenvault_db_read", "Database read round trip latency.",
                             "Slowest read round trip since start.", db->read_buckets, db->read_us_sum,
                             db->read_us_max};
  tv_metrics_render_latency(&read, out);
  db_counter(out, "tokenvault_db_read_retries_total",
             "Reads rerun on a new connection after a pooled one turned out lost.", db->read_retries);
}

static void render_pool(const tv_pg_store_stats *db, tv_metrics_text *out) {
  db_gauge(out, "tokenvault_db_readers_open", "Reader pool connections open (in use + idle).", db->readers_open);
  db_gauge(out, "tokenvault_db_readers_idle", "Reader pool connections idle.", db->readers_idle);
  db_gauge(out, "tokenvault_db_readers_max", "Reader pool size limit.", db->readers_max);
}

void tv_metrics_render_db_stats(const tv_pg_store_stats *db, const tv_store_stats *store, tv_metrics_text *out) {
  render_writer(db, out);
  render_batch_rows(db, out);
  render_round_trips(db, store, out);
  render_pool(db, out);
}

void tv_metrics_render_db(tv_store *store, tv_metrics_text *out) {
  tv_pg_store_stats db;
  if (tv_pg_store_get_stats(store, &db) != TV_OK) {
    return; /* not a postgres store: no database to report */
  }
  tv_store_stats st;
  tv_store_get_stats(store, &st);
  tv_metrics_render_db_stats(&db, &st, out);
  tv_pg_replica_stats replica;
  if (tv_pg_store_get_replica_stats(store, &replica) == TV_OK) {
    tv_metrics_render_db_replica(&replica, out);
  }
}
