/* Scan: every token row in id order (the order rows were last written,
 * like the log's order), a page at a time so memory stays bounded. Rows
 * written during the scan may or may not be seen, as with the log. */
#include <stdlib.h>

#include "vault/store/pg/pg_pipeline.h"

/* scan_page reads up to TV_PG_SCAN_PAGE_ROWS rows after |after|. */
static tv_status scan_page(tv_pg *pg, uint64_t after, PGresult **out) {
  PGconn *conn = tv_pg_reader_take(pg);
  TV_ENSURE(conn != NULL, TV_E_STORE_UNAVAILABLE);
  uint8_t a[8], b[8];
  tv_pg_put_u64(a, after);
  tv_pg_put_u64(b, TV_PG_SCAN_PAGE_ROWS);
  const char *vals[2] = {(const char *)a, (const char *)b};
  int lens[2] = {8, 8};
  int fmts[2] = {1, 1};
  *out = PQexecPrepared(conn, "tv_scan", 2, vals, lens, fmts, 1);
  int ok = PQresultStatus(*out) == PGRES_TUPLES_OK;
  tv_pg_reader_give(pg, conn, !ok);
  if (!ok) {
    PQclear(*out);
    *out = NULL;
    return TV_E_STORE_UNAVAILABLE;
  }
  return TV_OK;
}

tv_status tv_pg_scan(void *impl, tv_store_scan_fn fn, void *ctx) {
  tv_store_buf buf = {0};
  uint64_t after = 0;
  tv_status st = TV_OK;
  for (;;) {
    PGresult *res = NULL;
    st = scan_page(impl, after, &res);
    if (st != TV_OK) {
      break;
    }
    int rows = PQntuples(res);
    st = tv_pg_buf_reserve(&buf, tv_pg_rows_bytes(res));
    uint8_t *dst = buf.data;
    for (int r = 0; r < rows && st == TV_OK; r++) {
      tv_store_item it;
      st = tv_pg_row_decode(res, r, &dst, &it);
      if (st == TV_OK) {
        after = it.loc;
        st = fn(ctx, &it.put, it.loc);
      }
    }
    PQclear(res);
    if (st != TV_OK || rows < (int)TV_PG_SCAN_PAGE_ROWS) {
      break;
    }
  }
  tv_store_buf_cleanup(&buf);
  return st;
}
