/* Leases on once-per-fleet work (the rotation worker): one row per lease
 * in tv_leases, taken with one INSERT ... ON CONFLICT DO UPDATE that only
 * succeeds when the lease is free, already the caller's, or expired by
 * the database's clock. A holder that dies stops renewing; once its
 * lease expires the next node to ask takes it over and resumes the work
 * (which is resumable by construction). */
#include <stdio.h>
#include <string.h>

#include "vault/store/pg/pg_internal.h"

/* lease_get reads the current holder and its progress into |out|. */
static tv_status lease_get(PGconn *conn, const char *name, tv_store_lease_info *out) {
  const char *vals[1] = {name};
  int lens[1] = {(int)strlen(name)};
  int fmts[1] = {1};
  PGresult *res = PQexecPrepared(conn, "tv_lease_get", 1, vals, lens, fmts, 1);
  int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
  tv_status st = ok ? TV_OK : tv_pg_read_failure(conn, res);
  if (ok && PQntuples(res) == 1) {
    size_t h = (size_t)PQgetlength(res, 0, 0);
    size_t p = (size_t)PQgetlength(res, 0, 1);
    h = h < sizeof out->holder ? h : sizeof out->holder - 1;
    memcpy(out->holder, PQgetvalue(res, 0, 0), h);
    out->holder[h] = '\0';
    out->progress_len = p <= sizeof out->progress ? p : 0;
    memcpy(out->progress, PQgetvalue(res, 0, 1), out->progress_len);
  }
  PQclear(res);
  return st;
}

static tv_status lease_take(PGconn *conn, const char *name, const char *holder, uint32_t ttl_ms,
                            const uint8_t *progress, size_t progress_len, tv_store_lease_info *out) {
  uint8_t ttl[8];
  tv_pg_put_u64(ttl, ttl_ms);
  static const uint8_t empty[1] = {0};
  const char *vals[4] = {name, holder, (const char *)ttl, (const char *)(progress_len > 0 ? progress : empty)};
  int lens[4] = {(int)strlen(name), (int)strlen(holder), 8, (int)progress_len};
  int fmts[4] = {1, 1, 1, 1};
  PGresult *res = PQexecPrepared(conn, "tv_lease_take", 4, vals, lens, fmts, 1);
  int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
  tv_status st = ok ? TV_OK : tv_pg_read_failure(conn, res);
  out->held = ok && PQntuples(res) == 1;
  PQclear(res);
  if (st != TV_OK) {
    return st;
  }
  if (out->held) {
    snprintf(out->holder, sizeof out->holder, "%s", holder);
    memcpy(out->progress, progress_len > 0 ? progress : empty, progress_len);
    out->progress_len = progress_len;
    return TV_OK;
  }
  return lease_get(conn, name, out);
}

tv_status tv_pg_lease(void *impl, const char *name, const char *holder, uint32_t ttl_ms, const uint8_t *progress,
                      size_t progress_len, tv_store_lease_info *out) {
  tv_pg *pg = impl;
  PGconn *conn = tv_pg_reader_take(pg);
  TV_ENSURE(conn != NULL, TV_E_STORE_UNAVAILABLE);
  tv_status st = lease_take(conn, name, holder, ttl_ms, progress, progress_len, out);
  out->shared = 1;
  tv_pg_reader_give(pg, conn, st != TV_OK && st != TV_E_STORE_TIMEOUT);
  return st;
}

tv_status tv_pg_lease_release(void *impl, const char *name, const char *holder) {
  tv_pg *pg = impl;
  PGconn *conn = tv_pg_reader_take(pg);
  TV_ENSURE(conn != NULL, TV_E_STORE_UNAVAILABLE);
  const char *vals[2] = {name, holder};
  int lens[2] = {(int)strlen(name), (int)strlen(holder)};
  int fmts[2] = {1, 1};
  PGresult *res = PQexecPrepared(conn, "tv_lease_release", 2, vals, lens, fmts, 1);
  int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  tv_status st = ok ? TV_OK : tv_pg_read_failure(conn, res);
  PQclear(res);
  tv_pg_reader_give(pg, conn, st != TV_OK && st != TV_E_STORE_TIMEOUT);
  return st;
}
