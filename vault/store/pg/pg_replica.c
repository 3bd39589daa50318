/* Reads from a hot standby: the staleness rule and the watcher.
 *
 * A reveal may read a stale row: a token deleted or erased through any
 * node stays live on a standby until the standby replays the delete. So
 * a read from the standby is accepted only with a proof, taken in the
 * same round trip as the read, that the standby had replayed everything
 * the primary had written a short, bounded time before the read started:
 *
 *   - a watcher thread samples the primary's WAL insert position every
 *     read_lag_max_ms / 4 (at most 1 s) with the local monotonic time
 *     taken *before* asking: every write acknowledged before that time
 *     lies at or below the sampled position;
 *   - every replica read runs, in one READ COMMITTED transaction before
 *     the lookup, a statement returning the standby's replay position
 *     and timeline (pg_replica_read.c): the lookup's snapshot sees every
 *     transaction replayed up to it;
 *   - the read is accepted when some sample on the same timeline is at
 *     or below that position, was taken at most read_lag_max_ms before
 *     the read was sent, and after the end of this store's last write
 *     group that deleted or rewrote a row (the own-write fence).
 *
 * So a delete acknowledged through any node more than read_lag_max_ms
 * before a reveal starts, or through this store at any time before it,
 * is seen by that reveal. Only times on this host's monotonic clock are
 * compared: no clock agreement between hosts is assumed. Everything not
 * proven (no sample yet, the primary unreadable, the standby behind, on
 * another timeline, promoted, unreachable) sends the read to the primary.
 * The watcher also probes the standby on its own connection so reads skip
 * a standby known to be down or behind, and for the metrics. */
#include "vault/store/pg/pg_replica_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/util/clock.h"

/* The primary's WAL insert position, its timeline, and the WAL page and
 * segment sizes that locate page headers. */
static const char sample_sql[] =
    "SELECT (l - '0/0'::pg_lsn)::bigint, ('x' || substr(pg_walfile_name(l), 1, 8))::bit(32)::bigint,"
    " current_setting('wal_block_size')::bigint,"
    " (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size')"
    " FROM pg_current_wal_insert_lsn() l";

/* Run by every replica read before its lookup, and by the watcher: three
 * bigints — in recovery, replay position, timeline. The timeline is the
 * standby's last restartpoint's: after a timeline switch it trails until
 * the next restartpoint, which only keeps reads on the primary longer. */
const char tv_pg_replica_status_sql[] =
    "SELECT pg_is_in_recovery()::int::bigint, coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0),"
    " (SELECT timeline_id FROM pg_control_checkpoint())::bigint";

/* WAL page header sizes (PostgreSQL's XLogLongPageHeaderData at a
 * segment's start, XLogPageHeaderData elsewhere). */
enum { WAL_LONG_HEADER = 40, WAL_SHORT_HEADER = 24 };

uint64_t tv_pg_replica_record_end(uint64_t lsn, uint64_t block, uint64_t segment) {
  if (segment != 0 && lsn % segment == WAL_LONG_HEADER) {
    return lsn - WAL_LONG_HEADER;
  }
  if (block != 0 && segment != 0 && lsn % block == WAL_SHORT_HEADER && lsn % segment >= block) {
    return lsn - WAL_SHORT_HEADER;
  }
  return lsn;
}

static int parse_u64(const PGresult *res, int col, uint64_t *out) {
  if (PQgetisnull(res, 0, col)) {
    return 0;
  }
  char *end = NULL;
  *out = strtoull(PQgetvalue(res, 0, col), &end, 10);
  return end != NULL && *end == '\0';
}

/* session opens a connection with a statement timeout for the watcher. */
static PGconn *session(const char *conninfo, uint32_t timeout_ms) {
  char why[256], sql[64];
  PGconn *conn = tv_pg_connect(conninfo, 0, why, sizeof why);
  if (conn == NULL) {
    return NULL;
  }
  snprintf(sql, sizeof sql, "SET statement_timeout = %u", (unsigned)timeout_ms);
  PGresult *res = PQexec(conn, sql);
  int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  if (!ok) {
    PQfinish(conn);
    return NULL;
  }
  return conn;
}

/* query_one runs |sql| on |*conn| (connecting first if needed) and
 * returns its one row, or NULL (the connection dropped). */
