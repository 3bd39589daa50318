/* The submit path: a queue of operations and one writer thread that
 * commits them in groups — BEGIN, one statement per operation, COMMIT,
 * sent as one pipeline (one round trip, one WAL flush for the group) —
 * and only then runs each operation's |done|. A lost connection fails
 * the group with TV_E_STORE_UNAVAILABLE (never an acknowledgement of
 * something not committed) and the next group reconnects. */
#include <stdlib.h>
#include <string.h>

#include "vault/store/pg/pg_pipeline.h"
#include "vault/util/clock.h"

int tv_pg_record_state(const tv_record_put *p) {
  if (p->key_version != 0) {
    return TV_PG_STATE_LIVE;
  }
  return p->expires_ms == 0 ? TV_PG_STATE_DELETED : TV_PG_STATE_EXPIRED_STUB;
}

static int op_fields_ok(const tv_store_op *op) {
  const tv_record_put *p = &op->put;
  int key_ok = p->ns != NULL && p->token != NULL && p->ns_len > 0 && p->ns_len <= TV_STORE_NAMESPACE_LEN_MAX &&
               p->token_len > 0 && p->token_len <= TV_STORE_TOKEN_LEN_MAX;
  if (op->kind == TV_STORE_OP_DELETE) {
    return key_ok;
  }
  return key_ok && p->ciphertext_len <= TV_STORE_CIPHERTEXT_LEN_MAX &&
         (p->ciphertext != NULL || p->ciphertext_len == 0) && p->metadata_len <= TV_STORE_METADATA_LEN_MAX &&
         (p->metadata != NULL || p->metadata_len == 0) && p->created_ms <= INT64_MAX && p->expires_ms <= INT64_MAX;
}

/* bind_op fills |s| with |op|'s statement and binary parameters. */
static void bind_op(tv_pg_stmt *s, const tv_store_op *op) {
  const tv_record_put *p = &op->put;
  memset(s, 0, sizeof *s);
  tv_pg_param_bytes(s, 0, p->ns, p->ns_len);
  tv_pg_param_bytes(s, 1, p->token, p->token_len);
  if (op->kind == TV_STORE_OP_DELETE) {
    s->prepared = "tv_delete";
    s->nparams = 2;
    return;
  }
  s->prepared = op->kind == TV_STORE_OP_PUT ? "tv_put" : "tv_reput";
  s->nparams = 12;
  s->flag = (op->flags & TV_STORE_OP_FP_UNIQUE) != 0 && p->key_version != 0;
  tv_pg_param_bytes(s, 2, p->fingerprint, TV_RECORD_FINGERPRINT_LEN);
  tv_pg_param_bytes(s, 3, &s->flag, 1);
  tv_pg_param_u64(s, 4, 0, p->key_version);
  tv_pg_param_bytes(s, 5, p->nonce, TV_RECORD_NONCE_LEN);
  tv_pg_param_u64(s, 6, 1, p->created_ms);
  tv_pg_param_u64(s, 7, 2, p->expires_ms);
  tv_pg_param_bytes(s, 8, p->ciphertext, p->ciphertext_len);
  tv_pg_param_bytes(s, 9, p->tag, TV_RECORD_TAG_LEN);
  tv_pg_param_bytes(s, 10, p->metadata, p->metadata_len);
  tv_pg_param_u64(s, 11, 3, (uint64_t)tv_pg_record_state(p));
}

/* A group in flight: statements [BEGIN, ops..., COMMIT] and results. */
typedef struct group {
  tv_store_op *ops[TV_PG_BATCH_OPS_MAX];
  tv_status status[TV_PG_BATCH_OPS_MAX];
  tv_pg_stmt stmts[TV_PG_BATCH_OPS_MAX + 2];
  PGresult *res[TV_PG_BATCH_OPS_MAX + 2];
  size_t n;
} group;

