/* Two engines ("nodes") over two PostgreSQL stores on one fresh schema,
 * sharing one test keyring: the fleet's shape for engine- and
 * service-level tests (test_fleet_engine, test_rotation_fleet). Needs
 * TV_TEST_PG_CONNINFO (tests/support/pg_cluster.py --run). */
#ifndef TV_TESTS_ENGINE_PG_NODES_H
#define TV_TESTS_ENGINE_PG_NODES_H

#include "tests/unit/engine/engine_test_util.h"
#include "vault/store/store.h"

typedef struct eng_pg_nodes {
  char conninfo[1024];
  tv_store *store[2];
  tv_engine *node[2];
} eng_pg_nodes;

/* eng_pg_nodes_open makes a fresh schema and opens both nodes on it,
 * over |fx|'s keyring; a failure fails the test. */
void eng_pg_nodes_open(eng_pg_nodes *n, eng_fixture *fx);

/* eng_pg_nodes_close frees both engines and closes both stores. */
void eng_pg_nodes_close(eng_pg_nodes *n);

#endif
