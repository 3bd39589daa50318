/* The keyring document in tv_keyring: load, compare-and-swap store and the
 * generation poll, on one connection of its own (see pg_keyring.h). */
#include "vault/store/pg/pg_keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm.h"
#include "vault/store/pg/pg_internal.h"

struct tv_pg_keyring {
  char *conninfo;
  char node_id[TV_PG_NODE_ID_LEN_MAX + 1];
  pthread_mutex_t mu;
  PGconn *conn; /* NULL after a failure: reconnected by the next call */
};

/* conn_locked returns the connection, reconnecting if needed (|mu| held). */
static PGconn *conn_locked(tv_pg_keyring *pk) {
  if (pk->conn != NULL && PQstatus(pk->conn) != CONNECTION_OK) {
    PQfinish(pk->conn);
    pk->conn = NULL;
  }
  if (pk->conn == NULL) {
    char why[256];
    pk->conn = tv_pg_connect(pk->conninfo, 0, why, sizeof why);
  }
  return pk->conn;
}

/* A statement failed: keep the connection only if the server is there. */
static tv_status failed_locked(tv_pg_keyring *pk) {
  tv_status st = tv_pg_failed_status(pk->conn);
  if (st == TV_E_STORE_UNAVAILABLE) {
    PQfinish(pk->conn);
    pk->conn = NULL;
  }
  return st;
}

/* query runs |sql| with |n| parameters (binary), binary results. */
static PGresult *query(PGconn *conn, const char *sql, int n, const char *const *vals, const int *lens) {
  int formats[5] = {1, 1, 1, 1, 1};
  return PQexecParams(conn, sql, n, NULL, vals, lens, formats, 1);
}

static tv_status pk_load(void *ctx, uint8_t **out_doc, size_t *out_len) {
  tv_pg_keyring *pk = ctx;
  pthread_mutex_lock(&pk->mu);
  PGconn *conn = conn_locked(pk);
  tv_status st = conn != NULL ? TV_OK : TV_E_STORE_UNAVAILABLE;
  PGresult *res = conn != NULL ? query(conn, "SELECT document, mac FROM tv_keyring", 0, NULL, NULL) : NULL;
  if (conn != NULL && PQresultStatus(res) != PGRES_TUPLES_OK) {
    st = failed_locked(pk);
  } else if (conn != NULL && PQntuples(res) == 0) {
    st = TV_E_KEYRING_NOT_FOUND;
  } else if (conn != NULL) {
    size_t doc_len = (size_t)PQgetlength(res, 0, 0);
    size_t mac_len = (size_t)PQgetlength(res, 0, 1);
    uint8_t *buf = malloc(doc_len + mac_len + 1);
    st = buf != NULL ? TV_OK : TV_E_NO_MEMORY;
    if (buf != NULL) {
      memcpy(buf, PQgetvalue(res, 0, 0), doc_len);
      memcpy(buf + doc_len, PQgetvalue(res, 0, 1), mac_len);
      *out_doc = buf;
      *out_len = doc_len + mac_len;
    }
  }
  PQclear(res);
  pthread_mutex_unlock(&pk->mu);
  return st;
}

static tv_status pk_generation(void *ctx, uint64_t *out) {
  tv_pg_keyring *pk = ctx;
  pthread_mutex_lock(&pk->mu);
  PGconn *conn = conn_locked(pk);
  tv_status st = conn != NULL ? TV_OK : TV_E_STORE_UNAVAILABLE;
  PGresult *res = conn != NULL ? query(conn, "SELECT generation FROM tv_keyring", 0, NULL, NULL) : NULL;
  if (conn != NULL && PQresultStatus(res) != PGRES_TUPLES_OK) {
    st = failed_locked(pk);
  } else if (conn != NULL && PQntuples(res) == 0) {
    st = TV_E_KEYRING_NOT_FOUND;
  } else if (conn != NULL) {
    *out = tv_pg_get_u64(PQgetvalue(res, 0, 0));
  }
  PQclear(res);
  pthread_mutex_unlock(&pk->mu);
  return st;
}