/* group_commit runs ops [0, n) of |g| as one transaction and sets each
 * op's status: TV_OK (committed), NOT_FOUND or a conflict for an op that
 * wrote nothing. Returns a failure that hit the whole group instead. */
static tv_status group_commit(PGconn *conn, group *g, size_t first, size_t n) {
  memset(g->stmts, 0, (n + 2) * sizeof g->stmts[0]);
  memset(g->res, 0, (n + 2) * sizeof g->res[0]);
  g->stmts[0].sql = "BEGIN";
  for (size_t i = 0; i < n; i++) {
    bind_op(&g->stmts[i + 1], g->ops[first + i]);
  }
  g->stmts[n + 1].sql = "COMMIT";
  tv_status st = tv_pg_pipeline_send(conn, g->stmts, n + 2);
  if (st == TV_OK) {
    st = tv_pg_pipeline_collect(conn, n + 2, g->res);
  }
  for (size_t i = 0; i < n && st == TV_OK; i++) {
    tv_store_op *op = g->ops[first + i];
    const PGresult *r = g->res[i + 1];
    if (PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 8) {
      op->loc = op->seq = tv_pg_get_u64(PQgetvalue(r, 0, 0));
      g->status[first + i] = TV_OK;
    } else {
      g->status[first + i] = op->kind == TV_STORE_OP_PUT ? TV_E_STORE_TOKEN_EXISTS : TV_E_STORE_NOT_FOUND;
    }
  }
  tv_pg_results_clear(g->res, n + 2);
  if (st != TV_OK && PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
    PQclear(PQexec(conn, "ROLLBACK"));
  }
  return st;
}

/* ensure_conn (re)connects the writer; NULL while the database is gone. */
static PGconn *ensure_conn(tv_pg *pg) {
  /* A connection the server closed while we were idle (a restart) is
   * replaced before the group, so the group does not fail for it. */
  if (pg->wconn != NULL && !tv_pg_conn_alive(pg->wconn)) {
    PQfinish(pg->wconn);
    pg->wconn = NULL;
  }
  if (pg->wconn == NULL) {
    char why[256];
    pg->wconn = tv_pg_connect_session(pg, why, sizeof why);
    if (pg->wconn != NULL) {
      tv_pg_writer_connected(pg, pg->wconn);
    }
  }
  return pg->wconn;
}

/* run_group commits the group; when the server refused a statement (a
 * data error, not the connection), each op is retried alone so only the
 * culprit fails. Conflicting PUTs are then classified. */
static tv_status run_group(tv_pg *pg, group *g) {
  PGconn *conn = ensure_conn(pg);
  TV_ENSURE(conn != NULL, TV_E_STORE_UNAVAILABLE);
  size_t puts = 0;
  while (puts < g->n && g->ops[puts]->kind == TV_STORE_OP_PUT) {
    puts++;
  }
  /* All PUTs (the common case: tokenize): one multi-row statement. */
  tv_status st = puts == g->n ? tv_pg_put_many(conn, g->ops, g->n, g->status) : group_commit(conn, g, 0, g->n);
  if (st == TV_E_STORE_WRITE_FAILED) {
    st = TV_OK;
    for (size_t i = 0; i < g->n && st != TV_E_STORE_UNAVAILABLE; i++) {
      tv_status one = group_commit(conn, g, i, 1);
      st = one == TV_E_STORE_UNAVAILABLE ? one : TV_OK;
      g->status[i] = one != TV_OK ? one : g->status[i];
    }
  }
  if (st == TV_OK) {
    st = tv_pg_classify_conflicts(conn, g->ops, g->n, g->status);
    /* The group is committed: only a lost connection fails it now. */
    st = st == TV_E_STORE_UNAVAILABLE ? st : TV_OK;
  }
  return st;
}

