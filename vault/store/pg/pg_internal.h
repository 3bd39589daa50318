/* Shared between the PostgreSQL backend's parts: the backend state, the
 * connection helpers and the row codec. Not for use outside vault/store/pg. */
#ifndef TV_STORE_PG_PG_INTERNAL_H
#define TV_STORE_PG_PG_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>

#include "vault/store/pg/pg_store.h"

/* Operations the writer groups into one transaction (one round trip):
 * a 1,000-value tokenize call commits once, as pgbench's reference does
 * (it was 256: four commits per call). The PUTs go as one array per column
 * (pg_put_many.c), so the group size meets no bind-parameter limit. */
#define TV_PG_BATCH_OPS_MAX 1024u
/* Accepted but not yet committed operations; beyond: TV_E_STORE_BUSY. */
#define TV_PG_QUEUE_OPS_MAX 8192u
/* Reader connections opened on demand and kept. */
#define TV_PG_READERS_MAX 8u
/* After a reader connection attempt failed, reads fail at once (no new
 * attempt) for this long: a tokenize call does a read per value, and
 * during a failover each attempt reaches the standby, which accepts the
 * connection and is then found read-only — tens of milliseconds per value,
 * a minute for a 1,000-value call, and a storm of connections on the
 * standby. Short, so a promoted standby is found almost at once. */
#define TV_PG_RECONNECT_INTERVAL_US 200000u
/* Keys per read pipeline, so a large get_batch never fills both socket
 * buffers at once (libpq in blocking mode would then wait forever). */
#define TV_PG_READ_CHUNK_MAX 256u
/* Rows per scan page. */
#define TV_PG_SCAN_PAGE_ROWS 1000u
/* Seconds libpq waits to connect (unless the conninfo says otherwise). */
#define TV_PG_CONNECT_TIMEOUT_S "5"
/* TCP keepalives (unless the conninfo says otherwise): a vanished server
 * host is noticed after about 10 + 5 * 3 = 25 s of silence. */
#define TV_PG_KEEPALIVES_IDLE_S "10"
#define TV_PG_KEEPALIVES_INTERVAL_S "5"
#define TV_PG_KEEPALIVES_COUNT "3"

/* Values of tv_tokens.state, derived from the record (engine.h): the
 * engine marks a deleted token with key version 0 and no expiry, an
 * expired one's stub with key version 0 and its expiry. */
enum { TV_PG_STATE_LIVE = 1, TV_PG_STATE_DELETED = 2, TV_PG_STATE_EXPIRED_STUB = 3 };

typedef struct tv_pg_stats {
  uint64_t batches, records, bytes, failed_batches;
  uint64_t commits, commit_us_sum, commit_us_max;
  uint64_t commit_buckets[TV_LATENCY_BUCKETS_COUNT + 1];
  tv_pg_store_stats ha; /* connections, failovers, rows per batch (pg_failover.c) */
} tv_pg_stats;

typedef struct tv_pg {
  char *conninfo;
  uint32_t statement_timeout_ms; /* set on every connection of the store */
  /* Writer: the queue, its thread, and its own connection. */
  pthread_mutex_t mu;
  pthread_cond_t cv;       /* writer waits for work */
  pthread_cond_t space_cv; /* submit_wait waits for room */
  tv_store_op *head, *tail;
  size_t queued;
  int closing;
  pthread_t writer;
  PGconn *wconn;
  tv_pg_stats stats; /* under mu */
  /* Readers: a small pool of idle connections. */
  pthread_mutex_t pool_mu;
  pthread_cond_t pool_cv;
  PGconn *idle[TV_PG_READERS_MAX];
  size_t num_idle;
  size_t num_open;
  uint64_t connect_failed_us; /* tv_mono_us of the last failed reader connect; 0: none since a success */
  /* Reads' latency and retries (pg_failover.c), under pool_mu. */
  uint64_t reads, read_us_sum, read_us_max, read_retries;
  uint64_t reader_connect_failures, reads_failed_fast;
  uint64_t read_buckets[TV_LATENCY_BUCKETS_COUNT + 1];
  /* The writer's last server (writer thread only). */
  int wconn_seen;
  struct tv_pg_replica *replica; /* reads from a hot standby (pg_replica.c); NULL: none */
} tv_pg;

/* tv_pg_connect opens a connection and prepares every statement on it.
 * NULL on failure, with libpq's message (never a password: refused
 * earlier) in |why|. */
PGconn *tv_pg_connect(const char *conninfo, int prepare, char *why, size_t why_len);

/* tv_pg_connect_session opens a connection of the store |pg|: its
 * statement_timeout set, every statement prepared. NULL on failure, the
 * reason in |why|. */
PGconn *tv_pg_connect_session(const tv_pg *pg, char *why, size_t why_len);

/* tv_pg_conn_alive reads (without waiting) what the server sent an idle
 * connection and says whether it is still usable: a server restart
 * closes idle connections, which are then dropped instead of failing
 * the next operation. */