static PGresult *query_one(PGconn **conn, const char *conninfo, uint32_t timeout_ms, const char *sql, int binary) {
  if (*conn == NULL) {
    *conn = session(conninfo, timeout_ms);
  }
  if (*conn == NULL) {
    return NULL;
  }
  PGresult *res = PQexecParams(*conn, sql, 0, NULL, NULL, NULL, NULL, binary);
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
    return res;
  }
  PQclear(res);
  PQfinish(*conn); /* a fresh connection next round */
  *conn = NULL;
  return NULL;
}

static int sample_primary(tv_pg_replica *r, tv_pg_replica_sample *out) {
  PGresult *res = query_one(&r->primary_conn, r->primary->conninfo, r->pool->statement_timeout_ms, sample_sql, 0);
  uint64_t lsn = 0, block = 0, segment = 0;
  int ok = res != NULL && parse_u64(res, 0, &lsn) && parse_u64(res, 1, &out->timeline) &&
           parse_u64(res, 2, &block) && parse_u64(res, 3, &segment);
  PQclear(res);
  out->lsn = tv_pg_replica_record_end(lsn, block, segment);
  return ok;
}

int tv_pg_replica_status_parse(const PGresult *res, tv_pg_standby_status *out) {
  if (res == NULL || PQntuples(res) != 1 || PQnfields(res) != 3) {
    return 0;
  }
  for (int c = 0; c < 3; c++) {
    if (PQgetisnull(res, 0, c) || PQgetlength(res, 0, c) != 8) {
      return 0;
    }
  }
  out->in_recovery = tv_pg_get_u64(PQgetvalue(res, 0, 0)) != 0;
  out->replay_lsn = tv_pg_get_u64(PQgetvalue(res, 0, 1));
  out->timeline = tv_pg_get_u64(PQgetvalue(res, 0, 2));
  return 1;
}

int tv_pg_replica_judge(const tv_pg_replica *r, const tv_pg_standby_status *ss, uint64_t sent_us,
                        uint64_t *out_at_us, uint64_t *out_lag_bytes) {
  if (!ss->in_recovery) {
    return TV_PG_REPLICA_NOT_STANDBY; /* promoted, or a primary named by mistake */
  }
  if (r->num_samples == 0) {
    return TV_PG_REPLICA_PRIMARY_UNKNOWN;
  }
  const tv_pg_replica_sample *newest = &r->samples[(r->next + TV_PG_REPLICA_SAMPLES - 1) % TV_PG_REPLICA_SAMPLES];
  if (newest->timeline != ss->timeline) {
    return TV_PG_REPLICA_NOT_STANDBY; /* another history: positions do not compare */
  }
  *out_lag_bytes = newest->lsn > ss->replay_lsn ? newest->lsn - ss->replay_lsn : 0;
  for (size_t i = 1; i <= r->num_samples; i++) { /* newest first */
    const tv_pg_replica_sample *s = &r->samples[(r->next + TV_PG_REPLICA_SAMPLES - i) % TV_PG_REPLICA_SAMPLES];
    if (s->timeline == ss->timeline && s->lsn <= ss->replay_lsn) {
      *out_at_us = s->at_us;
      int fresh = sent_us <= s->at_us || sent_us - s->at_us <= r->lag_max_us;
      return fresh ? TV_PG_REPLICA_OK : TV_PG_REPLICA_LAGGING;
    }
  }
  return TV_PG_REPLICA_LAGGING;
}

static void push_sample(tv_pg_replica *r, const tv_pg_replica_sample *s) {
  const tv_pg_replica_sample *newest = &r->samples[(r->next + TV_PG_REPLICA_SAMPLES - 1) % TV_PG_REPLICA_SAMPLES];
  if (r->num_samples > 0 && newest->timeline != s->timeline) {
    r->num_samples = 0; /* a failover: the old timeline's positions mean nothing now */
  }
  r->samples[r->next] = *s;
  r->next = (r->next + 1) % TV_PG_REPLICA_SAMPLES;
  r->num_samples += r->num_samples < TV_PG_REPLICA_SAMPLES;
}

/* check_once: one watcher round — sample the primary, probe the standby,
 * publish the verdict. */
