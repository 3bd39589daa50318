/* Creating and opening the keyring: keys survive a restart byte for byte,
 * lookups by version, the per-namespace token/fingerprint keys, and no
 * plaintext key ever reaches the disk (vault data dir or HSM token dir). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/keyring/keyring_test_util.h"

static const char *const names[] = {"pan", "iban", "tw_national_id"};

static void test_create_reopen_keys_equal(void **state) {
  kr_fixture *fx = *state;
  for (size_t i = 0; i < 3; i++) {
    kr_check(tv_keyring_add_namespace(fx->kr, names[i]), "add namespace");
  }
  uint32_t version = 0;
  kr_check(tv_keyring_rotate_data_key(fx->kr, &version, "pan"), "rotate");
  assert_int_equal(version, 2);
  kr_check(tv_keyring_rotate_data_key(fx->kr, &version, "pan"), "rotate");
  assert_int_equal(version, 3);
  kr_snapshot before;
  kr_snapshot_take(&before, fx->kr, names, 3);
  assert_int_equal(before.ns[0].num_versions, 3);
  assert_int_equal(before.ns[0].states[0], TV_KEY_DECRYPT_ONLY);
  assert_int_equal(before.ns[0].states[2], TV_KEY_ACTIVE);
  /* Every key is distinct (fresh randomness for each). */
  assert_memory_not_equal(before.ns[0].value_keys[0], before.ns[0].value_keys[1], 32);
  assert_memory_not_equal(before.ns[0].token_key, before.ns[1].token_key, 32);
  assert_memory_not_equal(before.ns[0].token_key, before.ns[0].fingerprint_key, 32);
  kr_reconnect(fx);
  kr_snapshot_expect_keys(&before, fx->kr);
  kr_snapshot after;
  kr_snapshot_take(&after, fx->kr, names, 3);
  assert_memory_equal(&after, &before, sizeof before);
}

static void test_lookups_by_version(void **state) {
  kr_fixture *fx = *state;
  kr_check(tv_keyring_add_namespace(fx->kr, "pan"), "add");
  tv_keyring_keys v1;
  kr_check(tv_keyring_active(fx->kr, &v1, "pan"), "active");
  assert_int_equal(v1.version, 1);
  assert_int_equal(v1.state, TV_KEY_ACTIVE);
  kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, "pan"), "rotate");
  tv_keyring_keys active;
  tv_keyring_keys old;
  kr_check(tv_keyring_active(fx->kr, &active, "pan"), "active");
  kr_check(tv_keyring_version(fx->kr, &old, "pan", 1), "version 1");
  assert_int_equal(active.version, 2);
  assert_int_equal(old.state, TV_KEY_DECRYPT_ONLY);
  assert_ptr_equal(old.value_key, v1.value_key);
  assert_memory_not_equal(active.value_key, old.value_key, 32);
  /* Token and fingerprint keys belong to the namespace, not the version:
   * tokens and fingerprints do not change when data keys rotate. */
  assert_memory_equal(active.token_key, old.token_key, 32);
  assert_memory_equal(active.fingerprint_key, old.fingerprint_key, 32);
  assert_ptr_equal(active.token_ff1, old.token_ff1);
  /* The ready FF1 key is the token key. */
  ff1_key *mine = NULL;
  kr_check(ff1_key_new(&mine, FF1_IMPL_AUTO, active.token_key, 32), "ff1 key");
  uint8_t in[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6};
  uint8_t a[16];
  uint8_t b[16];
  kr_check(ff1_encrypt(active.token_ff1, 10, NULL, 0, in, 16, a), "ff1");
  kr_check(ff1_encrypt(mine, 10, NULL, 0, in, 16, b), "ff1");
  assert_memory_equal(a, b, 16);
  ff1_key_free(mine);
  assert_int_equal(tv_keyring_version(fx->kr, &old, "pan", 3), TV_E_KEYRING_KEY_VERSION);
  assert_int_equal(tv_keyring_version(fx->kr, &old, "pan", 0), TV_E_KEYRING_KEY_VERSION);
  assert_int_equal(tv_keyring_active(fx->kr, &old, "nope"), TV_E_KEYRING_NAMESPACE);
  assert_int_equal(tv_keyring_add_namespace(fx->kr, "pan"), TV_E_KEYRING_NAMESPACE_EXISTS);
  assert_int_equal(tv_keyring_add_namespace(fx->kr, "Bad Name"), TV_E_KEYRING_NAMESPACE);
  assert_int_equal(tv_keyring_add_namespace(fx->kr, ""), TV_E_KEYRING_NAMESPACE);
  assert_int_equal(tv_keyring_rotate_data_key(fx->kr, NULL, "nope"), TV_E_KEYRING_NAMESPACE);
}

static void test_exists_missing_locked(void **state) {
  kr_fixture *fx = *state;
  tv_keyring *other = NULL;
  /* A second keyring on the same file, even in this process, is refused. */
  assert_int_equal(tv_keyring_open(&other, fx->hsm->hsm, &fx->options), TV_E_KEYRING_LOCKED);
  assert_null(other);
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  assert_int_equal(tv_keyring_create(&other, fx->hsm->hsm, &fx->options), TV_E_KEYRING_EXISTS);
  tv_keyring_options missing = fx->options;
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s.none", fx->path);
  missing.path = path;
  assert_int_equal(tv_keyring_open(&other, fx->hsm->hsm, &missing), TV_E_KEYRING_NOT_FOUND);
  tv_keyring_options bad_kek = missing;
  bad_kek.kek_label = "no-such-kek";
  assert_int_equal(tv_keyring_create(&other, fx->hsm->hsm, &bad_kek), TV_E_HSM_KEY_NOT_FOUND);
  kr_check(tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options), "open");
}

