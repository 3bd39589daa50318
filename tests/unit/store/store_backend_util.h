/* Opening a store of either backend for tests that run against both: the
 * io_uring log in a temporary directory, or PostgreSQL through the
 * private server tests/support/pg_cluster.py started (TV_TEST_PG_CONNINFO),
 * each test in its own PostgreSQL schema so tests never see each other's
 * rows. */
#ifndef TV_TESTS_STORE_BACKEND_UTIL_H
#define TV_TESTS_STORE_BACKEND_UTIL_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_test_util.h"
#include "vault/store/pg/pg_store.h"

typedef struct test_backend {
  int is_pg;
  char dir[256];       /* log: its directory */
  char conninfo[1024]; /* pg: the server's conninfo with this test's search_path */
} test_backend;

/* test_pg_conninfo_base returns the harness's conninfo or aborts with a
 * message saying how to run the test. */
static inline const char *test_pg_conninfo_base(void) {
  const char *c = getenv("TV_TEST_PG_CONNINFO");
  if (c == NULL || c[0] == '\0') {
    fprintf(stderr, "TV_TEST_PG_CONNINFO is not set: run through tests/support/pg_cluster.py --run -- ...\n");
    abort();
  }
  return c;
}

/* test_pg_exec runs |sql| on the harness database (no search_path). */
static inline int test_pg_exec(const char *conninfo, const char *sql) {
  PGconn *c = PQconnectdb(conninfo);
  int ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PGresult *r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
      fprintf(stderr, "test_pg_exec(%s): %s\n", sql, PQerrorMessage(c));
    }
    PQclear(r);
  }
  PQfinish(c);
  return ok;
}

/* test_pg_fresh_schema creates an empty PostgreSQL schema (namespace)
 * and writes into |out| a conninfo whose search_path is it. */
static inline void test_pg_fresh_schema(char *out, size_t out_len) {
  static int counter;
  const char *base = test_pg_conninfo_base();
  char name[64], sql[160];
  snprintf(name, sizeof name, "t%d_%d", (int)getpid(), ++counter);
  snprintf(sql, sizeof sql, "CREATE SCHEMA %s", name);
  if (!test_pg_exec(base, sql)) {
    abort();
  }
  snprintf(out, out_len, "%s options='-c search_path=%s'", base, name);
}

/* test_backend_open opens a fresh, empty store of the named backend
 * ("log" or "pg"; pg: schema created with tv_pg_schema_init). */
static inline tv_status test_backend_open(test_backend *b, const char *which, tv_store **out) {
  memset(b, 0, sizeof *b);
  b->is_pg = strcmp(which, "pg") == 0;
  tv_store_options o;
  memset(&o, 0, sizeof o);
  if (!b->is_pg) {
    test_tmpdir(b->dir, sizeof b->dir);
    o.dir = b->dir;
    return tv_store_open(NULL, &o, out, NULL);
  }
  test_pg_fresh_schema(b->conninfo, sizeof b->conninfo);
  tv_status st = tv_pg_schema_init(b->conninfo, NULL);
  if (st != TV_OK) {
    return st;
  }
  o.conninfo = b->conninfo;
  return tv_store_open(&tv_store_backend_pg, &o, out, NULL);
}

/* test_backend_reopen opens a second store on the same data (pg: a
 * second node on the same database). */
static inline tv_status test_backend_reopen(const test_backend *b, tv_store **out) {
  tv_store_options o;
  memset(&o, 0, sizeof o);
  o.dir = b->is_pg ? NULL : b->dir;
  o.conninfo = b->is_pg ? b->conninfo : NULL;
  return tv_store_open(b->is_pg ? &tv_store_backend_pg : NULL, &o, out, NULL);
}

/* test_op_wait submits |op| through tv_store_submit_sync (e.g. a PUT with
 * flags, which the blocking conveniences cannot express); |out_loc| (may
 * be NULL) gets op->loc. */
static inline tv_status test_op_wait(tv_store *s, tv_store_op *op, tv_store_loc *out_loc) {
  tv_status st = tv_store_submit_sync(s, op);
  if (out_loc != NULL) {
    *out_loc = op->loc;
  }
  return st;
}

static inline void test_backend_cleanup(test_backend *b) {
  if (!b->is_pg && b->dir[0] != '\0') {
    test_rmdir(b->dir);
  }
}

#endif