int tv_pg_conn_alive(PGconn *conn);

/* tv_pg_prepare_all prepares the backend's statements on |conn|. */
tv_status tv_pg_prepare_all(PGconn *conn, char *why, size_t why_len);

/* tv_pg_schema_check refuses a database without the schema or with a
 * newer one, explaining in |why|. */
tv_status tv_pg_schema_check(PGconn *conn, char *why, size_t why_len);

/* tv_pg_reader_take / give: a reader connection from the pool (NULL:
 * unreachable, or a connect failed less than TV_PG_RECONNECT_INTERVAL_US
 * ago); give it back with |broken| set when it failed so it is closed
 * rather than reused. */
PGconn *tv_pg_reader_take(tv_pg *pg);
void tv_pg_reader_give(tv_pg *pg, PGconn *conn, int broken);
void tv_pg_readers_close(tv_pg *pg);

/* tv_pg_record_state is the tv_tokens.state of |p|. */
int tv_pg_record_state(const tv_record_put *p);

/* tv_pg_put_many commits the PUTs |ops| (n >= 1) as one multi-row
 * INSERT in one transaction and sets each status: TV_OK (op->loc set) or
 * TV_E_STORE_TOKEN_EXISTS for an op that inserted nothing (to classify).
 * Returns a failure that hit the whole group instead. */
tv_status tv_pg_put_many(PGconn *conn, tv_store_op *const *ops, size_t n, tv_status *status);

/* tv_pg_classify_conflicts tells, with one statement, why each op of
 * |ops| whose status is TV_E_STORE_TOKEN_EXISTS (a PUT that inserted
 * nothing) wrote nothing: it stays TOKEN_EXISTS, or becomes
 * TV_E_STORE_FINGERPRINT_EXISTS with op->loc naming the winner's row.
 * Returns a failure of the statement, which those ops then get. */
tv_status tv_pg_classify_conflicts(PGconn *conn, tv_store_op *const *ops, size_t n, tv_status *status);

/* The writer thread's body and the queue entry points. */
void *tv_pg_writer_main(void *arg);
tv_status tv_pg_submit(void *impl, tv_store_op *op);
tv_status tv_pg_submit_wait(void *impl, tv_store_op *op);

/* Reads (pg_read.c, pg_scan.c). */
tv_status tv_pg_get_batch(void *impl, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                          tv_store_buf *buf);
/* tv_pg_get_batch_first is get_batch on |pg|'s reader pool with
 * |first_sql| (may be NULL) run just before the lookup on the same
 * connection, in the same round trip; its result goes to |*out_first|
 * (the caller clears it; NULL when no key was well-formed, so nothing
 * was read). */
tv_status tv_pg_get_batch_first(tv_pg *pg, const char *first_sql, PGresult **out_first, const tv_store_key *keys,
                                size_t num_keys, tv_store_item *out_items, tv_store_buf *buf);
tv_status tv_pg_read_locations(void *impl, const tv_store_loc *locs, size_t num, tv_store_item *out_items,
                               tv_store_buf *buf);
tv_status tv_pg_find_fingerprint(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t fp[16],
                                 tv_store_item *out_items, size_t items_max, size_t *out_num, tv_store_buf *buf);
tv_status tv_pg_find_fingerprints(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t *fps,
                                  size_t num_fps, size_t per_fp_max, tv_store_item *out_items, size_t *out_counts,
                                  tv_store_buf *buf);
tv_status tv_pg_scan(void *impl, tv_store_scan_fn fn, void *ctx);

/* Leases (pg_lease.c) and the purge of expired values (pg_purge.c). */
tv_status tv_pg_lease(void *impl, const char *name, const char *holder, uint32_t ttl_ms, const uint8_t *progress,
                      size_t progress_len, tv_store_lease_info *out);
tv_status tv_pg_lease_release(void *impl, const char *name, const char *holder);
tv_status tv_pg_compact(void *impl, const tv_store_compact_options *opts, tv_store_compact_progress *progress);

/* Row codec (pg_row.c). Every SELECT of a record returns the columns of
 * TV_PG_ROW_COLUMNS in that order, in binary. */
#define TV_PG_ROW_COLUMNS                                                                                    \
  "id, ns, token, fingerprint, key_version, nonce, created_ms, expires_ms, ciphertext, tag, metadata"
#define TV_PG_ROW_COLUMNS_T                                                                                  \
  "t.id, t.ns, t.token, t.fingerprint, t.key_version, t.nonce, t.created_ms, t.expires_ms, t.ciphertext, t.tag, "   \
  "t.metadata"
#define TV_PG_ROW_NCOLS 11

/* tv_pg_rows_bytes returns the bytes tv_pg_row_decode needs for every row
 * of |res| (so the caller sizes its buffer once). */
size_t tv_pg_rows_bytes(const PGresult *res);

