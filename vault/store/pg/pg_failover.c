/* Surviving a failover of the database: the conninfo must let libpq pick
 * the read-write host, a read-only server's refusal is UNAVAILABLE (never
 * WRITE_FAILED: the write did not fail for its data, the server was the
 * wrong one), the writer drops such a connection and reconnects, reads
 * rerun once on a new connection when a pooled one was lost, and what the
 * backend saw (reconnects, failovers, rows per batch, read latency) is
 * counted for the fleet's metrics. Failover itself is the database's
 * (pg_ctl promote, Patroni): no election here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/store/pg/pg_internal.h"
#include "vault/util/clock.h"

/* hosts_count counts the comma-separated entries of a host or hostaddr
 * value (libpq's multi-host syntax). */
static size_t hosts_count(const char *v) {
  size_t n = v != NULL && v[0] != '\0';
  for (const char *p = v; p != NULL && *p != '\0'; p++) {
    n += *p == ',';
  }
  return n;
}

tv_status tv_pg_conninfo_failover_check(const char *conninfo, char *why, size_t why_len) {
  PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
  TV_ENSURE(opts != NULL, TV_E_STORE_CONNINFO); /* tv_pg_conninfo_check explained it already */
  size_t hosts = 0;
  const char *attrs = NULL;
  for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
    if (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) {
      size_t n = hosts_count(o->val);
      hosts = n > hosts ? n : hosts;
    } else if (strcmp(o->keyword, "target_session_attrs") == 0) {
      attrs = o->val;
    }
  }
  int ok = hosts <= 1 || (attrs != NULL && (strcmp(attrs, "read-write") == 0 || strcmp(attrs, "primary") == 0));
  if (!ok) {
    snprintf(why, why_len,
             "the connection string names %zu hosts but not target_session_attrs=read-write: a node could settle "
             "on a standby and refuse every write",
             hosts);
  }
  PQconninfoFree(opts);
  return ok ? TV_OK : TV_E_STORE_CONNINFO;
}

/* sqlstate_unavailable: errors that say "not this server, not now", not
 * "not this data". */
static int sqlstate_unavailable(const char *state) {
  if (state == NULL || strlen(state) != 5) {
    return 0;
  }
  return strncmp(state, "08", 2) == 0       /* connection exception */
         || strcmp(state, "25006") == 0     /* read_only_sql_transaction: a standby */
         || strncmp(state, "57P", 3) == 0;  /* shutdown, crash, starting or recovering, idle timeout */
}

tv_status tv_pg_result_status(PGconn *conn, const PGresult *res) {
  if (conn == NULL || PQstatus(conn) != CONNECTION_OK || res == NULL) {
    return TV_E_STORE_UNAVAILABLE;
  }
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  if (state != NULL && strcmp(state, "57014") == 0) {
    return TV_E_STORE_TIMEOUT; /* query_canceled: our statement_timeout */
  }
  return sqlstate_unavailable(PQresultErrorField(res, PG_DIAG_SQLSTATE)) ? TV_E_STORE_UNAVAILABLE
                                                                         : TV_E_STORE_WRITE_FAILED;
}

/* server_timeline reads the timeline of a read-write server from its
 * current WAL file name (8 hex digits of timeline first): a promoted
 * standby starts a new, larger one. 0 when it cannot be read (a standby
 * has no current WAL position). */
static uint64_t server_timeline(PGconn *conn) {
  PGresult *res = PQexec(conn, "SELECT pg_walfile_name(pg_current_wal_lsn())");
  uint64_t tli = 0;
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetlength(res, 0, 0) >= 8) {
    char hex[9];
    memcpy(hex, PQgetvalue(res, 0, 0), 8);
    hex[8] = '\0';
    tli = strtoull(hex, NULL, 16);
  }
  PQclear(res);
  return tli;
}

void tv_pg_writer_connected(tv_pg *pg, PGconn *conn) {
  uint64_t tli = server_timeline(conn);
  const char *host = PQhost(conn), *port = PQport(conn);
  host = host != NULL ? host : "";
  port = port != NULL ? port : "";
  pthread_mutex_lock(&pg->mu);
  tv_pg_store_stats *ha = &pg->stats.ha;
  if (pg->wconn_seen) {
    ha->reconnects++;
    int moved = strcmp(host, ha->host) != 0 || strcmp(port, ha->port) != 0;
    ha->failovers += moved || (tli != 0 && tli > ha->timeline);
  }
  pg->wconn_seen = 1;
  ha->connected = 1;
  snprintf(ha->host, sizeof ha->host, "%s", host);
  snprintf(ha->port, sizeof ha->port, "%s", port);
  ha->timeline = tli != 0 ? tli : ha->timeline;
  pthread_mutex_unlock(&pg->mu);
}

/* server_read_only: the server told libpq it is a standby or refuses
 * writes by default (parameters PostgreSQL 14+ reports by itself). */
static int server_read_only(PGconn *conn) {
  const char *hot = PQparameterStatus(conn, "in_hot_standby");
  const char *ro = PQparameterStatus(conn, "default_transaction_read_only");
  return (hot != NULL && strcmp(hot, "on") == 0) || (ro != NULL && strcmp(ro, "on") == 0);
}

void tv_pg_writer_lost(tv_pg *pg) {
  int read_only = pg->wconn != NULL && PQstatus(pg->wconn) == CONNECTION_OK && server_read_only(pg->wconn);
  PQfinish(pg->wconn);
  pg->wconn = NULL;
  pthread_mutex_lock(&pg->mu);
  pg->stats.ha.connected = 0;
  pg->stats.ha.read_only_refusals += read_only;
  pthread_mutex_unlock(&pg->mu);
}

void tv_pg_account_rows(tv_pg_store_stats *ha, size_t rows) {
  size_t b = 0;
  while (b + 1 < TV_PG_BATCH_ROWS_BUCKETS_COUNT && ((size_t)1 << b) < rows) {
    b++;
  }
  ha->batch_rows_sum += rows;
  ha->batch_rows_buckets[b]++;
}

static void account_read(tv_pg *pg, uint64_t us, int retried) {
  pthread_mutex_lock(&pg->pool_mu);
  pg->reads++;
  pg->read_us_sum += us;
  pg->read_us_max = us > pg->read_us_max ? us : pg->read_us_max;
  pg->read_buckets[tv_latency_bucket(us)]++;
  pg->read_retries += retried;
  pthread_mutex_unlock(&pg->pool_mu);
}

tv_status tv_pg_reader_run(tv_pg *pg, tv_pg_read_fn fn, void *ctx) {
  uint64_t t0 = tv_mono_us();
  tv_status st = TV_E_STORE_UNAVAILABLE;
  int retried = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    PGconn *conn = tv_pg_reader_take(pg);
    if (conn == NULL) {
      st = TV_E_STORE_UNAVAILABLE; /* no server to connect to: retrying now would not help */
      break;
    }
    st = fn(conn, ctx);
    int lost = st != TV_OK && PQstatus(conn) != CONNECTION_OK;
    /* A statement cancelled for its timeout leaves the connection usable. */
    tv_pg_reader_give(pg, conn, st != TV_OK && st != TV_E_STORE_TIMEOUT);
    if (!lost) {
      break;
    }
    /* The idle connections went to the same server: close them all. */
    tv_pg_readers_close(pg);
    retried |= attempt == 0;
  }
  account_read(pg, tv_mono_us() - t0, retried);
  /* A read never fails for a data reason: any failure is the connection's
   * or the statement timeout's. */
  return st == TV_OK || st == TV_E_STORE_TIMEOUT ? st : TV_E_STORE_UNAVAILABLE;
}
