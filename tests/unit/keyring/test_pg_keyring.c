/* The fleet keyring in PostgreSQL (vault/store/pg/pg_keyring.h): two
 * keyring handles on one database and one SoftHSM2 token are two nodes.
 * Runs under tests/support/pg_cluster.py (TV_TEST_PG_CONNINFO); each case
 * gets its own PostgreSQL schema. */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_backend_util.h"
#include "tests/unit/keyring/keyring_test_util.h"
#include "vault/keyring/kr_internal.h"
#include "vault/store/pg/pg_keyring.h"

typedef struct node {
  tv_hsm *hsm;
  tv_pg_keyring *pk;
  tv_keyring_persist persist;
  tv_keyring *kr;
} node;

typedef struct fleet {
  kr_fixture *fx; /* the token (its own keyring file is not used) */
  char conninfo[1024];
  node a, b;
} fleet;

static void node_connect(fleet *f, node *n, const char *id) {
  if (n->hsm == NULL) {
    kr_check(tv_hsm_open(&n->hsm, &f->fx->hsm->config), "hsm open");
  }
  char why[512] = "";
  tv_status st = tv_pg_keyring_new(&n->pk, f->conninfo, id, why, sizeof why);
  if (st != TV_OK) {
    fprintf(stderr, "tv_pg_keyring_new: %s\n", why);
  }
  kr_check(st, "pg keyring");
  tv_pg_keyring_persist(n->pk, &n->persist);
}

static tv_keyring_options node_options(fleet *f, node *n, uint32_t refresh_ms) {
  tv_keyring_options o = f->fx->options;
  o.path = "tv_keyring";
  o.persist = &n->persist;
  o.refresh_ms = refresh_ms;
  return o;
}

static tv_status node_open(fleet *f, node *n, uint32_t refresh_ms) {
  tv_keyring_options o = node_options(f, n, refresh_ms);
  return tv_keyring_open(&n->kr, n->hsm, &o);
}

static void node_close(node *n) {
  tv_keyring_free(n->kr);
  tv_pg_keyring_free(n->pk);
  tv_hsm_free(n->hsm);
  memset(n, 0, sizeof *n);
}

/* Node A creates the keyring (namespace pan); node B opens it. */
static int fleet_setup(void **state) {
  fleet *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->fx = kr_fixture_new(0);
  test_pg_fresh_schema(f->conninfo, sizeof f->conninfo);
  kr_check(tv_pg_schema_init(f->conninfo, NULL), "schema init");
  node_connect(f, &f->a, "node-a");
  node_connect(f, &f->b, "node-b");
  tv_keyring_options o = node_options(f, &f->a, 0);
  kr_check(tv_keyring_create(&f->a.kr, f->a.hsm, &o), "create on A");
  kr_check(tv_keyring_add_namespace(f->a.kr, "pan"), "add pan on A");
  kr_check(node_open(f, &f->b, 0), "open on B");
  *state = f;
  return 0;
}

static int fleet_teardown(void **state) {
  fleet *f = *state;
  node_close(&f->a);
  node_close(&f->b);
  kr_fixture_free(f->fx);
  free(f);
  return 0;
}

static void expect_same_active(tv_keyring *x, tv_keyring *y, uint32_t version) {
  tv_keyring_keys kx, ky;
  kr_check(tv_keyring_active(x, &kx, "pan"), "active x");
  kr_check(tv_keyring_active(y, &ky, "pan"), "active y");
  assert_int_equal(kx.version, version);
  assert_int_equal(ky.version, version);
  assert_memory_equal(kx.value_key, ky.value_key, TV_KEYRING_KEY_LEN);
  assert_memory_equal(kx.token_key, ky.token_key, TV_KEYRING_KEY_LEN);
  assert_memory_equal(kx.fingerprint_key, ky.fingerprint_key, TV_KEYRING_KEY_LEN);
}

