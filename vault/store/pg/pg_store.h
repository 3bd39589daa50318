/* The PostgreSQL store backend's public helpers (the backend itself is
 * tv_store_backend_pg in vault/store/store.h).
 *
 * Several tokenvaultd nodes share one database: uniqueness of (namespace,
 * token) and, for convergent namespaces, of (namespace, fingerprint) comes
 * from the database's unique indexes, not from one process. */
#ifndef TV_STORE_PG_PG_STORE_H
#define TV_STORE_PG_PG_STORE_H

#include <stddef.h>

#include "vault/store/store.h"

/* The schema version this build creates and understands. */
#define TV_PG_SCHEMA_VERSION 1

/* tv_pg_conninfo_check parses |conninfo| (a libpq key=value string or a
 * postgresql:// URI) and refuses a password in it: secrets belong in a
 * password file (PGPASSFILE), never in configuration. TV_OK,
 * TV_E_STORE_CONNINFO (malformed; |why| gets libpq's reason) or
 * TV_E_STORE_CONNINFO_PASSWORD. |why| may be NULL. */
tv_status tv_pg_conninfo_check(const char *conninfo, char *why, size_t why_len);

/* tv_pg_schema_init creates the schema in the database at |conninfo|, or
 * migrates an older one to TV_PG_SCHEMA_VERSION, in one transaction under
 * an advisory lock (two nodes started with --init at once are safe). A
 * newer schema is refused (TV_E_STORE_SCHEMA_NEWER). |diag| (may be NULL)
 * gets a one-line explanation on failure. */
tv_status tv_pg_schema_init(const char *conninfo, tv_store_diag *diag);

/* Buckets of rows per committed group: 1, 2, 4, ... 1024 (the group
 * limit); bucket b counts groups of at most 2^b rows and more than
 * 2^(b-1). */
#define TV_PG_BATCH_ROWS_BUCKETS_COUNT 11

/* What the backend saw of the database, for a fleet's observability
 * (issue 11 point 5); counters since open. The COMMIT round trips are
 * tv_store_stats' fsync histogram. */
typedef struct tv_pg_store_stats {
  /* The writer's connection. */
  uint64_t reconnects;         /* writer connections opened after the first */
  uint64_t failovers;          /* reconnects that found another server: a
                                  later timeline (a promoted standby) or
                                  another host:port of the conninfo */
  uint64_t read_only_refusals; /* write groups a read-only server (a
                                  standby) refused: UNAVAILABLE, reconnect */
  int connected;               /* the writer holds a connection now */
  char host[128];              /* where it is (or last was) connected */
  char port[16];
  uint64_t timeline;           /* that server's timeline (0: unknown) */
  /* Operations per committed group (group commit at work; an op that
   * wrote nothing, e.g. a token that exists, counts too). */
  uint64_t batch_rows_sum;
  uint64_t batch_rows_buckets[TV_PG_BATCH_ROWS_BUCKETS_COUNT];
  /* Reads: one per database round trip group (get_batch, a chunk of
   * read_locations, find_fingerprint, a scan page). */
  uint64_t reads, read_us_sum, read_us_max;
  uint64_t read_buckets[TV_LATENCY_BUCKETS_COUNT + 1]; /* vault/util/latency.h */
  uint64_t read_retries; /* reads rerun on a new connection after a
                            pooled one turned out lost (failover) */
  uint64_t reader_connect_failures; /* reader connection attempts that failed */
  uint64_t reads_failed_fast;       /* reads refused without an attempt: one
                                       failed less than 200 ms before */
  /* The reader pool. */
  size_t readers_open, readers_idle, readers_max;
} tv_pg_store_stats;

/* tv_pg_store_get_stats fills |out| for a store opened with
 * tv_store_backend_pg; TV_E_INVALID_ARGUMENT for another backend. */
tv_status tv_pg_store_get_stats(tv_store *s, tv_pg_store_stats *out);

#endif
