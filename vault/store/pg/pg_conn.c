/* Connections: the conninfo check (no password in configuration), opening
 * a connection with the backend's statements prepared, and the pool of
 * reader connections. */
#include <stdio.h>
#include <string.h>

#include "vault/store/pg/pg_internal.h"
#include "vault/util/clock.h"

tv_status tv_pg_conninfo_check(const char *conninfo, char *why, size_t why_len) {
  char scratch[8];
  if (why == NULL) {
    why = scratch;
    why_len = sizeof scratch;
  }
  why[0] = '\0';
  TV_ENSURE(conninfo != NULL, TV_E_INVALID_ARGUMENT);
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
  if (opts == NULL) {
    snprintf(why, why_len, "%s", err != NULL ? err : "out of memory");
    PQfreemem(err);
    return TV_E_STORE_CONNINFO;
  }
  tv_status st = TV_OK;
  for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
    if (strcmp(o->keyword, "password") == 0 && o->val != NULL) {
      snprintf(why, why_len, "a password in the connection string is refused; use a password file (PGPASSFILE)");
      st = TV_E_STORE_CONNINFO_PASSWORD;
    }
  }
  PQconninfoFree(opts);
  return st;
}

/* Statement names and texts. Parameters are bound in binary: bytea as
 * raw bytes, bigint as 8 bytes big-endian, boolean as one byte. */
static const struct {
  const char *name;
  const char *sql;
} statements[] = {
    {"tv_put", "INSERT INTO tv_tokens (ns, token, fingerprint, fp_unique, key_version, nonce, created_ms, expires_ms,"
               " ciphertext, tag, metadata, state) VALUES ($1::bytea, $2::bytea, $3::bytea, $4::boolean,"
               " $5::bigint, $6::bytea, $7::bigint, $8::bigint, $9::bytea, $10::bytea, $11::bytea, $12::bigint)"
               " ON CONFLICT DO NOTHING RETURNING id"},
    {"tv_put_many", "INSERT INTO tv_tokens (ns, token, fingerprint, fp_unique, key_version, nonce, created_ms,"
                    " expires_ms, ciphertext, tag, metadata, state) SELECT * FROM unnest($1::bytea[], $2::bytea[],"
                    " $3::bytea[], $4::boolean[], $5::bigint[], $6::bytea[], $7::bigint[], $8::bigint[], $9::bytea[],"
                    " $10::bytea[], $11::bytea[], $12::bigint[]) ON CONFLICT DO NOTHING RETURNING ns, token, id"},
    {"tv_reput", "UPDATE tv_tokens SET id = nextval('tv_tokens_id_seq'), fingerprint = $3::bytea,"
                 " fp_unique = $4::boolean, key_version = $5::bigint, nonce = $6::bytea, created_ms = $7::bigint,"
                 " expires_ms = $8::bigint, ciphertext = $9::bytea, tag = $10::bytea, metadata = $11::bytea,"
                 " state = $12::bigint WHERE ns = $1::bytea AND token = $2::bytea"
                 /* Only a tombstone replaces a deleted token or an expired
                  * stub: another node's re-encryption or stub re-put that
                  * read the row before it was deleted must not bring the
                  * value back (NOT_FOUND instead). */
                 " AND (state = 1 OR $12::bigint = 2) RETURNING id"},
    {"tv_delete", "DELETE FROM tv_tokens WHERE ns = $1::bytea AND token = $2::bytea RETURNING id"},
    /* Why PUTs of a group inserted nothing (pg_classify.c): each one's
     * token row and, for a convergent one, the row holding its
     * fingerprint. */
    {"tv_classify", "SELECT k.i, (SELECT id FROM tv_tokens t WHERE t.ns = k.ns AND t.token = k.token),"
                    " (SELECT id FROM tv_tokens t WHERE t.ns = k.ns AND t.fingerprint = k.fp AND t.fp_unique)"
                    " FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS k(ns, token, fp, i)"},
    {"tv_get", "SELECT " TV_PG_ROW_COLUMNS " FROM tv_tokens WHERE ns = $1::bytea AND token = $2::bytea"},
    /* A batch of keys in one statement: two parallel bytea arrays, each
     * row tagged with its key's position (keys may repeat). */
    {"tv_get_many", "SELECT " TV_PG_ROW_COLUMNS_T ", k.i FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY"
                    " AS k(ns, token, i) JOIN tv_tokens t ON t.ns = k.ns AND t.token = k.token"},
    {"tv_get_id", "SELECT " TV_PG_ROW_COLUMNS " FROM tv_tokens WHERE id = $1::bigint"},
    {"tv_find_fp", "SELECT " TV_PG_ROW_COLUMNS " FROM tv_tokens WHERE ns = $1::bytea AND fingerprint = $2::bytea"
                   " ORDER BY id LIMIT $3::bigint"},
    /* Many fingerprints of one namespace in one statement (a tokenize
     * call's convergent lookups), up to $3 rows each, tagged with the
     * fingerprint's position. */
    {"tv_find_fps", "SELECT " TV_PG_ROW_COLUMNS_T ", k.i FROM unnest($2::bytea[]) WITH ORDINALITY AS k(fp, i)"
                    " CROSS JOIN LATERAL (SELECT * FROM tv_tokens WHERE ns = $1::bytea AND fingerprint = k.fp"
                    " ORDER BY id LIMIT $3::bigint) t ORDER BY k.i, t.id"},
    {"tv_scan", "SELECT " TV_PG_ROW_COLUMNS " FROM tv_tokens WHERE id > $1::bigint AND id <= $3::bigint"
                " ORDER BY id LIMIT $2::bigint"},
    {"tv_max_id", "SELECT coalesce(max(id), 0) FROM tv_tokens"},
    /* Leases (pg_lease.c): taken when free, ours, or expired, by the
     * database's clock so nodes' clocks never matter. */
    {"tv_lease_take", "INSERT INTO tv_leases (name, holder, expires_at, progress) VALUES ($1::text, $2::text,"
                      " clock_timestamp() + $3::bigint * interval '1 millisecond', $4::bytea)"
                      " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,"
                      " progress = excluded.progress WHERE tv_leases.holder = excluded.holder"
                      " OR tv_leases.expires_at < clock_timestamp() RETURNING holder"},
    {"tv_lease_get", "SELECT holder, progress FROM tv_leases WHERE name = $1::text"},
    {"tv_lease_release", "UPDATE tv_leases SET expires_at = clock_timestamp() - interval '1 millisecond'"
                         " WHERE name = $1::text AND holder = $2::text"},
    /* The purge (pg_purge.c): expired values in an id range become their
     * stubs (key version 0 with the expiry, no ciphertext), which give up
     * the fingerprint, as the log's compaction keeps them. */
    {"tv_strip_expired", "UPDATE tv_tokens SET id = nextval('tv_tokens_id_seq'), key_version = 0,"
                         " nonce = '\\x000000000000000000000000'::bytea, tag = '\\x00000000000000000000000000000000'::bytea,"
                         " ciphertext = ''::bytea, state = 3, fp_unique = false"
                         " WHERE id > $1::bigint AND id <= $2::bigint AND state = 1 AND expires_ms <> 0"
                         " AND expires_ms <= $3::bigint"},
};