/* The first document: only if there is none (two --init at once: one
 * wins, the other gets TV_E_KEYRING_EXISTS). Else a compare-and-swap on
 * the generation the change was made from. */
static const char *const sql_create =
    "INSERT INTO tv_keyring (generation, document, mac, updated_by) VALUES ($1::bigint, $2::bytea, $3::bytea,"
    " convert_from($4::bytea, 'UTF8')) ON CONFLICT (singleton) DO NOTHING";
static const char *const sql_swap =
    "UPDATE tv_keyring SET generation = $1::bigint, document = $2::bytea, mac = $3::bytea,"
    " updated_by = convert_from($4::bytea, 'UTF8'), updated_at = now() WHERE generation = $5::bigint";

static tv_status pk_store(void *ctx, uint64_t expected, uint64_t generation, const uint8_t *doc, size_t len,
                          int create) {
  tv_pg_keyring *pk = ctx;
  TV_ENSURE(len > TV_HSM_MAC_LEN && len - TV_HSM_MAC_LEN <= INT32_MAX, TV_E_INVALID_ARGUMENT);
  uint8_t gen_be[8], expected_be[8];
  tv_pg_put_u64(gen_be, generation);
  tv_pg_put_u64(expected_be, expected);
  const char *vals[5] = {(const char *)gen_be, (const char *)doc, (const char *)doc + len - TV_HSM_MAC_LEN,
                         pk->node_id, (const char *)expected_be};
  int lens[5] = {8, (int)(len - TV_HSM_MAC_LEN), TV_HSM_MAC_LEN, (int)strlen(pk->node_id), 8};
  pthread_mutex_lock(&pk->mu);
  PGconn *conn = conn_locked(pk);
  tv_status st = conn != NULL ? TV_OK : TV_E_STORE_UNAVAILABLE;
  PGresult *res = conn != NULL ? query(conn, create ? sql_create : sql_swap, create ? 4 : 5, vals, lens) : NULL;
  if (conn != NULL && PQresultStatus(res) != PGRES_COMMAND_OK) {
    st = failed_locked(pk);
  } else if (conn != NULL && strcmp(PQcmdTuples(res), "1") != 0) {
    st = create ? TV_E_KEYRING_EXISTS : TV_E_KEYRING_CONFLICT;
  }
  PQclear(res);
  pthread_mutex_unlock(&pk->mu);
  return st;
}

/* One block of encryption counts for this node: the counter moves up in
 * the same statement that records the block, only if it stays within
 * |max|. No row back: exhausted, nothing taken. */
static const char *const sql_reserve =
    "WITH r AS (INSERT INTO tv_nonce_counters AS c (key_version, next_count) VALUES ($1::bigint, $2::bigint)"
    " ON CONFLICT (key_version) DO UPDATE SET next_count = c.next_count + $2::bigint"
    " WHERE c.next_count + $2::bigint <= $3::bigint RETURNING c.next_count - $2::bigint AS first)"
    " INSERT INTO tv_nonce_blocks (key_version, first_count, count, node_id)"
    " SELECT $1::bigint, first, $2::bigint, convert_from($4::bytea, 'UTF8') FROM r RETURNING first_count";

