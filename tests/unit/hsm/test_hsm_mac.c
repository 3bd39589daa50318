/* HMAC-SHA-256 with an HSM-held key (hsm/mac.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hsm/client.h"
#include "tests/unit/hsm/hsm_test_util.h"

#define MAC TV_HSM_DEV_MAC_LABEL

static const unsigned char checkpoint[] = "audit checkpoint: seq=4096 chain=9f86d081884c7d65";

static void test_sign_verify(void **state) {
  hsm_fixture *fx = *state;
  unsigned char mac[TV_HSM_MAC_LEN], again[TV_HSM_MAC_LEN];
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, mac, MAC, checkpoint, sizeof checkpoint), TV_OK);
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, again, MAC, checkpoint, sizeof checkpoint), TV_OK);
  assert_memory_equal(mac, again, sizeof mac); /* HMAC is deterministic */
  assert_int_equal(tv_hsm_mac_verify(fx->hsm, MAC, checkpoint, sizeof checkpoint, mac, sizeof mac),
                   TV_OK);
  /* Empty data is a valid message too. */
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, again, MAC, NULL, 0), TV_OK);
  assert_memory_not_equal(mac, again, sizeof mac);
  assert_int_equal(tv_hsm_mac_verify(fx->hsm, MAC, NULL, 0, again, sizeof again), TV_OK);
}

static void test_tampering_fails(void **state) {
  hsm_fixture *fx = *state;
  unsigned char mac[TV_HSM_MAC_LEN];
  unsigned char data[sizeof checkpoint];
  memcpy(data, checkpoint, sizeof data);
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, mac, MAC, data, sizeof data), TV_OK);
  for (size_t i = 0; i < sizeof mac; i += 5) {
    mac[i] ^= 0x80;
    assert_int_equal(tv_hsm_mac_verify(fx->hsm, MAC, data, sizeof data, mac, sizeof mac),
                     TV_E_HSM_MAC_INVALID);
    mac[i] ^= 0x80;
  }
  data[3] ^= 1;
  assert_int_equal(tv_hsm_mac_verify(fx->hsm, MAC, data, sizeof data, mac, sizeof mac),
                   TV_E_HSM_MAC_INVALID);
  data[3] ^= 1;
  assert_int_equal(tv_hsm_mac_verify(fx->hsm, MAC, data, sizeof data - 1, mac, sizeof mac),
                   TV_E_HSM_MAC_INVALID);
  /* Truncated or overlong MACs. */
  assert_int_equal(tv_hsm_mac_verify(fx->hsm, MAC, data, sizeof data, mac, sizeof mac - 1),
                   TV_E_HSM_MAC_INVALID);
  assert_int_equal(tv_hsm_mac_verify(fx->hsm, MAC, data, sizeof data, mac, 0),
                   TV_E_HSM_MAC_INVALID);
  assert_int_equal(tv_hsm_mac_verify(fx->hsm, MAC, data, sizeof data, mac, sizeof mac), TV_OK);
}

static void test_keys_are_distinct_and_found_by_label(void **state) {
  hsm_fixture *fx = *state;
  assert_int_equal(tv_hsm_mac_key_ensure(fx->hsm, "mac-2", 0), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_mac_key_ensure(fx->hsm, "mac-2", 1), TV_OK);
  assert_int_equal(tv_hsm_mac_key_ensure(fx->hsm, "mac-2", 0), TV_OK);
  unsigned char a[TV_HSM_MAC_LEN], b[TV_HSM_MAC_LEN];
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, a, MAC, checkpoint, sizeof checkpoint), TV_OK);
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, b, "mac-2", checkpoint, sizeof checkpoint), TV_OK);
  assert_memory_not_equal(a, b, sizeof a);
  assert_int_equal(tv_hsm_mac_verify(fx->hsm, "mac-2", checkpoint, sizeof checkpoint, a, sizeof a),
                   TV_E_HSM_MAC_INVALID);
  /* A MAC key is not a KEK and vice versa: labels are looked up per kind. */
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, a, TV_HSM_DEV_KEK_LABEL, checkpoint, 4),
                   TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, a, "no-such-mac", checkpoint, 4),
                   TV_E_HSM_KEY_NOT_FOUND);
}

/* The output is HMAC-SHA-256: checked against OpenSSL with a key we import
 * ourselves (the HSM's own MAC key cannot be read, by design). */
typedef struct import_arg {
  const unsigned char *key;
  size_t key_len;
} import_arg;

static tv_status import_mac_key_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg,
                                   CK_RV *rv) {
  const import_arg *arg = varg;
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_GENERIC_SECRET;
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE t[] = {
      {CKA_CLASS, &klass, sizeof klass},     {CKA_KEY_TYPE, &type, sizeof type},
      {CKA_TOKEN, &yes, 1},                  {CKA_PRIVATE, &yes, 1},
      {CKA_SENSITIVE, &yes, 1},              {CKA_EXTRACTABLE, &no, 1},
      {CKA_SIGN, &yes, 1},                   {CKA_VERIFY, &yes, 1},
      {CKA_LABEL, "mac-known", 9},           {CKA_VALUE, (void *)(uintptr_t)arg->key, 32},
  };
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  HSM_P11(rv, C_CreateObject, session, t, sizeof t / sizeof t[0], &h);
  return TV_OK;
}

static void test_matches_openssl_hmac(void **state) {
  hsm_fixture *fx = *state;
  unsigned char key[32];
  hsm_fill(key, sizeof key, 99);
  import_arg arg = {key, sizeof key};
  assert_int_equal(hsm_run(fx->hsm, import_mac_key_op, &arg), TV_OK);
  unsigned char mac[TV_HSM_MAC_LEN], expected[EVP_MAX_MD_SIZE];
  unsigned expected_len = 0;
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, mac, "mac-known", checkpoint, sizeof checkpoint),
                   TV_OK);
  assert_non_null(HMAC(EVP_sha256(), key, sizeof key, checkpoint, sizeof checkpoint, expected,
                       &expected_len));
  assert_int_equal(expected_len, TV_HSM_MAC_LEN);
  assert_memory_equal(mac, expected, TV_HSM_MAC_LEN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sign_verify, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_tampering_fails, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_keys_are_distinct_and_found_by_label, hsm_setup,
                                      hsm_teardown),
      cmocka_unit_test_setup_teardown(test_matches_openssl_hmac, hsm_setup, hsm_teardown),
  };
  return cmocka_run_group_tests_name("hsm_mac", tests, NULL, NULL);
}
