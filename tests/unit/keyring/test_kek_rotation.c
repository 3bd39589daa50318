/* KEK rotation over a large keyring, and the two-officer rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/keyring/keyring_test_util.h"
#include "vault/keyring/kr_file.h"

#define NAMESPACES 10
#define VERSIONS 5

static void names_of(char buf[NAMESPACES][16], const char *ptrs[NAMESPACES]) {
  for (int i = 0; i < NAMESPACES; i++) {
    snprintf(buf[i], 16, "ns%d", i);
    ptrs[i] = buf[i];
  }
}

static uint64_t propose_kek(kr_fixture *fx, const char *label, const char *who, uint64_t now) {
  tv_keyring_proposal p = {.action = TV_KEYRING_ROTATE_KEK};
  snprintf(p.label, sizeof p.label, "%s", label);
  uint64_t id = 0;
  kr_check(tv_keyring_propose(fx->kr, &id, &p, who, now), "propose");
  return id;
}

/* Every wrapped key in the file changed, and the old KEK is listed for
 * destruction. Frees |old_file|. */
static void expect_all_rewrapped(kr_fixture *fx, uint8_t *old_file, size_t old_len) {
  size_t new_len = 0;
  uint8_t *new_file = kr_read_file(fx->path, &new_len);
  kr_file old_parsed;
  kr_file new_parsed;
  kr_check(kr_file_parse(&old_parsed, old_file, old_len - KR_MAC_LEN), "parse old");
  kr_check(kr_file_parse(&new_parsed, new_file, new_len - KR_MAC_LEN), "parse new");
  assert_int_equal(new_parsed.num_versions, NAMESPACES * VERSIONS);
  assert_int_equal(new_parsed.num_versions, old_parsed.num_versions);
  for (uint32_t i = 0; i < new_parsed.num_namespaces; i++) {
    assert_memory_not_equal(new_parsed.namespaces[i].token_key.bytes,
                            old_parsed.namespaces[i].token_key.bytes, KR_WRAPPED_LEN);
    assert_memory_not_equal(new_parsed.namespaces[i].fingerprint_key.bytes,
                            old_parsed.namespaces[i].fingerprint_key.bytes, KR_WRAPPED_LEN);
  }
  for (uint32_t i = 0; i < new_parsed.num_versions; i++) {
    assert_memory_not_equal(new_parsed.versions[i].value_key.bytes,
                            old_parsed.versions[i].value_key.bytes, KR_WRAPPED_LEN);
  }
  assert_int_equal(new_parsed.pending, KR_PENDING_NONE);
  assert_int_equal(new_parsed.num_old_keks, 1);
  assert_string_equal(new_parsed.old_keks[0].label, fx->hsm->token.kek_label);
  kr_file_free(&old_parsed);
  kr_file_free(&new_parsed);
  free(old_file);
  free(new_file);
}

static void test_kek_rotation_many_keys(void **state) {
  kr_fixture *fx = *state;
  char buf[NAMESPACES][16];
  const char *names[NAMESPACES];
  names_of(buf, names);
  for (int i = 0; i < NAMESPACES; i++) {
    kr_check(tv_keyring_add_namespace(fx->kr, names[i]), "add");
    for (int v = 1; v < VERSIONS; v++) {
      kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, names[i]), "rotate");
    }
  }
  kr_snapshot before;
  kr_snapshot_take(&before, fx->kr, names, NAMESPACES);
  size_t old_len = 0;
  uint8_t *old_file = kr_read_file(fx->path, &old_len);
  uint64_t id = propose_kek(fx, "kek-2", "officer-a", 5000);
  kr_check(tv_keyring_approve(fx->kr, id, "officer-b", 5060), "approve");
  char label[TV_HSM_LABEL_MAX + 1];
  kr_check(tv_keyring_kek_label(fx->kr, label), "label");
  assert_string_equal(label, "kek-2");
  int enabled = -1;
  kr_check(tv_hsm_kek_is_enabled(fx->hsm->hsm, &enabled, fx->hsm->token.kek_label), "enabled?");
  assert_int_equal(enabled, 0); /* the old KEK is disabled */
  kr_check(tv_hsm_kek_is_enabled(fx->hsm->hsm, &enabled, "kek-2"), "enabled?");
  assert_int_equal(enabled, 1);
  kr_snapshot_expect_keys(&before, fx->kr);
  kr_reconnect(fx); /* everything unwraps under the new KEK */
  kr_snapshot_expect_keys(&before, fx->kr);
  expect_all_rewrapped(fx, old_file, old_len);
  /* The old KEK is destroyed later, again by two officers. */
  tv_keyring_proposal p = {.action = TV_KEYRING_DESTROY_OLD_KEK};
  snprintf(p.label, sizeof p.label, "%s", fx->hsm->token.kek_label);
  kr_check(tv_keyring_propose(fx->kr, &id, &p, "officer-b", 6000), "propose destroy");
  assert_int_equal(tv_keyring_approve(fx->kr, id, "officer-b", 6001), TV_E_KEYRING_SAME_OFFICER);
  kr_check(tv_keyring_approve(fx->kr, id, "officer-c", 6002), "approve destroy");
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm->hsm, fx->hsm->token.kek_label, 0),
                   TV_E_HSM_KEY_NOT_FOUND);
  kr_reconnect(fx);
  kr_snapshot_expect_keys(&before, fx->kr);
}