tv_status tv_pg_prepare_all(PGconn *conn, char *why, size_t why_len) {
  for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++) {
    PGresult *res = PQprepare(conn, statements[i].name, statements[i].sql, 0, NULL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
      snprintf(why, why_len, "preparing %s: %s", statements[i].name, PQerrorMessage(conn));
    }
    PQclear(res);
    if (!ok) {
      return tv_pg_failed_status(conn);
    }
  }
  return TV_OK;
}

PGconn *tv_pg_connect(const char *conninfo, int prepare, char *why, size_t why_len) {
  /* Later keywords override earlier ones: the conninfo (expanded from
   * dbname) may set its own connect_timeout and keepalives. TCP
   * keepalives notice a server host that vanished (no FIN, no RST) in
   * about idle + interval * count seconds instead of the kernel's two
   * hours; Unix sockets ignore them. */
  const char *const keys[] = {"connect_timeout",  "application_name",    "keepalives",
                              "keepalives_idle",  "keepalives_interval", "keepalives_count",
                              "dbname",           NULL};
  const char *const vals[] = {TV_PG_CONNECT_TIMEOUT_S, "tokenvault",
                              "1",                     TV_PG_KEEPALIVES_IDLE_S,
                              TV_PG_KEEPALIVES_INTERVAL_S, TV_PG_KEEPALIVES_COUNT,
                              conninfo,                NULL};
  PGconn *conn = PQconnectdbParams(keys, vals, 1);
  if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
    snprintf(why, why_len, "cannot connect to the database: %s",
             conn != NULL ? PQerrorMessage(conn) : "out of memory");
    PQfinish(conn);
    return NULL;
  }
  if (prepare && tv_pg_prepare_all(conn, why, why_len) != TV_OK) {
    PQfinish(conn);
    return NULL;
  }
  return conn;
}

