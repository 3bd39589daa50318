/* The fleet's advisory lock on the HSM's counters (pg_counter_lock.h). */
#include "vault/store/pg/pg_counter_lock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/store/pg/pg_internal.h"

struct tv_pg_counter_lock {
  char *conninfo;
  pthread_mutex_t mu; /* held from lock to unlock: the connection is the lock's */
  PGconn *conn;       /* NULL after a failure: reconnected by the next lock */
};

/* Runs |sql| (no parameters) and says whether the server answered with
 * rows or completion. */
static int exec_ok(PGconn *conn, const char *sql) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType s = PQresultStatus(res);
  PQclear(res);
  return s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
}

static PGconn *connect_locked(tv_pg_counter_lock *l, char *why, size_t why_len) {
  if (l->conn != NULL && PQstatus(l->conn) != CONNECTION_OK) {
    PQfinish(l->conn);
    l->conn = NULL;
  }
  if (l->conn == NULL) {
    l->conn = tv_pg_connect(l->conninfo, 0, why, why_len);
    char sql[64];
    snprintf(sql, sizeof sql, "SET lock_timeout = %u", TV_PG_COUNTER_LOCK_WAIT_MS);
    if (l->conn != NULL && !exec_ok(l->conn, sql)) {
      snprintf(why, why_len, "SET lock_timeout: %s", PQerrorMessage(l->conn));
      PQfinish(l->conn);
      l->conn = NULL;
    }
  }
  return l->conn;
}

/* One try at the lock (|mu| held); a lost connection is dropped. */
static tv_status lock_once(tv_pg_counter_lock *l) {
  char why[256] = "";
  PGconn *conn = connect_locked(l, why, sizeof why);
  char sql[64];
  snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d)", TV_PG_COUNTER_LOCK_KEY);
  if (conn != NULL && exec_ok(conn, sql)) {
    return TV_OK;
  }
  tv_status st = conn != NULL ? tv_pg_failed_status(conn) : TV_E_STORE_UNAVAILABLE;
  if (conn != NULL && st == TV_E_STORE_UNAVAILABLE) {
    PQfinish(l->conn);
    l->conn = NULL;
  }
  return st;
}

static tv_status lock_fn(void *ctx) {
  tv_pg_counter_lock *l = ctx;
  pthread_mutex_lock(&l->mu);
  tv_status st = lock_once(l);
  if (st == TV_E_STORE_UNAVAILABLE) {
    /* A connection the server closed while idle (a restart, a failover)
     * is only noticed when used: once more on a new one. */
    st = lock_once(l);
  }
  if (st != TV_OK) {
    pthread_mutex_unlock(&l->mu);
  }
  return st; /* TV_OK: |mu| stays held until unlock_fn */
}

static void unlock_fn(void *ctx) {
  tv_pg_counter_lock *l = ctx;
  char sql[64];
  snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d)", TV_PG_COUNTER_LOCK_KEY);
  if (!exec_ok(l->conn, sql)) {
    /* The session may still hold the lock: end it, which releases it. */
    PQfinish(l->conn);
    l->conn = NULL;
  }
  pthread_mutex_unlock(&l->mu);
}

tv_status tv_pg_counter_lock_new(tv_pg_counter_lock **out, const char *conninfo, char *why, size_t why_len) {
  TV_ENSURE(out != NULL && conninfo != NULL, TV_E_INVALID_ARGUMENT);
  *out = NULL;
  tv_pg_counter_lock *l = calloc(1, sizeof *l);
  TV_ENSURE(l != NULL, TV_E_NO_MEMORY);
  l->conninfo = strdup(conninfo);
  if (l->conninfo == NULL || pthread_mutex_init(&l->mu, NULL) != 0) {
    free(l->conninfo);
    free(l);
    return TV_E_NO_MEMORY;
  }
  if (connect_locked(l, why, why_len) == NULL) {
    tv_pg_counter_lock_free(l);
    return TV_E_STORE_UNAVAILABLE;
  }
  *out = l;
  return TV_OK;
}

void tv_pg_counter_lock_guard(tv_pg_counter_lock *l, tv_hsm_counter_guard *out) {
  *out = (tv_hsm_counter_guard){.lock = lock_fn, .unlock = unlock_fn, .ctx = l};
}

void tv_pg_counter_lock_free(tv_pg_counter_lock *l) {
  if (l == NULL) {
    return;
  }
  PQfinish(l->conn);
  pthread_mutex_destroy(&l->mu);
  free(l->conninfo);
  free(l);
}