static tv_status pk_reserve(void *ctx, uint32_t ns_index, uint32_t version, uint64_t count, uint64_t max,
                            uint64_t *out_first) {
  tv_pg_keyring *pk = ctx;
  TV_ENSURE(count >= 1 && max <= INT64_MAX, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(count <= max, TV_E_KEYRING_KEY_EXHAUSTED);
  uint8_t key_be[8], count_be[8], max_be[8];
  tv_pg_put_u64(key_be, TV_PG_NONCE_KEY(ns_index, version));
  tv_pg_put_u64(count_be, count);
  tv_pg_put_u64(max_be, max);
  const char *vals[4] = {(const char *)key_be, (const char *)count_be, (const char *)max_be, pk->node_id};
  int lens[4] = {8, 8, 8, (int)strlen(pk->node_id)};
  pthread_mutex_lock(&pk->mu);
  PGconn *conn = conn_locked(pk);
  tv_status st = conn != NULL ? TV_OK : TV_E_STORE_UNAVAILABLE;
  PGresult *res = conn != NULL ? query(conn, sql_reserve, 4, vals, lens) : NULL;
  if (conn != NULL && PQresultStatus(res) != PGRES_TUPLES_OK) {
    st = failed_locked(pk);
  } else if (conn != NULL && PQntuples(res) != 1) {
    st = TV_E_KEYRING_KEY_EXHAUSTED;
  } else if (conn != NULL) {
    *out_first = tv_pg_get_u64(PQgetvalue(res, 0, 0));
  }
  PQclear(res);
  pthread_mutex_unlock(&pk->mu);
  return st;
}

tv_status tv_pg_keyring_facts(tv_pg_keyring *pk, int *out_exists, int *out_tokens) {
  TV_ENSURE(pk != NULL && out_exists != NULL && out_tokens != NULL, TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&pk->mu);
  PGconn *conn = conn_locked(pk);
  tv_status st = conn != NULL ? TV_OK : TV_E_STORE_UNAVAILABLE;
  PGresult *res = conn != NULL ? PQexec(conn, "SELECT EXISTS (SELECT 1 FROM tv_keyring),"
                                              " EXISTS (SELECT 1 FROM tv_tokens)")
                               : NULL;
  if (conn != NULL && (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)) {
    st = failed_locked(pk);
  } else if (conn != NULL) {
    *out_exists = PQgetvalue(res, 0, 0)[0] == 't';
    *out_tokens = PQgetvalue(res, 0, 1)[0] == 't';
  }
  PQclear(res);
  pthread_mutex_unlock(&pk->mu);
  return st;
}

void tv_pg_keyring_free(tv_pg_keyring *pk) {
  if (pk == NULL) {
    return;
  }
  PQfinish(pk->conn);
  pthread_mutex_destroy(&pk->mu);
  free(pk->conninfo);
  free(pk);
}

tv_status tv_pg_keyring_new(tv_pg_keyring **out, const char *conninfo, const char *node_id, char *why,
                            size_t why_len) {
  TV_ENSURE(out != NULL && conninfo != NULL && node_id != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(node_id[0] != '\0' && strlen(node_id) <= TV_PG_NODE_ID_LEN_MAX, TV_E_INVALID_ARGUMENT);
  TV_TRY(tv_pg_conninfo_check(conninfo, why, why_len));
  tv_pg_keyring *pk = calloc(1, sizeof *pk);
  TV_ENSURE(pk != NULL, TV_E_NO_MEMORY);
  pthread_mutex_init(&pk->mu, NULL);
  snprintf(pk->node_id, sizeof pk->node_id, "%s", node_id);
  pk->conninfo = strdup(conninfo);
  tv_status st = pk->conninfo != NULL ? TV_OK : TV_E_NO_MEMORY;
  if (st == TV_OK) {
    pk->conn = tv_pg_connect(conninfo, 0, why, why_len);
    st = pk->conn != NULL ? TV_OK : TV_E_STORE_UNAVAILABLE;
  }
  if (st == TV_OK) {
    st = tv_pg_schema_check(pk->conn, why, why_len);
  }
  if (st != TV_OK) {
    tv_pg_keyring_free(pk);
    return st;
  }
  *out = pk;
  return TV_OK;
}

void tv_pg_keyring_persist(tv_pg_keyring *pk, tv_keyring_persist *out) {
  *out = (tv_keyring_persist){
      .ctx = pk, .load = pk_load, .store = pk_store, .generation = pk_generation, .reserve = pk_reserve};
}
