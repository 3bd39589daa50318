/* Point reads: get_batch (by namespace and token), read_locations (by
 * row id) and find_fingerprint(s), each one round trip per chunk of keys
 * on a pooled reader connection. */
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

/* lookup_on sends the statements in chunks on one reader connection. */
static tv_status lookup_on(PGconn *conn, void *ctx) {
  lookup *l = ctx;
  tv_pg_results_clear(l->res, l->n); /* a failed first run's leftovers */
  tv_status st = TV_OK;
  for (size_t at = 0; at < l->n && st == TV_OK; at += TV_PG_READ_CHUNK_MAX) {
    size_t k = l->n - at < TV_PG_READ_CHUNK_MAX ? l->n - at : TV_PG_READ_CHUNK_MAX;
    st = tv_pg_pipeline_send(conn, l->stmts + at, k);
    if (st == TV_OK) {
      st = tv_pg_pipeline_collect(conn, k, l->res + at);
    }
  }
  return st;
}

static tv_status lookup_run(tv_pg *pg, lookup *l) { return tv_pg_reader_run(pg, lookup_on, l); }

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

/* Keys of a get_batch as parallel arrays, malformed ones left out. */
typedef struct key_arrays {
  const uint8_t **ns, **token;
  size_t *ns_len, *token_len, *slot;
  size_t n;
} key_arrays;

static void key_arrays_free(key_arrays *k) {
  free(k->ns);
  free(k->token);
  free(k->ns_len);
  free(k->token_len);
  free(k->slot);
}

static tv_status key_arrays_fill(key_arrays *k, const tv_store_key *keys, size_t num, tv_store_item *out) {
  size_t m = num > 0 ? num : 1;
  k->ns = calloc(m, sizeof *k->ns);
  k->token = calloc(m, sizeof *k->token);
  k->ns_len = calloc(m, sizeof *k->ns_len);
  k->token_len = calloc(m, sizeof *k->token_len);
  k->slot = calloc(m, sizeof *k->slot);
  TV_ENSURE(k->ns != NULL && k->token != NULL && k->ns_len != NULL && k->token_len != NULL && k->slot != NULL,
            TV_E_NO_MEMORY);
  for (size_t i = 0; i < num; i++) {
    memset(&out[i], 0, sizeof out[i]);
    out[i].status = key_ok(&keys[i]) ? TV_E_STORE_NOT_FOUND : TV_E_INVALID_ARGUMENT;
    if (out[i].status == TV_E_STORE_NOT_FOUND) {
      k->ns[k->n] = keys[i].ns;
      k->ns_len[k->n] = keys[i].ns_len;
      k->token[k->n] = keys[i].token;
      k->token_len[k->n] = keys[i].token_len;
      k->slot[k->n++] = i;
    }
  }
  return TV_OK;
}

/* The one-statement lookup: its two array parameters and its result,
 * and optionally a statement run just before it on the same connection
 * in the same round trip (a standby's replay position) and its result. */
typedef struct get_many_call {
  tv_store_buf ns_arr, tok_arr;
  size_t ns_len, tok_len;
  PGresult *res;
  const char *first_sql;
  PGresult *first_res;
} get_many_call;

static int get_many_ok(const PGresult *res) {
  return PQresultStatus(res) == PGRES_TUPLES_OK && (PQntuples(res) == 0 || PQnfields(res) == TV_PG_ROW_NCOLS + 1);
}

/* get_many_with_first sends |c->first_sql| and the lookup as one
 * pipeline, in one READ COMMITTED transaction whatever the server's
 * default: the lookup's snapshot is then taken after |first_sql| ran, so
 * it sees at least what |first_sql| saw. */
