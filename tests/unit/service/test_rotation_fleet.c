/* The rotation worker on a fleet: two nodes (engines over two PostgreSQL
 * stores on one database, one keyring) both asked to complete a rotation.
 * Only the node holding the lease re-encrypts; the other shows the
 * holder's progress. The holder stopped mid-way without releasing (as a
 * node that dies) keeps the lease until it expires; the other node then
 * takes over, moves exactly the records left and completes the rotation.
 * A node never asked (RotateDataKey went through the other) finds the
 * rotation in the keyring by itself (fleet_poll_ms); two processes with
 * one node_id are two lease holders, so only one of them runs.
 * Run through tests/support/pg_cluster.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsm/dev_init.h"
#include "tests/unit/engine/engine_pg_nodes.h"
#include "tests/unit/engine/engine_test_util.h"
#include "tests/unit/store/store_backend_util.h"
#include "vault/service/rotation_worker.h"

static const char *const names[] = {"pan", "pan_nc", "iban", "ssn", "acct", "gen"};

enum { RECORDS = 8000, RATE = 1000, LEASE_TTL_MS = 4000 };

typedef struct fleet {
  eng_fixture *fx;
  eng_pg_nodes pg; /* the two nodes on one PostgreSQL schema */
  tv_audit_log *audit;
  char audit_dir[PATH_MAX];
} fleet;

static int setup(void **state) {
  fleet *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->fx = eng_fixture_new();
  eng_pg_nodes_open(&f->pg, f->fx);
  snprintf(f->audit_dir, sizeof f->audit_dir, "%.*s/audit", PATH_MAX - 16, f->fx->kr->data_dir);
  tv_audit_config ac = {.dir = f->audit_dir, .hsm = f->fx->kr->hsm->hsm, .mac_label = TV_HSM_DEV_MAC_LABEL};
  eng_check(tv_audit_open(&f->audit, &ac), "audit open");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fleet *f = *state;
  (void)tv_audit_close(f->audit);
  eng_pg_nodes_close(&f->pg);
  eng_fixture_free(f->fx);
  free(f);
  return 0;
}

static tv_rotation_worker_options worker_options(fleet *f, int n, const char *node_id) {
  return (tv_rotation_worker_options){.engine = f->pg.node[n], .store = f->pg.store[n], .keyring = f->fx->kr->kr,
                                      .audit = f->audit, .namespaces = names, .num_namespaces = ENG_TEST_NS_NUM,
                                      .records_per_s = RATE, .retry_ms_initial = 50, .node_id = node_id,
                                      .lease_ttl_ms = LEASE_TTL_MS, .fleet_poll_ms = 100};
}

static void tokenize_pans(tv_engine *e, size_t n) {
  static char pans[200][17];
  static tv_tokenize_item items[200];
  for (size_t at = 0; at < n; at += 200) {
    size_t k = n - at < 200 ? n - at : 200;
    memset(items, 0, sizeof items);
    for (size_t i = 0; i < k; i++) {
      eng_pan(pans[i], 500000 + at + i);
      items[i] = (tv_tokenize_item){.value = pans[i], .value_len = 16};
    }
    eng_check(tv_engine_tokenize(e, "pan", items, k), "tokenize");
    for (size_t i = 0; i < k; i++) {
      eng_check(items[i].status, "tokenize item");
    }
  }
}

static tv_rotation_status pan_status(tv_rotation_worker *w) {
  tv_rotation_status st[TV_ENGINE_NAMESPACES_MAX];
  size_t n = tv_rotation_worker_status(w, st, TV_ENGINE_NAMESPACES_MAX);
  for (size_t k = 0; k < n; k++) {
    if (strcmp(st[k].ns, "pan") == 0) {
      return st[k];
    }
  }
  return (tv_rotation_status){.phase = TV_ROTATION_IDLE};
}