static void test_create_on_a_open_on_b(void **state) {
  fleet *f = *state;
  expect_same_active(f->a.kr, f->b.kr, 1);
  assert_int_equal(tv_keyring_generation(f->a.kr), tv_keyring_generation(f->b.kr));
  /* A second create (a second --init) finds the row and changes nothing. */
  tv_keyring *again = NULL;
  tv_keyring_options o = node_options(f, &f->b, 0);
  assert_int_equal(tv_keyring_create(&again, f->b.hsm, &o), TV_E_KEYRING_EXISTS);
  assert_null(again);
  /* The document in the row is exactly what the file would hold: it
   * starts with the keyring magic. */
  assert_true(test_pg_exec(f->conninfo, "DO $$ BEGIN IF (SELECT substring(document from 1 for 4) FROM tv_keyring)"
                                        " <> 'TVKR'::bytea THEN RAISE 'no magic'; END IF; END $$"));
}

static void test_rotation_on_a_seen_by_b_after_refresh(void **state) {
  fleet *f = *state;
  tv_keyring_keys old_b;
  kr_check(tv_keyring_active(f->b.kr, &old_b, "pan"), "B active before");
  uint32_t version = 0;
  kr_check(tv_keyring_rotate_data_key(f->a.kr, &version, "pan"), "rotate on A");
  assert_int_equal(version, 2);
  tv_keyring_keys kb;
  kr_check(tv_keyring_active(f->b.kr, &kb, "pan"), "B active, not refreshed");
  assert_int_equal(kb.version, 1); /* B has not looked yet */
  kr_check(tv_keyring_refresh(f->b.kr), "refresh B");
  expect_same_active(f->a.kr, f->b.kr, 2);
  /* The old version still decrypts on B, with the same key bytes. */
  tv_keyring_keys v1;
  kr_check(tv_keyring_version(f->b.kr, &v1, "pan", 1), "B version 1");
  assert_int_equal(v1.state, TV_KEY_DECRYPT_ONLY);
  assert_memory_equal(v1.value_key, old_b.value_key, TV_KEYRING_KEY_LEN);
  /* A namespace added on B appears on A. */
  kr_check(tv_keyring_add_namespace(f->b.kr, "iban"), "add iban on B");
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A");
  tv_keyring_keys ia, ib;
  kr_check(tv_keyring_active(f->a.kr, &ia, "iban"), "iban on A");
  kr_check(tv_keyring_active(f->b.kr, &ib, "iban"), "iban on B");
  assert_memory_equal(ia.value_key, ib.value_key, TV_KEYRING_KEY_LEN);
}

/* A record re-encrypted by A under a version B has not polled yet: B's
 * lookup of that version takes in the newer document instead of failing
 * with KEY_VERSION (the refresh thread is not running in these tests). */
static void test_unknown_version_looked_up_after_refresh(void **state) {
  fleet *f = *state;
  uint32_t version = 0;
  kr_check(tv_keyring_rotate_data_key(f->a.kr, &version, "pan"), "rotate on A");
  tv_keyring_keys ka, kb;
  kr_check(tv_keyring_version(f->a.kr, &ka, "pan", version), "A new version");
  kr_check(tv_keyring_version(f->b.kr, &kb, "pan", version), "B new version, not refreshed before");
  assert_int_equal(kb.version, version);
  assert_memory_equal(ka.value_key, kb.value_key, TV_KEYRING_KEY_LEN);
  /* A version nobody made stays unknown. */
  assert_int_equal(tv_keyring_version(f->b.kr, &kb, "pan", version + 7), TV_E_KEYRING_KEY_VERSION);
}

/* A node that made its change on an older generation loses the swap at
 * the seam; the keyring takes in the newer document and redoes it. */