static tv_status get_many_with_first(PGconn *conn, get_many_call *c) {
  tv_pg_stmt stmts[4] = {{.sql = "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY"},
                         {.sql = c->first_sql},
                         {.prepared = "tv_get_many", .nparams = 2},
                         {.sql = "COMMIT"}};
  tv_pg_param_bytes(&stmts[2], 0, c->ns_arr.data, c->ns_len);
  tv_pg_param_bytes(&stmts[2], 1, c->tok_arr.data, c->tok_len);
  PGresult *res[4] = {NULL, NULL, NULL, NULL};
  tv_status st = tv_pg_pipeline_send(conn, stmts, 4);
  if (st == TV_OK) {
    st = tv_pg_pipeline_collect(conn, 4, res);
  }
  c->first_res = res[1];
  c->res = res[2];
  PQclear(res[0]);
  PQclear(res[3]);
  if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
    /* A statement failed inside the BEGIN (e.g. cancelled for its
     * timeout, which keeps the connection): the sync leaves an explicit
     * transaction open and aborted; end it so the connection is reusable. */
    PQclear(PQexec(conn, "ROLLBACK"));
  }
  return st == TV_OK && get_many_ok(c->res) ? TV_OK : tv_pg_read_failure(conn, c->res);
}

static tv_status get_many_on(PGconn *conn, void *ctx) {
  get_many_call *c = ctx;
  PQclear(c->res); /* a failed first run's results */
  PQclear(c->first_res);
  c->res = c->first_res = NULL;
  if (c->first_sql != NULL) {
    return get_many_with_first(conn, c);
  }
  const char *vals[2] = {(const char *)c->ns_arr.data, (const char *)c->tok_arr.data};
  int lens[2] = {(int)c->ns_len, (int)c->tok_len};
  int fmts[2] = {1, 1};
  c->res = PQexecPrepared(conn, "tv_get_many", 2, vals, lens, fmts, 1);
  return get_many_ok(c->res) ? TV_OK : tv_pg_read_failure(conn, c->res);
}

/* get_many runs the one-statement lookup of |k| and returns its result
 * (and |c->first_sql|'s in |c->first_res|). */
static tv_status get_many(tv_pg *pg, const key_arrays *k, get_many_call *c, PGresult **out) {
  tv_status st = tv_pg_bytea_array(k->ns, k->ns_len, k->n, &c->ns_arr, &c->ns_len);
  if (st == TV_OK) {
    st = tv_pg_bytea_array(k->token, k->token_len, k->n, &c->tok_arr, &c->tok_len);
  }
  if (st == TV_OK) {
    st = tv_pg_reader_run(pg, get_many_on, c);
  }
  if (st == TV_OK) {
    *out = c->res;
  } else {
    PQclear(c->res);
  }
  c->res = NULL;
  tv_store_buf_cleanup(&c->ns_arr);
  tv_store_buf_cleanup(&c->tok_arr);
  return st;
}

tv_status tv_pg_get_batch(void *impl, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                          tv_store_buf *buf) {
  return tv_pg_get_batch_first(impl, NULL, NULL, keys, num_keys, out_items, buf);
}

