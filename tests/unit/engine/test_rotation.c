/* Rotation end to end: tokenize, rotate the data key, tokenize more,
 * re-encrypt (resumable, rate-limited), retire and destroy the old version
 * with two officers; every token keeps its value and no token changes. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"
#include "vault/engine/engine_internal.h"

#define OLD_VALUES 60
#define NEW_VALUES 20
#define ALL_VALUES (OLD_VALUES + NEW_VALUES)

typedef struct rot_data {
  char values[ALL_VALUES][17];
  tv_tokenize_item items[ALL_VALUES];
} rot_data;

static void tokenize_range(eng_fixture *fx, rot_data *d, size_t from, size_t to) {
  for (size_t i = from; i < to; i++) {
    eng_pan(d->values[i], 500 + i * 31);
    d->items[i] = (tv_tokenize_item){.value = d->values[i], .value_len = 16};
  }
  eng_check(tv_engine_tokenize(fx->engine, "pan", d->items + from, to - from), "tokenize");
  for (size_t i = from; i < to; i++) {
    eng_check(d->items[i].status, "item");
  }
}

static void expect_all(eng_fixture *fx, rot_data *d, size_t skip, uint32_t version) {
  tv_detokenize_item out[ALL_VALUES];
  for (size_t i = 0; i < ALL_VALUES; i++) {
    out[i] = (tv_detokenize_item){.token = d->items[i].token, .token_len = d->items[i].token_len};
  }
  eng_check(tv_engine_detokenize(fx->engine, "pan", out, ALL_VALUES, TV_REVEAL_FULL), "detok");
  for (size_t i = 0; i < ALL_VALUES; i++) {
    if (i == skip) {
      assert_int_equal(out[i].status, TV_E_ENGINE_DELETED);
      continue;
    }
    eng_check(out[i].status, "value");
    assert_string_equal(out[i].value, d->values[i]);
    tv_token_info info;
    eng_check(tv_engine_token_info(fx->engine, &info, "pan", d->items[i].token, d->items[i].token_len), "info");
    if (version != 0) {
      assert_int_equal(info.key_version, version);
    }
  }
}

static tv_key_state state_of_ns(eng_fixture *fx, const char *ns, uint32_t version) {
  tv_keyring_version_info infos[8];
  size_t count = 0;
  kr_check(tv_keyring_list_versions(fx->kr->kr, infos, &count, 8, ns), "list");
  for (size_t i = 0; i < count && i < 8; i++) {
    if (infos[i].version == version) {
      return infos[i].state;
    }
  }
  return TV_KEY_DESTROYED; /* destroyed versions leave the list */
}

static tv_key_state state_of(eng_fixture *fx, uint32_t version) { return state_of_ns(fx, "pan", version); }

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_rotation_end_to_end(void **state) {
  eng_fixture *fx = *state;
  static rot_data d;
  memset(&d, 0, sizeof d);
  tokenize_range(fx, &d, 0, OLD_VALUES);
  /* One token deleted before the rotation must stay deleted. */
  const char *del_tok[1] = {d.items[3].token};
  size_t del_len[1] = {d.items[3].token_len};
  tv_status del_st[1];
  eng_check(tv_engine_delete(fx->engine, "pan", del_tok, del_len, del_st, 1), "delete");
  eng_check(del_st[0], "delete status");
  uint32_t v2 = 0;
  kr_check(tv_keyring_rotate_data_key(fx->kr->kr, &v2, "pan"), "rotate");
  assert_int_equal(v2, 2);
  tokenize_range(fx, &d, OLD_VALUES, ALL_VALUES);

  /* Step 1: at most 25 records, rate-limited to 100/s. */
  tv_reencrypt_progress p;
  tv_reencrypt_options o = {.records_per_s = 100, .records_max = 25, .chunk_records = 10};
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  eng_check(tv_engine_reencrypt(fx->engine, &p, "pan", &o), "reencrypt step");
  assert_true(seconds_since(&t0) >= 0.15); /* 25 at 100/s: ~0.2 s */
  assert_int_equal(p.active_version, 2);
  assert_int_equal(p.reencrypted, 25);
  assert_int_equal(p.remaining, OLD_VALUES - 1 - 25);
  assert_int_equal(p.num_retired, 0);
  assert_int_equal(state_of(fx, 1), TV_KEY_DECRYPT_ONLY);
  expect_all(fx, &d, 3, 0);

  /* A restart in between: the rest is found and finished. */
  eng_close(fx);
  eng_open(fx);
  eng_check(tv_engine_reencrypt(fx->engine, &p, "pan", NULL), "reencrypt rest");
  assert_int_equal(p.reencrypted, OLD_VALUES - 1 - 25);
  assert_int_equal(p.remaining, 0);
  assert_int_equal(p.num_retired, 1);
  assert_int_equal(p.retired[0], 1);
  assert_int_equal(state_of(fx, 1), TV_KEY_RETIRED);
  expect_all(fx, &d, 3, 2);
  eng_check(tv_engine_reencrypt(fx->engine, &p, "pan", NULL), "reencrypt nothing");
  assert_int_equal(p.reencrypted, 0);
  assert_int_equal(p.num_retired, 0);

  /* Two officers destroy version 1. */
  tv_keyring_proposal prop = {.action = TV_KEYRING_DESTROY_VERSION, .version = 1};
  strcpy(prop.name, "pan");
  uint64_t id = 0;
  uint64_t now_s = (uint64_t)time(NULL);
  kr_check(tv_keyring_propose(fx->kr->kr, &id, &prop, "officer-alice", now_s), "propose");
  assert_int_equal(tv_keyring_approve(fx->kr->kr, id, "officer-alice", now_s), TV_E_KEYRING_SAME_OFFICER);
  kr_check(tv_keyring_approve(fx->kr->kr, id, "officer-bob", now_s), "approve");
  assert_int_not_equal(state_of(fx, 1), TV_KEY_RETIRED);
  tv_keyring_keys keys;
  assert_int_not_equal(tv_keyring_version(fx->kr->kr, &keys, "pan", 1), TV_OK);

  /* Everything still detokenizes, tokens did not change, convergence holds. */
  expect_all(fx, &d, 3, 2);
  eng_close(fx);
  eng_open(fx);
  expect_all(fx, &d, 3, 2);
  for (size_t i = 0; i < ALL_VALUES; i += 7) {
    if (i == 3) {
      continue;
    }
    tv_tokenize_item again = eng_tokenize1(fx, "pan", d.values[i]);
    eng_check(again.status, "again");
    assert_int_equal(again.existing, 1);
    assert_string_equal(again.token, d.items[i].token);
  }
}