static void test_cas_loser(void **state) {
  fleet *f = *state;
  uint64_t gen = tv_keyring_generation(f->b.kr);
  kr_check(tv_keyring_rotate_data_key(f->a.kr, NULL, "pan"), "rotate on A");
  uint8_t *doc = NULL;
  size_t len = 0;
  kr_check(f->b.persist.load(f->b.persist.ctx, &doc, &len), "load");
  assert_int_equal(f->b.persist.store(f->b.persist.ctx, gen, gen + 1, doc, len, 0), TV_E_KEYRING_CONFLICT);
  assert_int_equal(f->b.persist.store(f->b.persist.ctx, gen, gen + 1, doc, len, 1), TV_E_KEYRING_EXISTS);
  free(doc);
  /* B, still on the older generation, rotates: its first attempt takes in
   * A's version 2 first, so it makes version 3, not a second version 2. */
  uint32_t version = 0;
  kr_check(tv_keyring_rotate_data_key(f->b.kr, &version, "pan"), "rotate on B");
  assert_int_equal(version, 3);
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A");
  expect_same_active(f->a.kr, f->b.kr, 3);
}

typedef struct rotator {
  tv_keyring *kr;
  int rounds;
  tv_status status;
} rotator;

static void *rotate_many(void *arg) {
  rotator *r = arg;
  for (int i = 0; i < r->rounds && r->status == TV_OK; i++) {
    r->status = tv_keyring_rotate_data_key(r->kr, NULL, "pan");
  }
  return NULL;
}

/* Both nodes rotate at once: every rotation lands, none is lost to a
 * swap the other won, and both end with the same versions. */
static void test_concurrent_rotations(void **state) {
  fleet *f = *state;
  rotator ra = {f->a.kr, 6, TV_OK}, rb = {f->b.kr, 6, TV_OK};
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, rotate_many, &ra), 0);
  assert_int_equal(pthread_create(&tb, NULL, rotate_many, &rb), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  kr_check(ra.status, "rotations on A");
  kr_check(rb.status, "rotations on B");
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A");
  kr_check(tv_keyring_refresh(f->b.kr), "refresh B");
  expect_same_active(f->a.kr, f->b.kr, 13);
  tv_keyring_version_info infos[32];
  size_t n = 0;
  kr_check(tv_keyring_list_versions(f->b.kr, infos, &n, 32, "pan"), "list on B");
  assert_int_equal(n, 13);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(infos[i].version, i + 1);
  }
}

/* tamper_row changes one byte of the stored document (keeping its
 * generation ahead, as an attacker with database access could). */
static void tamper_row(fleet *f) {
  assert_true(test_pg_exec(f->conninfo, "UPDATE tv_keyring SET generation = generation + 1,"
                                        " document = set_byte(document, 40, get_byte(document, 40) # 1)"));
}

static void test_tampered_row_refused(void **state) {
  fleet *f = *state;
  tamper_row(f);
  /* A running node keeps its verified view. */
  assert_int_equal(tv_keyring_refresh(f->b.kr), TV_E_KEYRING_MAC);
  expect_same_active(f->a.kr, f->b.kr, 1);
  /* A node starting refuses. */
  node c = {0};
  node_connect(f, &c, "node-c");
  assert_int_equal(node_open(f, &c, 0), TV_E_KEYRING_MAC);
  assert_null(c.kr);
  node_close(&c);
}

/* A row made under another HSM key (another vault's MAC key) is
 * refused at start, naming the MAC check. */
static void test_row_of_another_hsm_key_refused(void **state) {
  fleet *f = *state;
  kr_check(tv_hsm_mac_key_ensure(f->a.hsm, "other-vault-mac", 1), "other MAC key");
  node c = {0};
  node_connect(f, &c, "node-c");
  tv_keyring_options o = node_options(f, &c, 0);
  o.mac_label = "other-vault-mac";
  assert_int_equal(tv_keyring_open(&c.kr, c.hsm, &o), TV_E_KEYRING_MAC);
  assert_null(c.kr);
  node_close(&c);
}

