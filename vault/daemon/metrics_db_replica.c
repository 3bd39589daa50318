/* The read replica families of a fleet node (store.postgres.read_conninfo,
 * issue 11 point 2): whether reveals are being read from the standby, why
 * they were not, and how stale the standby was proven to be. Exported only
 * when a read replica is configured. */
#include "vault/daemon/metrics_db.h"

static void replica_counter(tv_metrics_text *out, const char *name, const char *help, uint64_t value) {
  tv_metrics_text_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                         (unsigned long long)value);
}

static void replica_gauge(tv_metrics_text *out, const char *name, const char *help, double value) {
  tv_metrics_text_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.3f\n", name, help, name, name, value);
}

/* One series per state, 1 for the current one: an alert can match on
 * the label, a graph shows the transitions. */
static void render_state(const tv_pg_replica_stats *r, tv_metrics_text *out) {
  tv_metrics_text_printf(out, "# HELP tokenvault_db_replica_state The read replica's state at the watcher's last "
                              "check (1 for the current one); reads go to it only when ok.\n"
                              "# TYPE tokenvault_db_replica_state gauge\n");
  for (int s = TV_PG_REPLICA_OK; s < TV_PG_REPLICA_STATES_COUNT; s++) {
    tv_metrics_text_printf(out, "tokenvault_db_replica_state{state=\"%s\"} %d\n", tv_pg_replica_state_name(s),
                           r->state == s);
  }
}

static void render_fallbacks(const tv_pg_replica_stats *r, tv_metrics_text *out) {
  tv_metrics_text_printf(out, "# HELP tokenvault_db_replica_fallbacks_total Reveal reads the primary answered "
                              "instead of the read replica, by reason.\n"
                              "# TYPE tokenvault_db_replica_fallbacks_total counter\n");
  for (int why = 0; why < TV_PG_REPLICA_REASONS_COUNT; why++) {
    tv_metrics_text_printf(out, "tokenvault_db_replica_fallbacks_total{reason=\"%s\"} %llu\n",
                           tv_pg_replica_reason_name(why), (unsigned long long)r->fallbacks[why]);
  }
}

void tv_metrics_render_db_replica(const tv_pg_replica_stats *r, tv_metrics_text *out) {
  if (!r->configured) {
    return;
  }
  render_state(r, out);
  replica_counter(out, "tokenvault_db_replica_reads_total", "Reveal reads answered by the read replica.",
                  r->reads);
  replica_counter(out, "tokenvault_db_replica_rechecks_total",
                  "Keys the read replica did not have, read again from the primary.", r->rechecks);
  render_fallbacks(r, out);
  replica_gauge(out, "tokenvault_db_replica_lag_max_seconds",
                "The staleness bound (store.postgres.read_lag_max_ms).", (double)r->lag_max_ms / 1000.0);
  tv_metrics_text_printf(out, "# HELP tokenvault_db_replica_lag_seconds How stale the read replica was proven "
                              "to be at the last check (absent: no proof).\n"
                              "# TYPE tokenvault_db_replica_lag_seconds gauge\n");
  if (r->staleness_known) {
    tv_metrics_text_printf(out, "tokenvault_db_replica_lag_seconds %.3f\n", (double)r->staleness_ms / 1000.0);
  }
  replica_gauge(out, "tokenvault_db_replica_lag_bytes",
                "WAL bytes the read replica had not replayed at the last check.", (double)r->lag_bytes);
}