static void test_reencrypt_errors(void **state) {
  eng_fixture *fx = *state;
  tv_reencrypt_progress p;
  assert_int_equal(tv_engine_reencrypt(fx->engine, &p, "nope", NULL), TV_E_ENGINE_NAMESPACE);
  assert_int_equal(tv_engine_reencrypt(fx->engine, NULL, "pan", NULL), TV_E_INVALID_ARGUMENT);
  /* A record that fails authentication is left alone and keeps its
   * version from being retired. */
  tv_tokenize_item t = eng_tokenize1(fx, "ssn", "123-45-6789");
  tv_tokenize_item ok = eng_tokenize1(fx, "ssn", "078-05-1120");
  eng_check(t.status, "t");
  eng_check(ok.status, "ok");
  tv_store_key key = {(const uint8_t *)"ssn", 3, (const uint8_t *)t.token, 0};
  char canon[16];
  size_t n = 0;
  for (size_t i = 0; i < t.token_len; i++) {
    if (t.token[i] != '-') {
      canon[n++] = t.token[i];
    }
  }
  key.token = (const uint8_t *)canon;
  key.token_len = n;
  tv_store_buf buf = {0};
  tv_store_item it;
  eng_check(tv_store_get_batch(fx->store, &key, 1, &it, &buf), "get");
  eng_check(it.status, "record");
  tv_record_put bad = it.put;
  bad.tag[0] ^= 1;
  eng_check(tv_store_reput(fx->store, &bad, NULL), "tamper");
  tv_store_buf_cleanup(&buf);
  kr_check(tv_keyring_rotate_data_key(fx->kr->kr, NULL, "ssn"), "rotate");
  eng_check(tv_engine_reencrypt(fx->engine, &p, "ssn", NULL), "reencrypt");
  assert_int_equal(p.reencrypted, 1);
  assert_int_equal(p.remaining, 1);
  assert_int_equal(p.num_retired, 0);
  tv_detokenize_item d = eng_detok1(fx, "ssn", ok.token, TV_REVEAL_FULL);
  eng_check(d.status, "ok detok");
  assert_string_equal(d.value, "078-05-1120");
  assert_int_equal(eng_detok1(fx, "ssn", t.token, TV_REVEAL_FULL).status, TV_E_ENGINE_DECRYPT);
}

static int disk_full(void *ctx, uint64_t batch_no) {
  (void)batch_no;
  return atomic_load((atomic_int *)ctx) ? -ENOSPC : 0;
}

/* A store whose disk is full: re-encryption reports STORE_NO_SPACE (not
 * an authentication failure), moves nothing, and finishes once space
 * returns. */
static void test_reencrypt_store_full(void **state) {
  eng_fixture *fx = *state;
  static atomic_int full;
  atomic_store(&full, 0);
  enum { VALUES = 40 };
  for (uint64_t i = 0; i < VALUES; i++) {
    char pan[17];
    eng_pan(pan, 9000 + i);
    eng_check(eng_tokenize1(fx, "pan_nc", pan).status, "tokenize");
  }
  kr_check(tv_keyring_rotate_data_key(fx->kr->kr, NULL, "pan_nc"), "rotate");
  eng_close(fx);
  fx->store_fault = disk_full;
  fx->store_fault_ctx = &full;
  eng_open(fx);
  atomic_store(&full, 1);
  tv_reencrypt_progress p;
  assert_int_equal(tv_engine_reencrypt(fx->engine, &p, "pan_nc", NULL), TV_E_STORE_NO_SPACE);
  assert_int_equal(p.reencrypted, 0);
  assert_int_equal(p.remaining, VALUES);
  atomic_store(&full, 0);
  eng_check(tv_engine_reencrypt(fx->engine, &p, "pan_nc", NULL), "reencrypt with space");
  assert_int_equal(p.reencrypted, VALUES);
  assert_int_equal(p.remaining, 0);
  assert_int_equal(p.num_retired, 1);
}

