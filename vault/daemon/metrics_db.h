/* The database families of a fleet node (store backend postgres, issue 11
 * point 5): tokenvault_db_* from tv_pg_store_get_stats and the store's
 * COMMIT round trips. A node on the log backend exports none of them
 * (there is no database to watch). */
#ifndef TV_DAEMON_METRICS_DB_H
#define TV_DAEMON_METRICS_DB_H

#include "vault/service/metrics.h"
#include "vault/store/pg/pg_replica.h"
#include "vault/store/pg/pg_store.h"
#include "vault/store/store.h"

/* tv_metrics_render_db_stats appends the tokenvault_db_* families for
 * |db| and the COMMIT round trips in |store| (the postgres backend's fsync
 * histogram) to |out|. Pure: the unit test feeds it fixed stats. */
void tv_metrics_render_db_stats(const tv_pg_store_stats *db, const tv_store_stats *store, tv_metrics_text *out);

/* tv_metrics_render_db_replica appends the tokenvault_db_replica_*
 * families for |r| (nothing when no read replica is configured). Pure. */
void tv_metrics_render_db_replica(const tv_pg_replica_stats *r, tv_metrics_text *out);

/* tv_metrics_render_db reads |store|'s stats and renders them if it is a
 * postgres store; appends nothing for another backend. */
void tv_metrics_render_db(tv_store *store, tv_metrics_text *out);

#endif
