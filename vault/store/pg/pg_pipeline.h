/* Pipeline mode helpers: send many statements with one sync, then
 * collect one result per statement. */
#ifndef TV_STORE_PG_PG_PIPELINE_H
#define TV_STORE_PG_PG_PIPELINE_H

#include "vault/store/pg/pg_internal.h"

#define TV_PG_PARAMS_MAX 12

/* One statement: a prepared one (|prepared| names it) with binary
 * parameters, or plain |sql| without parameters (BEGIN, COMMIT). */
typedef struct tv_pg_stmt {
  const char *prepared;
  const char *sql;
  int nparams;
  const char *vals[TV_PG_PARAMS_MAX];
  int lens[TV_PG_PARAMS_MAX];
  int fmts[TV_PG_PARAMS_MAX];
  uint8_t ints[4][8]; /* storage for bigint parameters */
  uint8_t flag;       /* storage for a boolean parameter */
} tv_pg_stmt;

/* tv_pg_pipeline_send enters pipeline mode and queues |n| statements and
 * a sync. On failure the connection must be discarded. */
tv_status tv_pg_pipeline_send(PGconn *conn, const tv_pg_stmt *stmts, size_t n);

/* tv_pg_pipeline_collect reads one result per statement into |out| (each
 * may be NULL or failed; the caller clears them all), then the sync, and
 * leaves pipeline mode. Returns the first failure (UNAVAILABLE when the
 * connection is gone, WRITE_FAILED when the server refused a statement;
 * the statements after it are then aborted). */
tv_status tv_pg_pipeline_collect(PGconn *conn, size_t n, PGresult **out);

void tv_pg_results_clear(PGresult **res, size_t n);

/* Parameter helpers for tv_pg_stmt. */
static inline void tv_pg_param_bytes(tv_pg_stmt *s, int i, const void *p, size_t len) {
  s->vals[i] = len > 0 ? (const char *)p : "";
  s->lens[i] = (int)len;
  s->fmts[i] = 1;
}

static inline void tv_pg_param_u64(tv_pg_stmt *s, int i, int slot, uint64_t v) {
  tv_pg_put_u64(s->ints[slot], v);
  tv_pg_param_bytes(s, i, s->ints[slot], 8);
}

#endif