static void account(tv_pg *pg, const group *g, tv_status st, uint64_t us) {
  pthread_mutex_lock(&pg->mu);
  if (st != TV_OK) {
    pg->stats.failed_batches++;
  } else {
    pg->stats.batches++;
    pg->stats.commits++;
    pg->stats.commit_us_sum += us;
    pg->stats.commit_us_max = us > pg->stats.commit_us_max ? us : pg->stats.commit_us_max;
    pg->stats.commit_buckets[tv_latency_bucket(us)]++;
    tv_pg_account_rows(&pg->stats.ha, g->n);
    for (size_t i = 0; i < g->n; i++) {
      const tv_record_put *p = &g->ops[i]->put;
      pg->stats.records += g->status[i] == TV_OK;
      pg->stats.bytes += g->status[i] == TV_OK ? p->ns_len + p->token_len + p->ciphertext_len + p->metadata_len : 0;
    }
  }
  pthread_mutex_unlock(&pg->mu);
}

static void execute_group(tv_pg *pg, group *g) {
  uint64_t t0 = tv_mono_us();
  tv_status st = run_group(pg, g);
  if (st == TV_E_STORE_UNAVAILABLE) {
    tv_pg_writer_lost(pg); /* lost, or a read-only server: the next group reconnects */
  }
  account(pg, g, st, tv_mono_us() - t0);
  tv_pg_replica_after_group(pg, g->ops, g->n); /* before the acknowledgements */
  for (size_t i = 0; i < g->n; i++) {
    g->ops[i]->done(g->ops[i], st != TV_OK ? st : g->status[i]);
  }
}

/* take_group moves up to TV_PG_BATCH_OPS_MAX queued ops into |g|; 0 when
 * closing with nothing left. */
static int take_group(tv_pg *pg, group *g) {
  pthread_mutex_lock(&pg->mu);
  while (pg->head == NULL && !pg->closing) {
    pthread_cond_wait(&pg->cv, &pg->mu);
  }
  g->n = 0;
  while (pg->head != NULL && g->n < TV_PG_BATCH_OPS_MAX) {
    tv_store_op *op = pg->head;
    pg->head = op->priv.next;
    g->ops[g->n] = op;
    g->status[g->n++] = TV_OK;
  }
  if (pg->head == NULL) {
    pg->tail = NULL;
  }
  pg->queued -= g->n;
  pthread_cond_broadcast(&pg->space_cv);
  pthread_mutex_unlock(&pg->mu);
  return g->n > 0;
}

void *tv_pg_writer_main(void *arg) {
  tv_pg *pg = arg;
  group *g = calloc(1, sizeof *g);
  while (g != NULL && take_group(pg, g)) {
    execute_group(pg, g);
  }
  free(g);
  return NULL;
}

static tv_status enqueue(tv_pg *pg, tv_store_op *op, int wait) {
  TV_ENSURE(op->kind == TV_STORE_OP_PUT || op->kind == TV_STORE_OP_REPUT || op->kind == TV_STORE_OP_DELETE,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE(op_fields_ok(op), TV_E_STORE_RECORD_FIELD);
  pthread_mutex_lock(&pg->mu);
  while (wait && !pg->closing && pg->queued >= TV_PG_QUEUE_OPS_MAX) {
    pthread_cond_wait(&pg->space_cv, &pg->mu);
  }
  tv_status st = pg->closing ? TV_E_STORE_CLOSED : pg->queued >= TV_PG_QUEUE_OPS_MAX ? TV_E_STORE_BUSY : TV_OK;
  if (st == TV_OK) {
    op->priv.next = NULL;
    if (pg->tail != NULL) {
      pg->tail->priv.next = op;
    } else {
      pg->head = op;
    }
    pg->tail = op;
    pg->queued++;
    pthread_cond_signal(&pg->cv);
  }
  pthread_mutex_unlock(&pg->mu);
  return st;
}

tv_status tv_pg_submit(void *impl, tv_store_op *op) { return enqueue(impl, op, 0); }

tv_status tv_pg_submit_wait(void *impl, tv_store_op *op) { return enqueue(impl, op, 1); }