#define RACE_VALUES 300

typedef struct del_race {
  eng_fixture *fx;
  char values[RACE_VALUES][17];
  tv_tokenize_item items[RACE_VALUES];
  tv_status deleted[RACE_VALUES];
} del_race;

static void *deleter(void *p) {
  del_race *r = p;
  for (size_t i = 0; i < RACE_VALUES; i += 3) {
    const char *tok[1] = {r->items[i].token};
    size_t len[1] = {r->items[i].token_len};
    if (tv_engine_delete(r->fx->engine, "pan_nc", tok, len, &r->deleted[i], 1) != TV_OK) {
      r->deleted[i] = TV_E_INTERNAL;
    }
  }
  return NULL;
}

/* Deletes racing with re-encryption: a re-encrypted copy must never bring
 * a deleted value back, and the old version still retires. */
static void test_delete_during_reencrypt(void **state) {
  eng_fixture *fx = *state;
  static del_race r;
  memset(&r, 0, sizeof r);
  r.fx = fx;
  for (size_t i = 0; i < RACE_VALUES; i++) {
    eng_pan(r.values[i], 9000 + i);
    r.items[i] = (tv_tokenize_item){.value = r.values[i], .value_len = 16};
  }
  eng_check(tv_engine_tokenize(fx->engine, "pan_nc", r.items, RACE_VALUES), "tokenize");
  kr_check(tv_keyring_rotate_data_key(fx->kr->kr, NULL, "pan_nc"), "rotate");
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, deleter, &r), 0);
  tv_reencrypt_progress p;
  tv_reencrypt_options o = {.chunk_records = 8};
  eng_check(tv_engine_reencrypt(fx->engine, &p, "pan_nc", &o), "reencrypt");
  pthread_join(t, NULL);
  assert_true(p.reencrypted <= RACE_VALUES);
  /* A second pass catches anything the deletes left in between. */
  eng_check(tv_engine_reencrypt(fx->engine, &p, "pan_nc", NULL), "reencrypt again");
  assert_int_equal(p.remaining, 0);
  assert_int_equal(state_of_ns(fx, "pan_nc", 1), TV_KEY_RETIRED);
  tv_detokenize_item d[RACE_VALUES];
  for (size_t i = 0; i < RACE_VALUES; i++) {
    eng_check(r.items[i].status, "item");
    d[i] = (tv_detokenize_item){.token = r.items[i].token, .token_len = r.items[i].token_len};
  }
  eng_check(tv_engine_detokenize(fx->engine, "pan_nc", d, RACE_VALUES, TV_REVEAL_FULL), "detok");
  for (size_t i = 0; i < RACE_VALUES; i++) {
    if (i % 3 == 0) {
      eng_check(r.deleted[i], "delete");
      assert_int_equal(d[i].status, TV_E_ENGINE_DELETED);
    } else {
      eng_check(d[i].status, "kept");
      assert_string_equal(d[i].value, r.values[i]);
    }
  }
}

/* A version retired outside this engine — by the keyring directly here,
 * in a fleet through another node and taken in at a keyring refresh —
 * leaves no copy of any key in the engine's per-thread GCM contexts
 * (tv_keyring_on_keys_dropped). Before, only the engine's own
 * re-encryption wiped them, so other nodes kept the retired key there. */
static void test_version_retired_elsewhere_leaves_no_cached_key(void **state) {
  eng_fixture *fx = *state;
  char pan[17];
  eng_pan(pan, 4242);
  tv_tokenize_item t = eng_tokenize1(fx, "pan", pan);
  eng_check(t.status, "tokenize under version 1");
  eng_check(tv_keyring_rotate_data_key(fx->kr->kr, NULL, "pan"), "rotate");
  tv_detokenize_item d = eng_detok1(fx, "pan", t.token, TV_REVEAL_FULL);
  eng_check(d.status, "detokenize under version 1");
  assert_true(engine_cached_keys() >= 1); /* version 1's key, keyed for decryption */
  eng_check(tv_keyring_mark_reencrypted(fx->kr->kr, "pan", 1), "retire version 1 outside the engine");
  assert_int_equal(engine_cached_keys(), 0);
  char pan2[17];
  eng_pan(pan2, 4243);
  eng_check(eng_tokenize1(fx, "pan", pan2).status, "tokenize under version 2");
  assert_true(engine_cached_keys() >= 1); /* the cache still works */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_version_retired_elsewhere_leaves_no_cached_key, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_rotation_end_to_end, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_reencrypt_errors, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_reencrypt_store_full, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_delete_during_reencrypt, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