static void test_two_officer_rule(void **state) {
  kr_fixture *fx = *state;
  kr_check(tv_keyring_add_namespace(fx->kr, "pan"), "add");
  uint64_t ttl = TV_KEYRING_PROPOSAL_TTL_S_DEFAULT;
  uint64_t id = propose_kek(fx, "kek-2", "officer-a", 1000);
  /* The proposer cannot approve their own proposal. */
  assert_int_equal(tv_keyring_approve(fx->kr, id, "officer-a", 1001), TV_E_KEYRING_SAME_OFFICER);
  /* Too late: refused and dropped. */
  assert_int_equal(tv_keyring_approve(fx->kr, id, "officer-b", 1000 + ttl + 1),
                   TV_E_KEYRING_PROPOSAL_EXPIRED);
  assert_int_equal(tv_keyring_approve(fx->kr, id, "officer-b", 1002),
                   TV_E_KEYRING_PROPOSAL_NOT_FOUND);
  char label[TV_HSM_LABEL_MAX + 1];
  kr_check(tv_keyring_kek_label(fx->kr, label), "label");
  assert_string_equal(label, fx->hsm->token.kek_label); /* nothing happened */
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm->hsm, "kek-2", 0), TV_E_HSM_KEY_NOT_FOUND);
  /* Proposals survive a restart (they are in the MACed file). */
  id = propose_kek(fx, "kek-2", "officer-a", 2000);
  kr_reconnect(fx);
  tv_keyring_proposal listed[4];
  size_t count = 0;
  kr_check(tv_keyring_list_proposals(fx->kr, listed, &count, 4), "list");
  assert_int_equal(count, 1);
  assert_int_equal(listed[0].id, id);
  assert_string_equal(listed[0].proposer, "officer-a");
  assert_string_equal(listed[0].label, "kek-2");
  kr_check(tv_keyring_approve(fx->kr, id, "officer-b", 2000 + ttl), "approve in time");
  kr_check(tv_keyring_kek_label(fx->kr, label), "label");
  assert_string_equal(label, "kek-2");
  kr_check(tv_keyring_list_proposals(fx->kr, listed, &count, 4), "list");
  assert_int_equal(count, 0);
}

static void test_proposal_checks(void **state) {
  kr_fixture *fx = *state;
  tv_keyring_proposal p = {.action = TV_KEYRING_ROTATE_KEK};
  uint64_t id = 0;
  /* The new KEK must not exist yet: it is made by the rotation. */
  snprintf(p.label, sizeof p.label, "%s", fx->hsm->token.kek_label);
  assert_int_equal(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 1), TV_E_HSM_KEY_EXISTS);
  kr_check(tv_hsm_kek_create(fx->hsm->hsm, "planted"), "plant");
  snprintf(p.label, sizeof p.label, "planted");
  assert_int_equal(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 1), TV_E_HSM_KEY_EXISTS);
  /* A key planted between proposal and approval is not adopted either. */
  snprintf(p.label, sizeof p.label, "later");
  kr_check(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 1), "propose");
  kr_check(tv_hsm_kek_create(fx->hsm->hsm, "later"), "plant later");
  assert_int_equal(tv_keyring_approve(fx->kr, id, "officer-b", 2), TV_E_HSM_KEY_EXISTS);
  assert_int_equal(tv_keyring_propose(fx->kr, &id, &p, "", 1), TV_E_INVALID_ARGUMENT);
  p.action = TV_KEYRING_DESTROY_OLD_KEK;
  snprintf(p.label, sizeof p.label, "never-used");
  assert_int_equal(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 1), TV_E_HSM_KEY_NOT_FOUND);
  p.action = TV_KEYRING_DESTROY_VERSION;
  snprintf(p.name, sizeof p.name, "nope");
  assert_int_equal(tv_keyring_propose(fx->kr, &id, &p, "officer-a", 1), TV_E_KEYRING_NAMESPACE);
  assert_int_equal(tv_keyring_approve(fx->kr, 999, "officer-b", 2),
                   TV_E_KEYRING_PROPOSAL_NOT_FOUND);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_kek_rotation_many_keys, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_two_officer_rule, kr_setup, kr_teardown),
      cmocka_unit_test_setup_teardown(test_proposal_checks, kr_setup, kr_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