static void test_older_row_put_back_refused(void **state) {
  fleet *f = *state;
  assert_true(test_pg_exec(f->conninfo, "CREATE TABLE saved AS SELECT * FROM tv_keyring"));
  kr_check(tv_keyring_rotate_data_key(f->a.kr, NULL, "pan"), "rotate on A");
  kr_check(tv_keyring_refresh(f->b.kr), "refresh B");
  assert_true(test_pg_exec(f->conninfo, "UPDATE tv_keyring k SET generation = s.generation, document = s.document,"
                                        " mac = s.mac FROM saved s"));
  assert_int_equal(tv_keyring_refresh(f->b.kr), TV_E_KEYRING_ROLLBACK);
  expect_same_active(f->a.kr, f->b.kr, 2);
  node c = {0};
  node_connect(f, &c, "node-c");
  assert_int_equal(node_open(f, &c, 0), TV_E_KEYRING_ROLLBACK);
  node_close(&c);
}

/* KEK rotation proposed on A, approved on B: A takes in the new KEK and
 * every key is unchanged on both. */
static void test_kek_proposal_on_a_approved_on_b(void **state) {
  fleet *f = *state;
  tv_keyring_keys before;
  kr_check(tv_keyring_active(f->a.kr, &before, "pan"), "before");
  uint8_t key[TV_KEYRING_KEY_LEN];
  memcpy(key, before.value_key, sizeof key);
  tv_keyring_proposal p = {.action = TV_KEYRING_ROTATE_KEK};
  snprintf(p.label, sizeof p.label, "fleet-kek-2");
  uint64_t id = 0;
  kr_check(tv_keyring_propose(f->a.kr, &id, &p, "officer-a", (uint64_t)time(NULL)), "propose on A");
  kr_check(tv_keyring_approve(f->b.kr, id, "officer-b", (uint64_t)time(NULL)), "approve on B");
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A");
  char la[TV_HSM_LABEL_MAX + 1], lb[TV_HSM_LABEL_MAX + 1];
  kr_check(tv_keyring_kek_label(f->a.kr, la), "label A");
  kr_check(tv_keyring_kek_label(f->b.kr, lb), "label B");
  assert_string_equal(la, "fleet-kek-2");
  assert_string_equal(lb, "fleet-kek-2");
  expect_same_active(f->a.kr, f->b.kr, 1);
  tv_keyring_keys after;
  kr_check(tv_keyring_active(f->a.kr, &after, "pan"), "after");
  assert_memory_equal(after.value_key, key, sizeof key);
  /* A third node starting now unwraps under the new KEK. */
  node c = {0};
  node_connect(f, &c, "node-c");
  kr_check(node_open(f, &c, 0), "open C");
  expect_same_active(f->a.kr, c.kr, 1);
  node_close(&c);
}

/* A version destroyed through B disappears from A at its refresh. */
static void test_destroy_through_b_seen_by_a(void **state) {
  fleet *f = *state;
  kr_check(tv_keyring_rotate_data_key(f->a.kr, NULL, "pan"), "rotate on A");
  kr_check(tv_keyring_mark_reencrypted(f->a.kr, "pan", 1), "retire 1 on A");
  tv_keyring_proposal p = {.action = TV_KEYRING_DESTROY_VERSION, .version = 1};
  snprintf(p.name, sizeof p.name, "pan");
  uint64_t id = 0;
  kr_check(tv_keyring_propose(f->b.kr, &id, &p, "officer-b", (uint64_t)time(NULL)), "propose on B");
  kr_check(tv_keyring_approve(f->b.kr, id, "officer-c", (uint64_t)time(NULL)), "approve on B");
  tv_keyring_keys k;
  assert_int_equal(tv_keyring_version(f->a.kr, &k, "pan", 1), TV_E_KEYRING_KEY_STATE); /* retired, not yet gone */
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A");
  assert_int_equal(tv_keyring_version(f->a.kr, &k, "pan", 1), TV_E_KEYRING_KEY_VERSION);
  expect_same_active(f->a.kr, f->b.kr, 2);
}

