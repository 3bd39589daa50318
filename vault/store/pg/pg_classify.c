/* Why PUTs of a committed group inserted nothing, asked with one
 * statement for all of them: a PUT's token exists (live, tombstoned or
 * expired: never reissued), or, for a convergent PUT, another writer's
 * live row holds its fingerprint (op->loc then names that row, so the
 * engine can answer the winner's token). One round trip per group with
 * conflicts instead of one or two per conflicting PUT, on the writer's
 * connection, which no other group can use meanwhile. */
#include <stdlib.h>
#include <string.h>

#include "vault/store/pg/pg_internal.h"

/* The statement's three array parameters (namespace, token, fingerprint
 * of each conflicting PUT). */
typedef struct classify_args {
  const uint8_t *ptrs[3][TV_PG_BATCH_OPS_MAX];
  size_t lens[3][TV_PG_BATCH_OPS_MAX];
  tv_store_buf arr[3];
  size_t arr_len[3];
} classify_args;

static tv_status args_encode(classify_args *a, tv_store_op *const *ops, const size_t *which, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const tv_record_put *p = &ops[which[i]]->put;
    a->ptrs[0][i] = p->ns;
    a->lens[0][i] = p->ns_len;
    a->ptrs[1][i] = p->token;
    a->lens[1][i] = p->token_len;
    a->ptrs[2][i] = p->fingerprint;
    a->lens[2][i] = TV_RECORD_FINGERPRINT_LEN;
  }
  for (int c = 0; c < 3; c++) {
    TV_TRY(tv_pg_bytea_array(a->ptrs[c], a->lens[c], n, &a->arr[c], &a->arr_len[c]));
  }
  return TV_OK;
}

static uint64_t id_at(const PGresult *res, int row, int col) {
  return !PQgetisnull(res, row, col) && PQgetlength(res, row, col) == 8 ? tv_pg_get_u64(PQgetvalue(res, row, col))
                                                                         : 0;
}

/* classify_row applies one answer (token's row id, fingerprint winner's
 * row id; 0: none) to |op|. */
static tv_status classify_row(tv_store_op *op, uint64_t token_id, uint64_t winner_id) {
  if (token_id != 0 || (op->flags & TV_STORE_OP_FP_UNIQUE) == 0 || winner_id == 0) {
    return TV_E_STORE_TOKEN_EXISTS; /* no winner: it went away meanwhile, try another token */
  }
  op->loc = winner_id;
  return TV_E_STORE_FINGERPRINT_EXISTS;
}

static tv_status classify_run(PGconn *conn, classify_args *a, tv_store_op *const *ops, const size_t *which, size_t n,
                              tv_status *status) {
  TV_TRY(args_encode(a, ops, which, n));
  const char *vals[3] = {(const char *)a->arr[0].data, (const char *)a->arr[1].data, (const char *)a->arr[2].data};
  int lens[3] = {(int)a->arr_len[0], (int)a->arr_len[1], (int)a->arr_len[2]};
  int fmts[3] = {1, 1, 1};
  PGresult *res = PQexecPrepared(conn, "tv_classify", 3, vals, lens, fmts, 1);
  tv_status st = PQresultStatus(res) == PGRES_TUPLES_OK && PQnfields(res) == 3 ? TV_OK : tv_pg_result_status(conn, res);
  for (int r = 0; st == TV_OK && r < PQntuples(res); r++) {
    uint64_t ord = id_at(res, r, 0);
    if (ord >= 1 && ord <= n) {
      size_t i = which[ord - 1];
      status[i] = classify_row(ops[i], id_at(res, r, 1), id_at(res, r, 2));
    }
  }
  PQclear(res);
  return st;
}

tv_status tv_pg_classify_conflicts(PGconn *conn, tv_store_op *const *ops, size_t n, tv_status *status) {
  size_t which[TV_PG_BATCH_OPS_MAX];
  size_t m = 0;
  for (size_t i = 0; i < n && i < TV_PG_BATCH_OPS_MAX; i++) {
    if (status[i] == TV_E_STORE_TOKEN_EXISTS) {
      which[m++] = i;
    }
  }
  if (m == 0) {
    return TV_OK;
  }
  classify_args *a = calloc(1, sizeof *a);
  tv_status st = a != NULL ? classify_run(conn, a, ops, which, m, status) : TV_E_NO_MEMORY;
  for (size_t i = 0; st != TV_OK && i < m; i++) {
    status[which[i]] = st; /* not known why: the op fails with the reason */
  }
  for (int c = 0; a != NULL && c < 3; c++) {
    tv_store_buf_cleanup(&a->arr[c]);
  }
  free(a);
  return st;
}
