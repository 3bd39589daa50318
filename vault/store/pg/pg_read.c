/* Point reads: get_batch (by namespace and token), read_locations (by
 * row id) and find_fingerprint, each one round trip per chunk of keys on
 * a pooled reader connection. */
#include <stdlib.h>
#include <string.h>

#include "vault/store/pg/pg_pipeline.h"

/* A batch of single-row lookups and their results. */
typedef struct lookup {
  tv_pg_stmt *stmts;
  PGresult **res;
  size_t n;
} lookup;

static tv_status lookup_alloc(lookup *l, size_t n) {
  l->n = n;
  l->stmts = calloc(n > 0 ? n : 1, sizeof *l->stmts);
  l->res = calloc(n > 0 ? n : 1, sizeof *l->res);
  TV_ENSURE(l->stmts != NULL && l->res != NULL, TV_E_NO_MEMORY);
  return TV_OK;
}

static void lookup_free(lookup *l) {
  if (l->res != NULL) {
    tv_pg_results_clear(l->res, l->n);
  }
  free(l->res);
  free(l->stmts);
}

/* lookup_run sends the statements in chunks on one reader connection. */
static tv_status lookup_run(tv_pg *pg, lookup *l) {
  PGconn *conn = tv_pg_reader_take(pg);
  TV_ENSURE(conn != NULL, TV_E_STORE_UNAVAILABLE);
  tv_status st = TV_OK;
  for (size_t at = 0; at < l->n && st == TV_OK; at += TV_PG_READ_CHUNK_MAX) {
    size_t k = l->n - at < TV_PG_READ_CHUNK_MAX ? l->n - at : TV_PG_READ_CHUNK_MAX;
    st = tv_pg_pipeline_send(conn, l->stmts + at, k);
    if (st == TV_OK) {
      st = tv_pg_pipeline_collect(conn, k, l->res + at);
    }
  }
  /* A read never fails for a data reason: any failure is the connection's. */
  tv_pg_reader_give(pg, conn, st != TV_OK);
  return st == TV_OK ? TV_OK : TV_E_STORE_UNAVAILABLE;
}

/* lookup_decode fills one item per lookup: its row or NOT_FOUND. */
static tv_status lookup_decode(lookup *l, tv_store_item *out, tv_store_buf *buf) {
  size_t total = 0;
  for (size_t i = 0; i < l->n; i++) {
    total += tv_pg_rows_bytes(l->res[i]);
  }
  TV_TRY(tv_pg_buf_reserve(buf, total));
  uint8_t *dst = buf->data;
  for (size_t i = 0; i < l->n; i++) {
    if (PQntuples(l->res[i]) == 0) {
      memset(&out[i], 0, sizeof out[i]);
      out[i].status = TV_E_STORE_NOT_FOUND;
      continue;
    }
    tv_status st = tv_pg_row_decode(l->res[i], 0, &dst, &out[i]);
    if (st != TV_OK) {
      out[i].status = st;
    }
  }
  return TV_OK;
}

static int key_ok(const tv_store_key *k) {
  return k->ns != NULL && k->token != NULL && k->ns_len > 0 && k->ns_len <= TV_STORE_NAMESPACE_LEN_MAX &&
         k->token_len > 0 && k->token_len <= TV_STORE_TOKEN_LEN_MAX;
}

tv_status tv_pg_get_batch(void *impl, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                          tv_store_buf *buf) {
  lookup l = {0};
  tv_status st = lookup_alloc(&l, num_keys);
  size_t n = 0;
  size_t *slot = calloc(num_keys > 0 ? num_keys : 1, sizeof *slot);
  st = st == TV_OK && slot == NULL ? TV_E_NO_MEMORY : st;
  for (size_t i = 0; st == TV_OK && i < num_keys; i++) {
    memset(&out_items[i], 0, sizeof out_items[i]);
    if (!key_ok(&keys[i])) {
      out_items[i].status = TV_E_INVALID_ARGUMENT;
      continue;
    }
    tv_pg_stmt *s = &l.stmts[n];
    s->prepared = "tv_get";
    s->nparams = 2;
    tv_pg_param_bytes(s, 0, keys[i].ns, keys[i].ns_len);
    tv_pg_param_bytes(s, 1, keys[i].token, keys[i].token_len);
    slot[n++] = i;
  }
  l.n = n;
  tv_store_item *tmp = st == TV_OK ? calloc(n > 0 ? n : 1, sizeof *tmp) : NULL;
  st = st == TV_OK && tmp == NULL ? TV_E_NO_MEMORY : st;
  if (st == TV_OK && n > 0 && (st = lookup_run(impl, &l)) == TV_OK && (st = lookup_decode(&l, tmp, buf)) == TV_OK) {
    for (size_t j = 0; j < n; j++) {
      out_items[slot[j]] = tmp[j];
    }
  }
  free(tmp);
  free(slot);
  lookup_free(&l);
  return st;
}

tv_status tv_pg_read_locations(void *impl, const tv_store_loc *locs, size_t num, tv_store_item *out_items,
                               tv_store_buf *buf) {
  lookup l = {0};
  tv_status st = lookup_alloc(&l, num);
  for (size_t i = 0; st == TV_OK && i < num; i++) {
    tv_pg_stmt *s = &l.stmts[i];
    s->prepared = "tv_get_id";
    s->nparams = 1;
    tv_pg_param_u64(s, 0, 0, locs[i]);
  }
  if (st == TV_OK && num > 0 && (st = lookup_run(impl, &l)) == TV_OK) {
    st = lookup_decode(&l, out_items, buf);
    for (size_t i = 0; st == TV_OK && i < num; i++) {
      if (out_items[i].status == TV_E_STORE_NOT_FOUND) {
        out_items[i].status = TV_E_INVALID_ARGUMENT; /* not (or no longer) a location of this store */
      }
    }
  }
  lookup_free(&l);
  return st;
}

tv_status tv_pg_find_fingerprint(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t fp[16],
                                 tv_store_item *out_items, size_t items_max, size_t *out_num, tv_store_buf *buf) {
  *out_num = 0;
  TV_ENSURE(ns_len > 0 && ns_len <= TV_STORE_NAMESPACE_LEN_MAX, TV_E_INVALID_ARGUMENT);
  /* Like the log: |*out_num| counts the matches (up to the candidates
   * limit) even beyond |items_max|, so a caller can tell it saw them all. */
  size_t limit = items_max > TV_STORE_CANDIDATES_MAX ? items_max : TV_STORE_CANDIDATES_MAX;
  lookup l = {0};
  tv_status st = lookup_alloc(&l, 1);
  if (st == TV_OK) {
    tv_pg_stmt *s = &l.stmts[0];
    s->prepared = "tv_find_fp";
    s->nparams = 3;
    tv_pg_param_bytes(s, 0, ns, ns_len);
    tv_pg_param_bytes(s, 1, fp, TV_RECORD_FINGERPRINT_LEN);
    tv_pg_param_u64(s, 2, 0, limit);
    st = lookup_run(impl, &l);
  }
  if (st == TV_OK && (st = tv_pg_buf_reserve(buf, tv_pg_rows_bytes(l.res[0]))) == TV_OK) {
    uint8_t *dst = buf->data;
    int rows = PQntuples(l.res[0]);
    for (int r = 0; r < rows && (size_t)r < items_max && st == TV_OK; r++) {
      st = tv_pg_row_decode(l.res[0], r, &dst, &out_items[r]);
    }
    *out_num = st == TV_OK ? (size_t)rows : 0;
  }
  lookup_free(&l);
  return st;
}
