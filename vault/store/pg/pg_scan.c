/* Scan: every token row in id order (the order rows were last written,
 * like the log's order), a page at a time so memory stays bounded. Only
 * rows written before the scan started are visited (ids up to the
 * largest then): a row re-put during the scan gets a new, larger id and
 * is not visited twice, as with the log. */
#include <stdlib.h>

#include "vault/store/pg/pg_pipeline.h"

/* One page's query: its bounds and its result. */
typedef struct page_call {
  uint64_t after, last;
  PGresult *res;
} page_call;

static tv_status page_on(PGconn *conn, void *ctx) {
  page_call *p = ctx;
  uint8_t a[8], b[8], c[8];
  tv_pg_put_u64(a, p->after);
  tv_pg_put_u64(b, TV_PG_SCAN_PAGE_ROWS);
  tv_pg_put_u64(c, p->last);
  const char *vals[3] = {(const char *)a, (const char *)b, (const char *)c};
  int lens[3] = {8, 8, 8};
  int fmts[3] = {1, 1, 1};
  PQclear(p->res); /* a failed first run's result */
  p->res = p->last == 0 ? PQexecPrepared(conn, "tv_max_id", 0, NULL, NULL, NULL, 1)
                        : PQexecPrepared(conn, "tv_scan", 3, vals, lens, fmts, 1);
  return PQresultStatus(p->res) == PGRES_TUPLES_OK ? TV_OK : tv_pg_read_failure(conn, p->res);
}

/* scan_page reads up to TV_PG_SCAN_PAGE_ROWS rows in (after, last]; with
 * |last| 0 it reads the largest id into |*out| instead. */
static tv_status scan_page(tv_pg *pg, uint64_t after, uint64_t last, PGresult **out) {
  page_call p = {after, last, NULL};
  tv_status st = tv_pg_reader_run(pg, page_on, &p);
  if (st != TV_OK) {
    PQclear(p.res);
    p.res = NULL;
  }
  *out = p.res;
  return st;
}

tv_status tv_pg_scan(void *impl, tv_store_scan_fn fn, void *ctx) {
  PGresult *top = NULL;
  TV_TRY(scan_page(impl, 0, 0, &top));
  uint64_t last = PQntuples(top) == 1 && PQgetlength(top, 0, 0) == 8 ? tv_pg_get_u64(PQgetvalue(top, 0, 0)) : 0;
  PQclear(top);
  if (last == 0) {
    return TV_OK; /* no rows */
  }
  tv_store_buf buf = {0};
  uint64_t after = 0;
  tv_status st = TV_OK;
  for (;;) {
    PGresult *res = NULL;
    st = scan_page(impl, after, last, &res);
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
