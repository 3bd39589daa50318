/* The database store's compaction: the purge of expired values. A re-put
 * replaces its row (no superseded copy is left, and VACUUM reclaims the
 * space), so what the log's compaction does that a database still needs
 * is to strip expired values' ciphertext: each live row expired at the
 * caller's clock becomes its stub (key version 0 with its expiry, no
 * ciphertext), which reads as EXPIRED, is never reissued, and gives up
 * the value's fingerprint so a convergent tokenize mints a new token.
 * Walked in id ranges (the unique index), one short statement each, so
 * no statement nears the timeout and a cancel is seen between ranges. */
#include <stdlib.h>

#include "vault/store/pg/pg_internal.h"

/* Ids per statement. */
#define PURGE_IDS_PER_STATEMENT 20000u

static tv_status max_id(PGconn *conn, uint64_t *out) {
  PGresult *res = PQexecPrepared(conn, "tv_max_id", 0, NULL, NULL, NULL, 1);
  int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetlength(res, 0, 0) == 8;
  tv_status st = ok ? TV_OK : tv_pg_read_failure(conn, res);
  *out = ok ? tv_pg_get_u64(PQgetvalue(res, 0, 0)) : 0;
  PQclear(res);
  return st;
}

/* strip_range stubs the expired values with ids in (after, last]. */
static tv_status strip_range(PGconn *conn, uint64_t after, uint64_t last, uint64_t now_ms, uint64_t *stripped) {
  uint8_t a[8], b[8], c[8];
  tv_pg_put_u64(a, after);
  tv_pg_put_u64(b, last);
  tv_pg_put_u64(c, now_ms);
  const char *vals[3] = {(const char *)a, (const char *)b, (const char *)c};
  int lens[3] = {8, 8, 8};
  int fmts[3] = {1, 1, 1};
  PGresult *res = PQexecPrepared(conn, "tv_strip_expired", 3, vals, lens, fmts, 1);
  int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  tv_status st = ok ? TV_OK : tv_pg_result_status(conn, res);
  *stripped += ok ? strtoull(PQcmdTuples(res), NULL, 10) : 0;
  PQclear(res);
  return st;
}

static tv_status purge(PGconn *conn, const tv_store_compact_options *opts, tv_store_compact_progress *progress) {
  uint64_t last = 0;
  TV_TRY(max_id(conn, &last));
  atomic_store(&progress->records_total, last);
  uint64_t stripped = 0;
  for (uint64_t after = 0; after < last;) {
    if (opts->cancel != NULL && atomic_load(opts->cancel)) {
      return TV_E_STORE_COMPACT_CANCELLED;
    }
    uint64_t upto = last - after > PURGE_IDS_PER_STATEMENT ? after + PURGE_IDS_PER_STATEMENT : last;
    TV_TRY(strip_range(conn, after, upto, opts->now_ms, &stripped));
    after = upto;
    atomic_store(&progress->records_done, after);
    atomic_store(&progress->records_expired, stripped);
  }
  return TV_OK;
}

tv_status tv_pg_compact(void *impl, const tv_store_compact_options *opts, tv_store_compact_progress *progress) {
  tv_pg *pg = impl;
  atomic_store(&progress->phase, TV_COMPACT_COPYING);
  tv_status st = TV_OK;
  if (opts->now_ms != 0) { /* without a clock there is nothing to purge */
    PGconn *conn = tv_pg_reader_take(pg);
    st = conn != NULL ? purge(conn, opts, progress) : TV_E_STORE_UNAVAILABLE;
    if (conn != NULL) {
      tv_pg_reader_give(pg, conn, st != TV_OK && st != TV_E_STORE_TIMEOUT && st != TV_E_STORE_COMPACT_CANCELLED);
    }
  }
  atomic_store(&progress->phase, st == TV_OK ? TV_COMPACT_FINISHED : TV_COMPACT_FAILED);
  return st;
}