static void test_retire_and_destroy_version(void **state) {
  kr_fixture *fx = *state;
  kr_check(tv_keyring_add_namespace(fx->kr, "pan"), "add");
  kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, "pan"), "rotate");
  assert_int_equal(tv_keyring_mark_reencrypted(fx->kr, "pan", 2), TV_E_KEYRING_KEY_STATE);
  kr_check(tv_keyring_mark_reencrypted(fx->kr, "pan", 1), "mark");
  assert_int_equal(tv_keyring_mark_reencrypted(fx->kr, "pan", 1), TV_E_KEYRING_KEY_STATE);
  tv_keyring_keys keys;
  assert_int_equal(tv_keyring_version(fx->kr, &keys, "pan", 1), TV_E_KEYRING_KEY_STATE);
  kr_reopen(fx);
  assert_int_equal(tv_keyring_version(fx->kr, &keys, "pan", 1), TV_E_KEYRING_KEY_STATE);
  /* Destruction needs two officers. */
  tv_keyring_proposal p = {.action = TV_KEYRING_DESTROY_VERSION, .name = "pan", .version = 2};
  uint64_t id = 0;
  assert_int_equal(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 1000),
                   TV_E_KEYRING_KEY_STATE); /* version 2 is active */
  p.version = 1;
  kr_check(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 1000), "propose");
  assert_int_equal(tv_keyring_approve(fx->kr, id, "officer-a", 1001), TV_E_KEYRING_SAME_OFFICER);
  kr_check(tv_keyring_approve(fx->kr, id, "officer-b", 1002), "approve");
  assert_int_equal(tv_keyring_version(fx->kr, &keys, "pan", 1), TV_E_KEYRING_KEY_VERSION);
  size_t count = 0;
  tv_keyring_version_info infos[4];
  kr_check(tv_keyring_list_versions(fx->kr, infos, &count, 4, "pan"), "list");
  assert_int_equal(count, 1);
  assert_int_equal(infos[0].version, 2);
  kr_reopen(fx);
  assert_int_equal(tv_keyring_version(fx->kr, &keys, "pan", 1), TV_E_KEYRING_KEY_VERSION);
  /* Version numbers are never reused. */
  uint32_t version = 0;
  kr_check(tv_keyring_rotate_data_key(fx->kr, &version, "pan"), "rotate");
  assert_int_equal(version, 3);
}

static void collect_keys(kr_fixture *fx, uint8_t (*out)[32], size_t *out_count, size_t max) {
  static const char *const all[] = {"pan", "iban", "ssn", "tw_national_id"};
  *out_count = 0;
  kr_snapshot snap;
  kr_snapshot_take(&snap, fx->kr, all, 4);
  for (size_t i = 0; i < snap.num_ns; i++) {
    assert_true(*out_count + 2 + snap.ns[i].num_versions <= max);
    memcpy(out[(*out_count)++], snap.ns[i].token_key, 32);
    memcpy(out[(*out_count)++], snap.ns[i].fingerprint_key, 32);
    for (size_t j = 0; j < snap.ns[i].num_versions; j++) {
      memcpy(out[(*out_count)++], snap.ns[i].value_keys[j], 32);
    }
  }
}

static void test_no_plaintext_key_on_disk(void **state) {
  kr_fixture *fx = *state;
  static const char *const all[] = {"pan", "iban", "ssn", "tw_national_id"};
  for (size_t i = 0; i < 4; i++) {
    kr_check(tv_keyring_add_namespace(fx->kr, all[i]), "add");
  }
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < 4; i++) {
      kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, all[i]), "rotate");
    }
    char label[32];
    snprintf(label, sizeof label, "kek-rotated-%d", round);
    tv_keyring_proposal p = {.action = TV_KEYRING_ROTATE_KEK};
    snprintf(p.label, sizeof p.label, "%s", label);
    uint64_t id = 0;
    kr_check(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 100), "propose");
    kr_check(tv_keyring_approve(fx->kr, id, "officer-b", 101), "approve");
  }
  char kek[TV_HSM_LABEL_MAX + 1];
  kr_check(tv_keyring_kek_label(fx->kr, kek), "kek label");
  assert_string_equal(kek, "kek-rotated-2");
  uint8_t keys[64][32];
  size_t count = 0;
  collect_keys(fx, keys, &count, 64);
  assert_int_equal(count, 4 * (2 + 4));
  kr_reconnect(fx); /* everything flushed and read back once more */
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  tv_hsm_free(fx->hsm->hsm);
  fx->hsm->hsm = NULL;
  for (size_t i = 0; i < count; i++) {
    assert_false(kr_tree_contains(fx->data_dir, keys[i], 32));
    assert_false(kr_tree_contains(fx->hsm->token.dir, keys[i], 32));
  }
  /* The scan itself works: a key written to a file is found. */
  char leak[PATH_MAX + 16];
  snprintf(leak, sizeof leak, "%s/leak", fx->data_dir);
  uint8_t blob[100] = {0};
  memcpy(blob + 37, keys[5], 32);
  kr_write_file(leak, blob, sizeof blob);
  assert_true(kr_tree_contains(fx->data_dir, keys[5], 32));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_reopen_keys_equal, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_lookups_by_version, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_exists_missing_locked, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_retire_and_destroy_version, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_no_plaintext_key_on_disk, kr_setup, kr_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
