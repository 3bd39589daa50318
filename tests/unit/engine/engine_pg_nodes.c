/* Two engine nodes on one PostgreSQL schema (see engine_pg_nodes.h). */
#include "tests/unit/engine/engine_pg_nodes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/store/store_backend_util.h"
#include "vault/store/pg/pg_store.h"

void eng_pg_nodes_open(eng_pg_nodes *n, eng_fixture *fx) {
  test_pg_fresh_schema(n->conninfo, sizeof n->conninfo);
  eng_check(tv_pg_schema_init(n->conninfo, NULL), "schema init");
  tv_store_options o = {.conninfo = n->conninfo};
  for (int i = 0; i < 2; i++) {
    eng_check(tv_store_open(&tv_store_backend_pg, &o, &n->store[i], NULL), "store open");
    eng_check(eng_engine_new(fx, n->store[i], &n->node[i]), "engine new");
  }
}

void eng_pg_nodes_close(eng_pg_nodes *n) {
  for (int i = 0; i < 2; i++) {
    tv_engine_free(n->node[i]);
    tv_store_close(n->store[i]);
  }
}
