/* One round trip for many statements: libpq's pipeline mode. Used by the
 * readers (one SELECT per key) and the writer (BEGIN, one statement per
 * operation, COMMIT). */
#include "vault/store/pg/pg_pipeline.h"

tv_status tv_pg_pipeline_send(PGconn *conn, const tv_pg_stmt *stmts, size_t n) {
  if (PQenterPipelineMode(conn) != 1) {
    return tv_pg_failed_status(conn);
  }
  for (size_t i = 0; i < n; i++) {
    const tv_pg_stmt *s = &stmts[i];
    int sent = s->prepared != NULL
                   ? PQsendQueryPrepared(conn, s->prepared, s->nparams, s->vals, s->lens, s->fmts, 1)
                   : PQsendQueryParams(conn, s->sql, 0, NULL, NULL, NULL, NULL, 1);
    if (sent != 1) {
      return tv_pg_failed_status(conn);
    }
  }
  if (PQpipelineSync(conn) != 1) {
    return tv_pg_failed_status(conn);
  }
  return TV_OK;
}

/* next_result returns the single result of the next statement and
 * consumes the NULL that ends it. */
static PGresult *next_result(PGconn *conn) {
  PGresult *res = PQgetResult(conn);
  if (res != NULL) {
    PGresult *end = PQgetResult(conn);
    while (end != NULL) { /* never more than one for our statements */
      PQclear(end);
      end = PQgetResult(conn);
    }
  }
  return res;
}

tv_status tv_pg_pipeline_collect(PGconn *conn, size_t n, PGresult **out) {
  tv_status st = TV_OK;
  for (size_t i = 0; i < n; i++) {
    out[i] = next_result(conn);
    ExecStatusType rs = PQresultStatus(out[i]);
    if (out[i] == NULL || (rs != PGRES_TUPLES_OK && rs != PGRES_COMMAND_OK)) {
      st = st != TV_OK ? st : tv_pg_result_status(conn, out[i]);
      if (out[i] == NULL) {
        break; /* the connection is gone: nothing more will come */
      }
    }
  }
  PGresult *sync = PQgetResult(conn);
  if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
    st = st != TV_OK ? st : tv_pg_failed_status(conn);
  }
  PQclear(sync);
  if (PQexitPipelineMode(conn) != 1 && st == TV_OK) {
    st = tv_pg_failed_status(conn);
  }
  return st;
}

void tv_pg_results_clear(PGresult **res, size_t n) {
  for (size_t i = 0; i < n; i++) {
    PQclear(res[i]);
    res[i] = NULL;
  }
}