/* sql_text returns the first column of the first row of |sql| ("" if none). */
static void sql_text(const fleet *f, const char *sql, char *out, size_t out_len) {
  PGconn *c = PQconnectdb(f->pg.conninfo);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PGresult *r = PQexec(c, sql);
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  snprintf(out, out_len, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
  PQclear(r);
  PQfinish(c);
}

static void lease_holder(const fleet *f, char *out, size_t out_len) {
  sql_text(f, "SELECT holder FROM tv_leases WHERE name = 'rotation/pan'", out, out_len);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Rotates pan on node A (worker |a| asked) and has node B's worker
 * asked too (|ask_b|; it starts once A runs) or not (it runs from before
 * the rotation: only its fleet poll can find it); B shows A's progress,
 * A holds the lease. Then A stops mid-way without releasing (as a node
 * that dies) and B takes over: it moves exactly what was left. */
static void rotate_and_take_over(fleet *f, const char *id_a, const char *id_b, int ask_b) {
  tokenize_pans(f->pg.node[0], RECORDS);
  tv_rotation_worker_options oa = worker_options(f, 0, id_a);
  tv_rotation_worker_options ob = worker_options(f, 1, id_b);
  tv_rotation_worker *a = NULL, *b = NULL;
  if (!ask_b) {
    eng_check(tv_rotation_worker_start(&b, &ob), "start b before the rotation");
  }
  eng_check(tv_keyring_rotate_data_key(f->fx->kr->kr, NULL, "pan"), "rotate");
  eng_check(tv_rotation_worker_start(&a, &oa), "start a");
  eng_check(tv_rotation_worker_enqueue(a, "pan"), "enqueue a");
  char holder_a[TV_STORE_LEASE_HOLDER_LEN_MAX + 1];
  snprintf(holder_a, sizeof holder_a, "%s", tv_rotation_worker_holder(a));
  assert_int_equal(strncmp(holder_a, id_a, strlen(id_a)), 0); /* "<node_id>/<instance>" */
  assert_int_equal(holder_a[strlen(id_a)], '/');
  assert_int_equal(strlen(holder_a), strlen(id_a) + 9);
  char holder[TV_STORE_LEASE_HOLDER_LEN_MAX + 1] = "";
  for (int i = 0; i < 2000 && strcmp(holder, holder_a) != 0; i++) {
    sleep_ms(10);
    lease_holder(f, holder, sizeof holder);
  }
  assert_string_equal(holder, holder_a);
  /* Node B finds the lease held and shows A's progress. */
  if (ask_b) {
    eng_check(tv_rotation_worker_start(&b, &ob), "start b");
    eng_check(tv_rotation_worker_enqueue(b, "pan"), "enqueue b");
  }
  assert_string_not_equal(tv_rotation_worker_holder(b), holder_a); /* even with one node_id */
  tv_rotation_status sa = pan_status(a);
  for (int i = 0; i < 3000 && sa.records_done < 2 * RATE; i++) { /* A's first chunk is in */
    sleep_ms(10);
    sa = pan_status(a);
  }
  assert_true(sa.records_done >= 2 * RATE && sa.records_done < RECORDS);
  tv_rotation_status sb = pan_status(b);
  for (int i = 0; i < 3000 && sb.records_total == 0; i++) {
    sleep_ms(10);
    sb = pan_status(b);
  }
  assert_int_equal(sb.phase, TV_ROTATION_REENCRYPTING);
  assert_int_equal(sb.records_total, RECORDS); /* the fleet's progress, from node B */
  assert_int_equal(sb.active_version, 2);
  assert_string_equal(sb.lease_holder, holder_a); /* who runs it, from node B */
  assert_int_equal(sb.lease_held, 0);
  sa = pan_status(a);
  assert_string_equal(sa.lease_holder, holder_a);
  assert_int_equal(sa.lease_held, 1);
  lease_holder(f, holder, sizeof holder);
  assert_string_equal(holder, holder_a);
  /* Node A stops mid-way without releasing its lease, as if it died. */
  tv_rotation_worker_free(a);
  sa = (tv_rotation_status){0};
  char left[32];
  sql_text(f, "SELECT count(*) FROM tv_tokens WHERE key_version = 1", left, sizeof left);
  long left_at_stop = atol(left);
  assert_true(left_at_stop > 0 && left_at_stop < RECORDS);
  lease_holder(f, holder, sizeof holder);
  assert_string_equal(holder, holder_a);
  /* Node B takes over once the lease expires and moves what is left. */
  for (int i = 0; i < 6000 && pan_status(b).phase != TV_ROTATION_DONE; i++) {
    sleep_ms(10);
  }
  sb = pan_status(b);
  assert_int_equal(sb.phase, TV_ROTATION_DONE);
  assert_int_equal(sb.last_error, TV_OK);
  assert_int_equal(sb.records_done, left_at_stop); /* resumed, not redone */
  sql_text(f, "SELECT count(*) FROM tv_tokens WHERE key_version = 1", left, sizeof left);
  assert_string_equal(left, "0");
  lease_holder(f, holder, sizeof holder);
  assert_string_equal(holder, tv_rotation_worker_holder(b));
  assert_string_equal(sb.lease_holder, tv_rotation_worker_holder(b));
  assert_int_equal(sb.lease_held, 1);
  tv_keyring_version_info infos[8];
  size_t count = 0;
  eng_check(tv_keyring_list_versions(f->fx->kr->kr, infos, &count, 8, "pan"), "versions");
  assert_int_equal(count, 2);
  assert_int_equal(infos[0].state, TV_KEY_RETIRED);
  tv_rotation_worker_free(b);
}

static void test_one_node_at_a_time_and_takeover(void **state) {
  rotate_and_take_over(*state, "node-a", "node-b", 1);
}

/* B is never asked (the rotation went through A, after B started) and
 * both are misconfigured with one node_id: B still finds the rotation
 * (fleet_poll_ms), shows A's progress without running it, and takes over
 * once A is gone. */
static void test_observed_with_one_node_id(void **state) {
  rotate_and_take_over(*state, "vault-x", "vault-x", 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_one_node_at_a_time_and_takeover, setup, teardown),
      cmocka_unit_test_setup_teardown(test_observed_with_one_node_id, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