/* Versions that stop being usable through another node call A's
 * tv_keyring_on_keys_dropped function at A's refresh (the engine wipes
 * its cached GCM keys there); a new version alone does not. */
static atomic_int keys_dropped_calls;
static void count_keys_dropped(void) { atomic_fetch_add(&keys_dropped_calls, 1); }

static void test_keys_dropped_elsewhere_seen_at_refresh(void **state) {
  fleet *f = *state;
  atomic_store(&keys_dropped_calls, 0);
  tv_keyring_on_keys_dropped(f->a.kr, count_keys_dropped);
  kr_check(tv_keyring_rotate_data_key(f->b.kr, NULL, "pan"), "rotate on B");
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A");
  assert_int_equal(atomic_load(&keys_dropped_calls), 0); /* version 1 is DECRYPT_ONLY: still usable */
  kr_check(tv_keyring_mark_reencrypted(f->b.kr, "pan", 1), "retire 1 on B");
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A");
  assert_int_equal(atomic_load(&keys_dropped_calls), 1);
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A again: nothing new");
  assert_int_equal(atomic_load(&keys_dropped_calls), 1);
  tv_keyring_proposal p = {.action = TV_KEYRING_DESTROY_VERSION, .version = 1};
  snprintf(p.name, sizeof p.name, "pan");
  uint64_t id = 0;
  kr_check(tv_keyring_propose(f->b.kr, &id, &p, "officer-b", (uint64_t)time(NULL)), "propose on B");
  kr_check(tv_keyring_approve(f->b.kr, id, "officer-c", (uint64_t)time(NULL)), "approve on B");
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A");
  assert_int_equal(atomic_load(&keys_dropped_calls), 2);
  tv_keyring_on_keys_dropped(f->a.kr, NULL);
}

/* A node "killed" in the middle of a KEK rotation: its step hook jumps
 * out once the new KEK exists, leaving the row at pending = KEK_CREATE. */
static jmp_buf killed_at;
static const char *kill_step;
static void kill_hook(void *ctx, const char *step) {
  (void)ctx;
  if (kill_step != NULL && strcmp(step, kill_step) == 0) {
    longjmp(killed_at, 1);
  }
}

static void approve_and_die(fleet *f, const char *step) {
  node *a = &f->a;
  tv_keyring_free(a->kr); /* reopen A with the crash hook */
  tv_keyring_options o = node_options(f, a, 0);
  o.step_hook = kill_hook;
  kr_check(tv_keyring_open(&a->kr, a->hsm, &o), "reopen A with a hook");
  tv_keyring_proposal p = {.action = TV_KEYRING_ROTATE_KEK};
  snprintf(p.label, sizeof p.label, "fleet-kek-3");
  uint64_t id = 0;
  kr_check(tv_keyring_propose(f->b.kr, &id, &p, "officer-b", (uint64_t)time(NULL)), "propose on B");
  kill_step = step;
  if (setjmp(killed_at) == 0) {
    (void)tv_keyring_approve(a->kr, id, "officer-a", (uint64_t)time(NULL));
    fail_msg("the hook did not stop A at %s", step);
  }
  kill_step = NULL;
  /* A is dead: nothing of it runs any more (its lock is let go only so
   * it can be freed). */
  pthread_mutex_unlock(&a->kr->mu);
}

static void expect_kek(tv_keyring *kr, const char *label) {
  char got[TV_HSM_LABEL_MAX + 1];
  kr_check(tv_keyring_kek_label(kr, got), "kek label");
  assert_string_equal(got, label);
}

/* The node doing a KEK rotation dies after creating the new KEK: another
 * node that keeps seeing the rotation pending finishes it (after
 * TV_KEYRING_PENDING_STALE_MS), and the keys are unchanged. */
