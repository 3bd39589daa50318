/* The schema: its version table, the migrations that create or upgrade
 * it (--init), and the check every node makes at open (refuse a missing
 * or newer schema, naming both versions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/store/pg/pg_internal.h"

/* Serialises concurrent --init runs (an arbitrary constant: "tvSCHEMA"). */
#define SCHEMA_LOCK_KEY "7419394338343117633"

/* migrations[v - 1] takes the schema from version v - 1 to v. Version 1
 * also holds the tables later phases of the fleet work fill in (keyring
 * document, nonce reservations, leases), so they need no migration. */
static const char *const migrations[TV_PG_SCHEMA_VERSION] = {
    "CREATE TABLE tv_schema_version ("
    "  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
    "  version integer NOT NULL, migrated_at timestamptz NOT NULL DEFAULT now());"
    /* One row per token: only ciphertext, nonce, tag and keyed values. */
    "CREATE TABLE tv_tokens ("
    "  ns bytea NOT NULL, token bytea NOT NULL, id bigserial NOT NULL UNIQUE,"
    "  fingerprint bytea NOT NULL CHECK (length(fingerprint) = 16), fp_unique boolean NOT NULL,"
    "  key_version bigint NOT NULL CHECK (key_version BETWEEN 0 AND 4294967295),"
    "  nonce bytea NOT NULL CHECK (length(nonce) = 12),"
    "  created_ms bigint NOT NULL, expires_ms bigint NOT NULL,"
    "  ciphertext bytea NOT NULL, tag bytea NOT NULL CHECK (length(tag) = 16), metadata bytea NOT NULL,"
    "  state smallint NOT NULL CHECK (state IN (1, 2, 3)),"
    "  PRIMARY KEY (ns, token));"
    "CREATE INDEX tv_tokens_fingerprint ON tv_tokens (ns, fingerprint);"
    /* Convergence across nodes: one live flagged row per value. */
    "CREATE UNIQUE INDEX tv_tokens_convergent ON tv_tokens (ns, fingerprint) WHERE fp_unique;"
    /* Phase 2: the fleet's keyring document (MACed by the HSM key, its
     * generation checked against the HSM counter). */
    "CREATE TABLE tv_keyring ("
    "  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
    "  generation bigint NOT NULL, document bytea NOT NULL, mac bytea NOT NULL,"
    "  updated_by text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());"
    /* Phase 2: AES-GCM invocation counts reserved per node in blocks
     * (UPDATE ... SET next_count = next_count + n RETURNING), each block
     * recorded before use. */
    "CREATE TABLE tv_nonce_counters ("
    "  key_version bigint PRIMARY KEY, next_count bigint NOT NULL DEFAULT 0 CHECK (next_count >= 0));"
    "CREATE TABLE tv_nonce_blocks ("
    "  key_version bigint NOT NULL, first_count bigint NOT NULL, count bigint NOT NULL CHECK (count > 0),"
    "  node_id text NOT NULL, reserved_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (key_version, first_count));"
    /* Phase 2: once-per-fleet background work (rotation worker). */
    "CREATE TABLE tv_leases ("
    "  name text PRIMARY KEY, holder text NOT NULL, expires_at timestamptz NOT NULL,"
    "  progress bytea NOT NULL DEFAULT ''::bytea);",
};

/* exec_ok runs |sql| (simple protocol, may hold several statements). */
static tv_status exec_ok(PGconn *conn, const char *sql, char *why, size_t why_len) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType rs = PQresultStatus(res);
  PQclear(res);
  if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
    return TV_OK;
  }
  snprintf(why, why_len, "database: %s", PQerrorMessage(conn));
  return tv_pg_failed_status(conn);
}

/* read_version sets |*out| to the schema version, 0 if there is none. */
static tv_status read_version(PGconn *conn, int *out, char *why, size_t why_len) {
  PGresult *res = PQexec(conn, "SELECT to_regclass('tv_schema_version') IS NOT NULL");
  int exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
  PQclear(res);
  res = PQexec(conn, exists ? "SELECT coalesce(max(version), 0) FROM tv_schema_version" : "SELECT 0");
  int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
  if (ok) {
    *out = atoi(PQgetvalue(res, 0, 0));
  } else {
    snprintf(why, why_len, "reading the schema version: %s", PQerrorMessage(conn));
  }
  PQclear(res);
  return ok ? TV_OK : tv_pg_failed_status(conn);
}

static tv_status refuse_newer(int found, char *why, size_t why_len) {
  snprintf(why, why_len,
           "the database schema is version %d, newer than version %d this tokenvault knows; upgrade tokenvault",
           found, TV_PG_SCHEMA_VERSION);
  return TV_E_STORE_SCHEMA_NEWER;
}

tv_status tv_pg_schema_check(PGconn *conn, char *why, size_t why_len) {
  int version = 0;
  TV_TRY(read_version(conn, &version, why, why_len));
  if (version == 0) {
    snprintf(why, why_len, "the database has no tokenvault schema (version %d expected); run tokenvaultd --init once",
             TV_PG_SCHEMA_VERSION);
    return TV_E_STORE_SCHEMA_MISSING;
  }
  if (version > TV_PG_SCHEMA_VERSION) {
    return refuse_newer(version, why, why_len);
  }
  if (version < TV_PG_SCHEMA_VERSION) {
    snprintf(why, why_len, "the database schema is version %d, older than %d; run tokenvaultd --init to migrate",
             version, TV_PG_SCHEMA_VERSION);
    return TV_E_STORE_SCHEMA_MISSING;
  }
  return TV_OK;
}

/* migrate applies every migration after the current version, inside the
 * caller's transaction. */
static tv_status migrate(PGconn *conn, char *why, size_t why_len) {
  int version = 0;
  TV_TRY(read_version(conn, &version, why, why_len));
  if (version > TV_PG_SCHEMA_VERSION) {
    return refuse_newer(version, why, why_len);
  }
  for (int v = version + 1; v <= TV_PG_SCHEMA_VERSION; v++) {
    TV_TRY(exec_ok(conn, migrations[v - 1], why, why_len));
  }
  char sql[160];
  snprintf(sql, sizeof sql,
           "INSERT INTO tv_schema_version (version) VALUES (%d) ON CONFLICT (singleton) DO UPDATE"
           " SET version = excluded.version, migrated_at = now()",
           TV_PG_SCHEMA_VERSION);
  return exec_ok(conn, sql, why, why_len);
}

tv_status tv_pg_schema_init(const char *conninfo, tv_store_diag *diag) {
  tv_store_diag scratch;
  if (diag == NULL) {
    diag = &scratch;
  }
  memset(diag, 0, sizeof *diag);
  char *why = diag->message;
  size_t why_len = sizeof diag->message;
  TV_TRY(tv_pg_conninfo_check(conninfo, why, why_len));
  PGconn *conn = tv_pg_connect(conninfo, 0, why, why_len);
  TV_ENSURE(conn != NULL, TV_E_STORE_UNAVAILABLE);
  tv_status st = exec_ok(conn, "BEGIN; SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")", why, why_len);
  if (st == TV_OK) {
    st = migrate(conn, why, why_len);
  }
  if (st == TV_OK) {
    st = exec_ok(conn, "COMMIT", why, why_len);
  }
  PQfinish(conn); /* an open transaction is rolled back */
  return st;
}