/* tv_pg_row_decode copies row |row| of |res| into |*dst| (advanced) and
 * points |out|'s put into it. TV_E_STORE_RECORD_FIELD if a column has
 * an impossible size. */
tv_status tv_pg_row_decode(const PGresult *res, int row, uint8_t **dst, tv_store_item *out);

/* tv_pg_buf_reserve grows |buf| to at least |len| bytes. */
tv_status tv_pg_buf_reserve(tv_store_buf *buf, size_t len);

/* tv_pg_bytea_array encodes |n| byte strings (|ptrs|, |lens|) as a
 * binary one-dimensional bytea[] parameter into |buf| (grown); sets
 * |*out_len|. */
tv_status tv_pg_bytea_array(const uint8_t *const *ptrs, const size_t *lens, size_t n, tv_store_buf *buf,
                            size_t *out_len);

/* Binary parameter helpers: network byte order. */
void tv_pg_put_u64(uint8_t out[8], uint64_t v);
uint64_t tv_pg_get_u64(const char *p);

/* Surviving a failover (pg_failover.c). */

/* tv_pg_conninfo_failover_check refuses a conninfo naming several hosts
 * without target_session_attrs=read-write (or primary): libpq would
 * settle on the first host that answers, a standby included, and every
 * write would be refused. */
tv_status tv_pg_conninfo_failover_check(const char *conninfo, char *why, size_t why_len);

/* tv_pg_result_status classifies a failed statement: the connection lost,
 * the server shutting down or not accepting connections, or a read-only
 * server (a standby, SQLSTATE 25006) → TV_E_STORE_UNAVAILABLE (the writer
 * then reconnects, and libpq picks the read-write host); a statement the
 * server refused for its data → TV_E_STORE_WRITE_FAILED. */
tv_status tv_pg_result_status(PGconn *conn, const PGresult *res);

/* tv_pg_writer_connected records a new writer connection: reconnects,
 * the server it reached and whether that is a failover. */
void tv_pg_writer_connected(tv_pg *pg, PGconn *conn);

/* tv_pg_writer_lost drops the writer's connection after a group failed
 * with UNAVAILABLE (a connection to a read-only server is still "OK" to
 * libpq but useless), so the next group reconnects. Call with pg->mu
 * not held. */
void tv_pg_writer_lost(tv_pg *pg);

/* tv_pg_account_rows counts a committed group of |rows| operations. */
void tv_pg_account_rows(tv_pg_store_stats *ha, size_t rows);

/* A read: runs on one pooled reader connection, TV_OK or a failure. */
typedef tv_status (*tv_pg_read_fn)(PGconn *conn, void *ctx);

/* tv_pg_reader_run runs |fn| on a pooled connection and times it. When
 * the connection turns out lost (the server died, a failover), the other
 * idle connections (most likely to the same server) are closed and |fn|
 * runs once more on a new connection: a read is idempotent. |fn| must
 * release what a failed run left in |ctx|. */
tv_status tv_pg_reader_run(tv_pg *pg, tv_pg_read_fn fn, void *ctx);

/* tv_pg_failed_status maps a failed connection to TV_E_STORE_UNAVAILABLE
 * and any other failure (a statement the server refused) to
 * TV_E_STORE_WRITE_FAILED. */
tv_status tv_pg_failed_status(PGconn *conn);

/* tv_pg_result_status maps a failed statement: TV_E_STORE_TIMEOUT when
 * the server cancelled it for statement_timeout, TV_E_STORE_UNAVAILABLE
 * for a lost connection or a server shutting down or starting, else
 * TV_E_STORE_WRITE_FAILED. |res| may be NULL (no answer). */
tv_status tv_pg_result_status(PGconn *conn, const PGresult *res);

/* tv_pg_read_failure is the status of a failed read: TV_E_STORE_TIMEOUT
 * or TV_E_STORE_UNAVAILABLE (a read never fails for a data reason). */
tv_status tv_pg_read_failure(PGconn *conn, const PGresult *res);

/* Reads from a hot standby (pg_replica.c, pg_replica_read.c). */

/* tv_pg_replica_open checks |read_conninfo| (no password, one host) and
 * starts watching the standby; never fails because the standby is
 * unreachable (reads then go to the primary). */
tv_status tv_pg_replica_open(tv_pg *pg, const char *read_conninfo, uint32_t lag_max_ms, char *why, size_t why_len);
void tv_pg_replica_close(tv_pg *pg);

/* tv_pg_replica_after_group: the writer finished a group (committed or
 * not) before acknowledging it; a group that deletes or rewrites rows
 * keeps this store's replica reads off until the standby has it. */
void tv_pg_replica_after_group(tv_pg *pg, tv_store_op *const *ops, size_t n);

/* The backend's get_batch_replica. */
tv_status tv_pg_get_batch_replica(void *impl, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                                  tv_store_buf *buf);

#endif