static void test_kek_rotation_abandoned_is_finished_by_another_node(void **state) {
  fleet *f = *state;
  tv_keyring_keys before;
  kr_check(tv_keyring_active(f->b.kr, &before, "pan"), "before");
  uint8_t key[TV_KEYRING_KEY_LEN];
  memcpy(key, before.value_key, sizeof key);
  approve_and_die(f, "kek.created");
  kr_check(tv_keyring_refresh(f->b.kr), "B sees the pending rotation");
  expect_kek(f->b.kr, f->fx->hsm->token.kek_label); /* not switched yet: KEK_CREATE pending */
  usleep((TV_KEYRING_PENDING_STALE_MS + 300) * 1000);
  kr_check(tv_keyring_refresh(f->b.kr), "B finishes it");
  expect_kek(f->b.kr, "fleet-kek-3");
  assert_true(test_pg_exec(f->conninfo, "DO $$ BEGIN IF (SELECT get_byte(document, 8 + 8 + 1 +"
                                        " get_byte(document, 16)) FROM tv_keyring) <> 0 THEN RAISE 'still pending';"
                                        " END IF; END $$"));
  tv_keyring_keys after;
  kr_check(tv_keyring_active(f->b.kr, &after, "pan"), "after");
  assert_memory_equal(after.value_key, key, sizeof key);
  /* A node starting now opens under the new KEK. */
  node c = {0};
  node_connect(f, &c, "node-c");
  kr_check(node_open(f, &c, 0), "open C");
  expect_kek(c.kr, "fleet-kek-3");
  expect_same_active(c.kr, f->b.kr, 1);
  node_close(&c);
}

/* Killed after the rewrap was committed (pending = disable the old KEK):
 * the next node to open the keyring finishes at once. */
static void test_kek_rotation_abandoned_is_finished_at_open(void **state) {
  fleet *f = *state;
  approve_and_die(f, "kek.switched");
  node c = {0};
  node_connect(f, &c, "node-c");
  kr_check(node_open(f, &c, 0), "open C finishes the rotation");
  expect_kek(c.kr, "fleet-kek-3");
  kr_check(tv_keyring_refresh(f->b.kr), "refresh B");
  expect_kek(f->b.kr, "fleet-kek-3");
  expect_same_active(c.kr, f->b.kr, 1);
  node_close(&c);
}

static void reopen_small(fleet *f, node *n) {
  tv_keyring_free(n->kr);
  n->kr = NULL;
  tv_keyring_options o = node_options(f, n, 0);
  o.reserve_block = 16;
  o.encryptions_max = 100;
  o.encryptions_warn = 90;
  kr_check(tv_keyring_open(&n->kr, n->hsm, &o), "reopen with small blocks");
}

/* Encryption counts come in per-node blocks from tv_nonce_counters: the
 * two nodes' blocks never overlap, a node restarted never gets a count
 * again, and the fleet stops at the key's bound, not each node. */