tv_status tv_pg_get_batch_first(tv_pg *pg, const char *first_sql, PGresult **out_first, const tv_store_key *keys,
                                size_t num_keys, tv_store_item *out_items, tv_store_buf *buf) {
  key_arrays k = {0};
  get_many_call c = {.first_sql = first_sql};
  PGresult *res = NULL;
  tv_status st = key_arrays_fill(&k, keys, num_keys, out_items);
  if (st == TV_OK && k.n > 0 && (st = get_many(pg, &k, &c, &res)) == TV_OK &&
      (st = tv_pg_buf_reserve(buf, tv_pg_rows_bytes(res))) == TV_OK) {
    uint8_t *dst = buf->data;
    for (int r = 0; r < PQntuples(res); r++) {
      uint64_t ord = PQgetlength(res, r, TV_PG_ROW_NCOLS) == 8 ? tv_pg_get_u64(PQgetvalue(res, r, TV_PG_ROW_NCOLS)) : 0;
      if (ord == 0 || ord > k.n) {
        continue; /* cannot happen: ordinality counts from 1 */
      }
      tv_store_item *it = &out_items[k.slot[ord - 1]];
      tv_status dst_st = tv_pg_row_decode(res, r, &dst, it);
      if (dst_st != TV_OK) {
        it->status = dst_st;
      }
    }
  }
  PQclear(res);
  key_arrays_free(&k);
  if (out_first != NULL && st == TV_OK) {
    *out_first = c.first_res; /* NULL when no key was well-formed: nothing was read */
  } else {
    PQclear(c.first_res);
  }
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

/* The one-statement lookup of many fingerprints: its parameters and
 * result. */
typedef struct find_fps_call {
  const uint8_t *ns;
  size_t ns_len;
  tv_store_buf fp_arr;
  size_t fp_len;
  uint8_t limit[8];
  PGresult *res;
} find_fps_call;

static tv_status find_fps_on(PGconn *conn, void *ctx) {
  find_fps_call *c = ctx;
  const char *vals[3] = {(const char *)c->ns, (const char *)c->fp_arr.data, (const char *)c->limit};
  int lens[3] = {(int)c->ns_len, (int)c->fp_len, 8};
  int fmts[3] = {1, 1, 1};
  PQclear(c->res); /* a failed first run's result */
  c->res = PQexecPrepared(conn, "tv_find_fps", 3, vals, lens, fmts, 1);
  int ok = PQresultStatus(c->res) == PGRES_TUPLES_OK &&
           (PQntuples(c->res) == 0 || PQnfields(c->res) == TV_PG_ROW_NCOLS + 1);
  return ok ? TV_OK : tv_pg_read_failure(conn, c->res);
}

/* find_fps_place puts each row of |res| in its fingerprint's slots. */
static tv_status find_fps_place(const PGresult *res, size_t num_fps, size_t per_fp_max, tv_store_item *out_items,
                                size_t *out_counts, tv_store_buf *buf) {
  TV_TRY(tv_pg_buf_reserve(buf, tv_pg_rows_bytes(res)));
  uint8_t *dst = buf->data;
  for (int r = 0; r < PQntuples(res); r++) {
    uint64_t ord = PQgetlength(res, r, TV_PG_ROW_NCOLS) == 8 ? tv_pg_get_u64(PQgetvalue(res, r, TV_PG_ROW_NCOLS)) : 0;
    if (ord == 0 || ord > num_fps || out_counts[ord - 1] >= per_fp_max) {
      continue; /* cannot happen: ordinality counts from 1, LIMIT per_fp_max */
    }
    tv_store_item *it = &out_items[(ord - 1) * per_fp_max + out_counts[ord - 1]++];
    tv_status st = tv_pg_row_decode(res, r, &dst, it);
    if (st != TV_OK) {
      it->status = st;
    }
  }
  return TV_OK;
}

tv_status tv_pg_find_fingerprints(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t *fps,
                                  size_t num_fps, size_t per_fp_max, tv_store_item *out_items, size_t *out_counts,
                                  tv_store_buf *buf) {
  TV_ENSURE(ns_len > 0 && ns_len <= TV_STORE_NAMESPACE_LEN_MAX, TV_E_INVALID_ARGUMENT);
  const uint8_t **ptrs = malloc(num_fps * sizeof *ptrs);
  size_t *lens = malloc(num_fps * sizeof *lens);
  find_fps_call c = {.ns = ns, .ns_len = ns_len};
  tv_pg_put_u64(c.limit, per_fp_max);
  tv_status st = ptrs != NULL && lens != NULL ? TV_OK : TV_E_NO_MEMORY;
  for (size_t i = 0; st == TV_OK && i < num_fps; i++) {
    ptrs[i] = fps + i * TV_RECORD_FINGERPRINT_LEN;
    lens[i] = TV_RECORD_FINGERPRINT_LEN;
    out_counts[i] = 0;
  }
  if (st == TV_OK) {
    st = tv_pg_bytea_array(ptrs, lens, num_fps, &c.fp_arr, &c.fp_len);
  }
  if (st == TV_OK) {
    st = tv_pg_reader_run(impl, find_fps_on, &c);
  }
  if (st == TV_OK) {
    st = find_fps_place(c.res, num_fps, per_fp_max, out_items, out_counts, buf);
  }
  PQclear(c.res);
  tv_store_buf_cleanup(&c.fp_arr);
  free(ptrs);
  free(lens);
  return st;
}