static void check_once(tv_pg_replica *r) {
  tv_pg_replica_sample s = {.at_us = tv_mono_us()}; /* before asking: see the rule above */
  int sampled = sample_primary(r, &s);
  uint64_t sent_us = tv_mono_us();
  PGresult *res = query_one(&r->standby_conn, r->pool->conninfo, r->pool->statement_timeout_ms,
                            tv_pg_replica_status_sql, 1);
  tv_pg_standby_status ss;
  int probed = tv_pg_replica_status_parse(res, &ss);
  PQclear(res);
  pthread_mutex_lock(&r->mu);
  if (sampled) {
    push_sample(r, &s);
  }
  uint64_t at_us = 0, lag_bytes = 0;
  int state = !sampled  ? TV_PG_REPLICA_PRIMARY_UNKNOWN
              : !probed ? TV_PG_REPLICA_UNREACHABLE
                        : tv_pg_replica_judge(r, &ss, sent_us, &at_us, &lag_bytes);
  r->state = state;
  r->state_us = tv_mono_us();
  r->stats.checks++;
  r->stats.staleness_known = at_us != 0;
  r->stats.staleness_ms = at_us != 0 && sent_us > at_us ? (sent_us - at_us) / 1000 : 0;
  r->stats.lag_bytes = lag_bytes;
  pthread_cond_broadcast(&r->cv); /* tests wait for a verdict */
  pthread_mutex_unlock(&r->mu);
}