static void test_nonce_blocks_per_node(void **state) {
  fleet *f = *state;
  reopen_small(f, &f->a);
  reopen_small(f, &f->b);
  tv_keyring_keys k;
  int due = 0;
  kr_check(tv_keyring_reserve(f->a.kr, &k, &due, "pan", 10), "A 10");
  kr_check(tv_keyring_reserve(f->b.kr, &k, &due, "pan", 10), "B 10");
  kr_check(tv_keyring_reserve(f->a.kr, &k, &due, "pan", 4), "A 4 more, same block");
  kr_check(tv_keyring_reserve(f->a.kr, &k, &due, "pan", 4), "A 4 more: a new block");
  assert_true(test_pg_exec(f->conninfo, "DO $$ BEGIN IF (SELECT string_agg(first_count || ':' || count || ':' || node_id,"
                                        " ',' ORDER BY first_count) FROM tv_nonce_blocks) <>"
                                        " '0:16:node-a,16:16:node-b,32:16:node-a' THEN RAISE 'blocks %',"
                                        " (SELECT string_agg(first_count || ':' || node_id, ',') FROM tv_nonce_blocks);"
                                        " END IF; END $$"));
  /* A restarted node never gets a count again: a new block after 48. */
  reopen_small(f, &f->a);
  kr_check(tv_keyring_reserve(f->a.kr, &k, &due, "pan", 1), "A after restart");
  assert_true(test_pg_exec(f->conninfo, "DO $$ BEGIN IF (SELECT max(first_count) FROM tv_nonce_blocks) <> 48"
                                        " THEN RAISE 'restart reused counts'; END IF; END $$"));
  /* Both nodes together stop at the key's bound (100): blocks of 16 up to
   * 96, then the last 4 counts one request at a time. */
  tv_status st = TV_OK;
  for (int i = 0; i < 200 && st == TV_OK; i++) {
    st = tv_keyring_reserve(i % 2 ? f->a.kr : f->b.kr, &k, &due, "pan", 3);
  }
  assert_int_equal(st, TV_E_KEYRING_KEY_EXHAUSTED);
  assert_true(test_pg_exec(f->conninfo, "DO $$ BEGIN IF (SELECT max(first_count + count) FROM tv_nonce_blocks) < 97"
                                        " THEN RAISE 'stopped before the bound'; END IF; END $$"));
  assert_true(test_pg_exec(f->conninfo, "DO $$ BEGIN IF (SELECT max(first_count + count) FROM tv_nonce_blocks) > 100"
                                        " OR EXISTS (SELECT 1 FROM tv_nonce_blocks x JOIN tv_nonce_blocks y ON"
                                        " x.key_version = y.key_version AND x.first_count < y.first_count AND"
                                        " x.first_count + x.count > y.first_count) THEN RAISE 'overlap or past the"
                                        " bound'; END IF; END $$"));
  /* A rotation (through either node) gives a fresh counter. */
  kr_check(tv_keyring_rotate_data_key(f->b.kr, NULL, "pan"), "rotate on B");
  kr_check(tv_keyring_refresh(f->a.kr), "refresh A");
  kr_check(tv_keyring_reserve(f->a.kr, &k, &due, "pan", 3), "A on version 2");
  assert_int_equal(k.version, 2);
  assert_false(due);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The refresh thread: a node opened with refresh_ms sees a rotation made
 * through another node by itself, well within 2 s. */
static void test_refresh_thread(void **state) {
  fleet *f = *state;
  node c = {0};
  node_connect(f, &c, "node-c");
  kr_check(node_open(f, &c, TV_KEYRING_REFRESH_MS_DEFAULT), "open C with refresh");
  kr_check(tv_keyring_rotate_data_key(f->a.kr, NULL, "pan"), "rotate on A");
  double start = now_s();
  tv_keyring_keys k = {0};
  while (now_s() - start < 10.0) { /* hang guard only */
    kr_check(tv_keyring_active(c.kr, &k, "pan"), "active C");
    if (k.version == 2) {
      break;
    }
    usleep(20000);
  }
  assert_int_equal(k.version, 2);
  fprintf(stderr, "refresh thread saw the rotation after %.2f s\n", now_s() - start);
  node_close(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_on_a_open_on_b, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_rotation_on_a_seen_by_b_after_refresh, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_unknown_version_looked_up_after_refresh, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_cas_loser, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_rotations, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_tampered_row_refused, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_row_of_another_hsm_key_refused, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_older_row_put_back_refused, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_kek_proposal_on_a_approved_on_b, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_destroy_through_b_seen_by_a, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_keys_dropped_elsewhere_seen_at_refresh, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_refresh_thread, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_nonce_blocks_per_node, fleet_setup, fleet_teardown),
      cmocka_unit_test_setup_teardown(test_kek_rotation_abandoned_is_finished_by_another_node, fleet_setup,
                                      fleet_teardown),
      cmocka_unit_test_setup_teardown(test_kek_rotation_abandoned_is_finished_at_open, fleet_setup, fleet_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