tv_status tv_pg_failed_status(PGconn *conn) {
  return conn == NULL || PQstatus(conn) != CONNECTION_OK ? TV_E_STORE_UNAVAILABLE : TV_E_STORE_WRITE_FAILED;
}

tv_status tv_pg_read_failure(PGconn *conn, const PGresult *res) {
  return tv_pg_result_status(conn, res) == TV_E_STORE_TIMEOUT ? TV_E_STORE_TIMEOUT : TV_E_STORE_UNAVAILABLE;
}

int tv_pg_conn_alive(PGconn *conn) {
  /* A server that shut down or restarted closed its idle connections
   * (a FATAL message, then end of file): read what has arrived without
   * waiting (libpq's socket is non-blocking), twice for message and EOF. */
  if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
    return 0;
  }
  for (int i = 0; i < 2; i++) {
    if (PQconsumeInput(conn) != 1 || PQstatus(conn) != CONNECTION_OK) {
      return 0;
    }
  }
  return 1;
}

PGconn *tv_pg_connect_session(const tv_pg *pg, char *why, size_t why_len) {
  PGconn *conn = tv_pg_connect(pg->conninfo, 0, why, why_len);
  if (conn == NULL) {
    return NULL;
  }
  /* A statement the database cannot finish in time (locks, a failing
   * disk, an overloaded primary) is cancelled by the server and answered
   * TV_E_STORE_TIMEOUT: the caller's thread is never held indefinitely. */
  char sql[64];
  snprintf(sql, sizeof sql, "SET statement_timeout = %u", (unsigned)pg->statement_timeout_ms);
  PGresult *res = PQexec(conn, sql);
  int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok) {
    snprintf(why, why_len, "setting statement_timeout: %s", PQerrorMessage(conn));
  }
  PQclear(res);
  if (!ok || tv_pg_prepare_all(conn, why, why_len) != TV_OK) {
    PQfinish(conn);
    return NULL;
  }
  return conn;
}

PGconn *tv_pg_reader_take(tv_pg *pg) {
  pthread_mutex_lock(&pg->pool_mu);
  while (pg->num_idle == 0 && pg->num_open >= TV_PG_READERS_MAX) {
    pthread_cond_wait(&pg->pool_cv, &pg->pool_mu);
  }
  while (pg->num_idle > 0) {
    PGconn *conn = pg->idle[--pg->num_idle];
    if (tv_pg_conn_alive(conn)) {
      pthread_mutex_unlock(&pg->pool_mu);
      return conn;
    }
    PQfinish(conn); /* closed by a server restart while idle */
    pg->num_open--;
  }
  if (pg->connect_failed_us != 0 && tv_mono_us() - pg->connect_failed_us < TV_PG_RECONNECT_INTERVAL_US) {
    pg->reads_failed_fast++; /* the last attempt just failed: do not try again yet */
    pthread_mutex_unlock(&pg->pool_mu);
    return NULL;
  }
  pg->num_open++; /* reserve the slot, connect outside the lock */
  pthread_mutex_unlock(&pg->pool_mu);
  char why[256];
  PGconn *conn = tv_pg_connect_session(pg, why, sizeof why);
  pthread_mutex_lock(&pg->pool_mu);
  pg->connect_failed_us = conn == NULL ? tv_mono_us() : 0;
  pg->reader_connect_failures += conn == NULL;
  pthread_mutex_unlock(&pg->pool_mu);
  if (conn == NULL) {
    tv_pg_reader_give(pg, NULL, 1);
  }
  return conn;
}

void tv_pg_reader_give(tv_pg *pg, PGconn *conn, int broken) {
  pthread_mutex_lock(&pg->pool_mu);
  if (broken || conn == NULL) {
    pg->num_open--;
  } else {
    pg->idle[pg->num_idle++] = conn;
  }
  pthread_cond_signal(&pg->pool_cv);
  pthread_mutex_unlock(&pg->pool_mu);
  if (broken) {
    PQfinish(conn);
  }
}

void tv_pg_readers_close(tv_pg *pg) {
  pthread_mutex_lock(&pg->pool_mu);
  for (size_t i = 0; i < pg->num_idle; i++) {
    PQfinish(pg->idle[i]);
  }
  pg->num_open -= pg->num_idle;
  pg->num_idle = 0;
  pthread_mutex_unlock(&pg->pool_mu);
}