static void *watcher_main(void *arg) {
  tv_pg_replica *r = arg;
  pthread_mutex_lock(&r->mu);
  while (!r->closing) {
    pthread_mutex_unlock(&r->mu);
    check_once(r);
    pthread_mutex_lock(&r->mu);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t ns = (uint64_t)until.tv_nsec + r->period_us * 1000u;
    until.tv_sec += (time_t)(ns / 1000000000u);
    until.tv_nsec = (long)(ns % 1000000000u);
    while (!r->closing && pthread_cond_timedwait(&r->wake, &r->mu, &until) == 0) {
    }
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* one_host refuses a read_conninfo naming several hosts: the watcher's
 * connection and a read's could land on different standbys, and the
 * proof is taken per read anyway, so one name (a virtual IP or DNS name
 * in front of several standbys works too) is all a node needs. */
static tv_status one_host(const char *conninfo, char *why, size_t why_len) {
  PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
  TV_ENSURE(opts != NULL, TV_E_STORE_CONNINFO);
  int several = 0;
  for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
    if ((strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) && o->val != NULL) {
      several |= strchr(o->val, ',') != NULL;
    }
  }
  PQconninfoFree(opts);
  if (several) {
    snprintf(why, why_len, "read_conninfo: names several hosts; name one standby");
  }
  return several ? TV_E_STORE_CONNINFO : TV_OK;
}

/* pool_new: a tv_pg used only for its reader pool, on the standby. */
static tv_pg *pool_new(const char *conninfo, uint32_t statement_timeout_ms) {
  tv_pg *p = calloc(1, sizeof *p);
  if (p == NULL) {
    return NULL;
  }
  p->conninfo = strdup(conninfo);
  if (p->conninfo == NULL) {
    free(p);
    return NULL;
  }
  p->statement_timeout_ms = statement_timeout_ms;
  pthread_mutex_init(&p->pool_mu, NULL);
  pthread_cond_init(&p->pool_cv, NULL);
  return p;
}

static void pool_free(tv_pg *p) {
  tv_pg_readers_close(p);
  pthread_cond_destroy(&p->pool_cv);
  pthread_mutex_destroy(&p->pool_mu);
  free(p->conninfo);
  free(p);
}

static void replica_free(tv_pg_replica *r) {
  PQfinish(r->primary_conn);
  PQfinish(r->standby_conn);
  if (r->pool != NULL) {
    pool_free(r->pool);
  }
  pthread_cond_destroy(&r->cv);
  pthread_cond_destroy(&r->wake);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

static tv_pg_replica *replica_new(tv_pg *pg, const char *conninfo, uint32_t lag_max_ms) {
  tv_pg_replica *r = calloc(1, sizeof *r);
  if (r == NULL) {
    return NULL;
  }
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* the watcher's timed wait */
  pthread_cond_init(&r->wake, &attr);
  pthread_condattr_destroy(&attr);
  r->primary = pg;
  r->lag_max_us = (uint64_t)lag_max_ms * 1000u;
  uint64_t period = r->lag_max_us / 4;
  r->period_us = period < TV_PG_REPLICA_PERIOD_US_MIN   ? TV_PG_REPLICA_PERIOD_US_MIN
                 : period > TV_PG_REPLICA_PERIOD_US_MAX ? TV_PG_REPLICA_PERIOD_US_MAX
                                                        : period;
  uint32_t timeout = pg->statement_timeout_ms < TV_PG_REPLICA_STATEMENT_TIMEOUT_MS_MAX
                         ? pg->statement_timeout_ms
                         : TV_PG_REPLICA_STATEMENT_TIMEOUT_MS_MAX;
  r->pool = pool_new(conninfo, timeout);
  r->state = TV_PG_REPLICA_LAGGING; /* no proof yet */
  r->stats.configured = 1;
  r->stats.lag_max_ms = lag_max_ms;
  if (r->pool == NULL) {
    replica_free(r);
    return NULL;
  }
  return r;
}

tv_status tv_pg_replica_open(tv_pg *pg, const char *read_conninfo, uint32_t lag_max_ms, char *why, size_t why_len) {
  char reason[200] = "";
  tv_status st = tv_pg_conninfo_check(read_conninfo, reason, sizeof reason);
  if (st != TV_OK) {
    snprintf(why, why_len, "read_conninfo: %s", reason);
    return st;
  }
  TV_TRY(one_host(read_conninfo, why, why_len));
  if (lag_max_ms == 0) {
    lag_max_ms = TV_STORE_READ_LAG_MAX_MS_DEFAULT;
  }
  if (lag_max_ms < TV_PG_READ_LAG_MAX_MS_MIN || lag_max_ms > TV_PG_READ_LAG_MAX_MS_MAX) {
    snprintf(why, why_len, "read_lag_max_ms: %u is outside %u..%u", (unsigned)lag_max_ms,
             (unsigned)TV_PG_READ_LAG_MAX_MS_MIN, (unsigned)TV_PG_READ_LAG_MAX_MS_MAX);
    return TV_E_INVALID_ARGUMENT;
  }
  tv_pg_replica *r = replica_new(pg, read_conninfo, lag_max_ms);
  TV_ENSURE(r != NULL, TV_E_NO_MEMORY);
  if (pthread_create(&r->watcher, NULL, watcher_main, r) != 0) {
    replica_free(r);
    return TV_E_NO_MEMORY;
  }
  pg->replica = r;
  return TV_OK;
}

void tv_pg_replica_close(tv_pg *pg) {
  tv_pg_replica *r = pg->replica;
  if (r == NULL) {
    return;
  }
  pthread_mutex_lock(&r->mu);
  r->closing = 1;
  pthread_cond_broadcast(&r->wake);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->watcher, NULL);
  replica_free(r);
  pg->replica = NULL;
}

void tv_pg_replica_after_group(tv_pg *pg, tv_store_op *const *ops, size_t n) {
  tv_pg_replica *r = pg->replica;
  if (r == NULL) {
    return;
  }
  int rewrites = 0;
  for (size_t i = 0; i < n; i++) {
    rewrites |= ops[i]->kind != TV_STORE_OP_PUT;
  }
  if (rewrites) {
    /* Before the acknowledgement: a reveal that starts after it needs a
     * sample taken after this moment, i.e. after the COMMIT returned. */
    uint64_t now = tv_mono_us();
    pthread_mutex_lock(&r->mu);
    r->fence_us = now;
    pthread_mutex_unlock(&r->mu);
  }
}

tv_status tv_pg_store_get_replica_stats(tv_store *s, tv_pg_replica_stats *out) {
  tv_pg *pg = tv_store_backend_impl(s, &tv_store_backend_pg);
  TV_ENSURE(pg != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  memset(out, 0, sizeof *out);
  tv_pg_replica *r = pg->replica;
  if (r != NULL) {
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    out->state = r->state;
    pthread_mutex_unlock(&r->mu);
  }
  return TV_OK;
}

const char *tv_pg_replica_state_name(int state) {
  static const char *const names[TV_PG_REPLICA_STATES_COUNT] = {"off",         "ok",         "lagging",
                                                                "unreachable", "not_standby", "primary_unknown"};
  return state >= 0 && state < TV_PG_REPLICA_STATES_COUNT ? names[state] : "unknown";
}

const char *tv_pg_replica_reason_name(int reason) {
  static const char *const names[TV_PG_REPLICA_REASONS_COUNT] = {"lag", "unreachable", "not_standby", "own_write"};
  return reason >= 0 && reason < TV_PG_REPLICA_REASONS_COUNT ? names[reason] : "unknown";
}
