/* Wrapping data keys under HSM KEKs (hsm/wrap.c, hsm/kek.c) against a real
 * SoftHSM2 token. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hsm/client.h"
#include "tests/unit/hsm/hsm_test_util.h"

#define KEK TV_HSM_DEV_KEK_LABEL

static void round_trip(tv_hsm *hsm, size_t key_len) {
  unsigned char key[TV_HSM_DATA_KEY_MAX];
  unsigned char wrapped[TV_HSM_WRAPPED_MAX];
  unsigned char back[TV_HSM_DATA_KEY_MAX];
  size_t wrapped_len = 0;
  size_t back_len = 0;
  hsm_fill(key, key_len, (unsigned)key_len);
  assert_int_equal(tv_hsm_wrap(hsm, wrapped, &wrapped_len, sizeof wrapped, KEK, key, key_len),
                   TV_OK);
  assert_int_equal(wrapped_len, TV_HSM_WRAPPED_LEN(key_len));
  /* The blob is not the key in the clear. */
  assert_null(memmem(wrapped, wrapped_len, key, 8));
  assert_int_equal(tv_hsm_unwrap(hsm, back, &back_len, sizeof back, KEK, wrapped, wrapped_len),
                   TV_OK);
  assert_int_equal(back_len, key_len);
  assert_memory_equal(back, key, key_len);
}

static void test_round_trips(void **state) {
  hsm_fixture *fx = *state;
  round_trip(fx->hsm, 16);
  round_trip(fx->hsm, 24);
  round_trip(fx->hsm, 32);
  round_trip(fx->hsm, 64);
  round_trip(fx->hsm, 48);
}

static void test_length_not_multiple_of_8_is_refused(void **state) {
  /* SoftHSM2 2.6 returns unwrapped keys still padded to 8 bytes, so such
   * lengths could not round-trip: refused up front, for every module. */
  hsm_fixture *fx = *state;
  unsigned char key[TV_HSM_DATA_KEY_MAX] = {0};
  unsigned char wrapped[TV_HSM_WRAPPED_MAX];
  size_t wrapped_len = 1;
  assert_int_equal(tv_hsm_wrap(fx->hsm, wrapped, &wrapped_len, sizeof wrapped, KEK, key, 17),
                   TV_E_INVALID_ARGUMENT);
  assert_int_equal(wrapped_len, 0);
  assert_int_equal(tv_hsm_wrap(fx->hsm, wrapped, &wrapped_len, sizeof wrapped, KEK, key, 63),
                   TV_E_INVALID_ARGUMENT);
}

static void test_wrapping_is_deterministic_per_kek(void **state) {
  /* RFC 5649 is deterministic; two KEKs must give different blobs. */
  hsm_fixture *fx = *state;
  assert_int_equal(tv_hsm_kek_create(fx->hsm, "kek-2"), TV_OK);
  unsigned char key[32];
  unsigned char a[TV_HSM_WRAPPED_MAX], b[TV_HSM_WRAPPED_MAX];
  size_t a_len = 0, b_len = 0;
  hsm_fill(key, sizeof key, 7);
  assert_int_equal(tv_hsm_wrap(fx->hsm, a, &a_len, sizeof a, KEK, key, sizeof key), TV_OK);
  assert_int_equal(tv_hsm_wrap(fx->hsm, b, &b_len, sizeof b, "kek-2", key, sizeof key), TV_OK);
  assert_int_equal(a_len, b_len);
  assert_memory_not_equal(a, b, a_len);
}

static void wrap32(tv_hsm *hsm, unsigned char *wrapped, size_t *wrapped_len, const char *kek) {
  unsigned char key[32];
  hsm_fill(key, sizeof key, 32);
  assert_int_equal(tv_hsm_wrap(hsm, wrapped, wrapped_len, TV_HSM_WRAPPED_MAX, kek, key, 32),
                   TV_OK);
}

static void test_tampered_blob_is_rejected(void **state) {
  hsm_fixture *fx = *state;
  unsigned char wrapped[TV_HSM_WRAPPED_MAX];
  size_t wrapped_len = 0;
  wrap32(fx->hsm, wrapped, &wrapped_len, KEK);
  unsigned char out[TV_HSM_DATA_KEY_MAX];
  size_t out_len = 99;
  for (size_t i = 0; i < wrapped_len; i += 7) {
    wrapped[i] ^= 0x01;
    memset(out, 0xAA, sizeof out);
    assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, wrapped, wrapped_len),
                     TV_E_HSM_WRAPPED_INVALID);
    assert_int_equal(out_len, 0);
    static const unsigned char zeros[TV_HSM_DATA_KEY_MAX] = {0};
    assert_memory_equal(out, zeros, sizeof out); /* fail closed: output wiped */
    wrapped[i] ^= 0x01;
  }
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, wrapped, wrapped_len),
                   TV_OK);
}

static void test_wrong_kek_is_rejected(void **state) {
  hsm_fixture *fx = *state;
  assert_int_equal(tv_hsm_kek_create(fx->hsm, "other-kek"), TV_OK);
  unsigned char wrapped[TV_HSM_WRAPPED_MAX];
  size_t wrapped_len = 0;
  wrap32(fx->hsm, wrapped, &wrapped_len, KEK);
  unsigned char out[TV_HSM_DATA_KEY_MAX];
  size_t out_len = 0;
  assert_int_equal(
      tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, "other-kek", wrapped, wrapped_len),
      TV_E_HSM_WRAPPED_INVALID);
  print_message("wrong KEK: %s\n", tv_hsm_error_detail());
  assert_non_null(strstr(tv_hsm_error_detail(), "C_UnwrapKey"));
}

static void test_bad_lengths(void **state) {
  hsm_fixture *fx = *state;
  unsigned char wrapped[TV_HSM_WRAPPED_MAX + 8];
  size_t wrapped_len = 0;
  wrap32(fx->hsm, wrapped, &wrapped_len, KEK);
  unsigned char out[TV_HSM_DATA_KEY_MAX];
  size_t out_len = 0;
  /* Truncated, cut to a non-multiple of 8, extended, empty. */
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, wrapped, wrapped_len - 8),
                   TV_E_HSM_WRAPPED_INVALID);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, wrapped, wrapped_len - 1),
                   TV_E_HSM_WRAPPED_INVALID);
  memset(wrapped + wrapped_len, 0, 8);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, wrapped, wrapped_len + 8),
                   TV_E_HSM_WRAPPED_INVALID);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, wrapped, 0),
                   TV_E_HSM_WRAPPED_INVALID);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, wrapped,
                                 TV_HSM_WRAPPED_MAX + 8),
                   TV_E_HSM_WRAPPED_INVALID);
  /* Data keys outside 16..64 bytes, and an output buffer too small. */
  unsigned char key[TV_HSM_DATA_KEY_MAX + 1] = {0};
  assert_int_equal(tv_hsm_wrap(fx->hsm, wrapped, &wrapped_len, sizeof wrapped, KEK, key, 15),
                   TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_hsm_wrap(fx->hsm, wrapped, &wrapped_len, sizeof wrapped, KEK, key, 65),
                   TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_hsm_wrap(fx->hsm, wrapped, &wrapped_len, 39, KEK, key, 32),
                   TV_E_INVALID_ARGUMENT);
  wrap32(fx->hsm, wrapped, &wrapped_len, KEK);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, 31, KEK, wrapped, wrapped_len),
                   TV_E_INVALID_ARGUMENT);
}

static void test_unknown_kek(void **state) {
  hsm_fixture *fx = *state;
  unsigned char key[32] = {1};
  unsigned char wrapped[TV_HSM_WRAPPED_MAX];
  size_t wrapped_len = 0;
  assert_int_equal(tv_hsm_wrap(fx->hsm, wrapped, &wrapped_len, sizeof wrapped, "no-such-kek", key,
                               sizeof key),
                   TV_E_HSM_KEY_NOT_FOUND);
  assert_non_null(strstr(tv_hsm_error_detail(), "no-such-kek"));
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, "no-such-kek", 0), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, "", 1), TV_E_INVALID_ARGUMENT);
  char long_label[TV_HSM_LABEL_MAX + 2];
  memset(long_label, 'a', sizeof long_label - 1);
  long_label[sizeof long_label - 1] = '\0';
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, long_label, 1), TV_E_INVALID_ARGUMENT);
}

static void test_kek_create_and_ensure(void **state) {
  hsm_fixture *fx = *state;
  assert_int_equal(tv_hsm_kek_create(fx->hsm, KEK), TV_E_HSM_KEY_EXISTS);
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, KEK, 0), TV_OK);
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, "kek-new", 1), TV_OK);
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, "kek-new", 0), TV_OK);
  assert_int_equal(tv_hsm_kek_create(fx->hsm, "kek-new"), TV_E_HSM_KEY_EXISTS);
}

/* A KEK rotation as the keyring will run it: new KEK, rewrap, disable old,
 * later destroy old. */
static void test_rotation_rewrap_disable_destroy(void **state) {
  hsm_fixture *fx = *state;
  unsigned char old_blob[TV_HSM_WRAPPED_MAX], new_blob[TV_HSM_WRAPPED_MAX];
  size_t old_len = 0, new_len = 0;
  wrap32(fx->hsm, old_blob, &old_len, KEK);
  assert_int_equal(tv_hsm_kek_create(fx->hsm, "kek-2"), TV_OK);
  assert_int_equal(tv_hsm_rewrap(fx->hsm, new_blob, &new_len, sizeof new_blob, "kek-2", KEK,
                                 old_blob, old_len),
                   TV_OK);
  assert_int_equal(new_len, old_len);
  assert_memory_not_equal(new_blob, old_blob, old_len);
  unsigned char key[32], out[TV_HSM_DATA_KEY_MAX];
  size_t out_len = 0;
  hsm_fill(key, sizeof key, 32);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, "kek-2", new_blob, new_len),
                   TV_OK);
  assert_memory_equal(out, key, 32);

  int enabled = -1;
  assert_int_equal(tv_hsm_kek_is_enabled(fx->hsm, &enabled, KEK), TV_OK);
  assert_int_equal(enabled, 1);
  assert_int_equal(tv_hsm_kek_disable(fx->hsm, KEK), TV_OK);
  assert_int_equal(tv_hsm_kek_is_enabled(fx->hsm, &enabled, KEK), TV_OK);
  assert_int_equal(enabled, 0);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, old_blob, old_len),
                   TV_E_HSM_KEY_DISABLED);
  unsigned char scratch[TV_HSM_WRAPPED_MAX];
  size_t scratch_len = 1;
  assert_int_equal(tv_hsm_wrap(fx->hsm, scratch, &scratch_len, sizeof scratch, KEK, key, 32),
                   TV_E_HSM_KEY_DISABLED);
  assert_int_equal(scratch_len, 0);
  assert_int_equal(tv_hsm_kek_enable(fx->hsm, KEK), TV_OK);
  assert_int_equal(tv_hsm_kek_is_enabled(fx->hsm, &enabled, KEK), TV_OK);
  assert_int_equal(enabled, 1);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, old_blob, old_len),
                   TV_OK);

  assert_int_equal(tv_hsm_kek_destroy(fx->hsm, KEK), TV_OK);
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, KEK, 0), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, KEK, old_blob, old_len),
                   TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_kek_destroy(fx->hsm, KEK), TV_E_HSM_KEY_NOT_FOUND);
  assert_int_equal(tv_hsm_unwrap(fx->hsm, out, &out_len, sizeof out, "kek-2", new_blob, new_len),
                   TV_OK);
}

/* ---- the KEK as PKCS#11 shows it ------------------------------------------ */

typedef struct attrs_arg {
  CK_BBOOL sensitive, extractable, never_extractable, wrap, unwrap, encrypt, decrypt, token;
  CK_ULONG value_len;
  CK_RV value_rv;
  CK_ULONG value_size;
} attrs_arg;

static tv_status read_attrs_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *rv) {
  attrs_arg *a = varg;
  CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;
  TV_TRY(hsm_key_handle(hsm, session, &kek, HSM_KEY_KEK, KEK, rv));
  CK_ATTRIBUTE attrs[] = {
      {CKA_SENSITIVE, &a->sensitive, 1},   {CKA_EXTRACTABLE, &a->extractable, 1},
      {CKA_NEVER_EXTRACTABLE, &a->never_extractable, 1},
      {CKA_WRAP, &a->wrap, 1},             {CKA_UNWRAP, &a->unwrap, 1},
      {CKA_ENCRYPT, &a->encrypt, 1},       {CKA_DECRYPT, &a->decrypt, 1},
      {CKA_TOKEN, &a->token, 1},           {CKA_VALUE_LEN, &a->value_len, sizeof a->value_len},
  };
  HSM_P11(rv, C_GetAttributeValue, session, kek, attrs, sizeof attrs / sizeof attrs[0]);
  unsigned char value[64];
  CK_ATTRIBUTE value_attr = {CKA_VALUE, value, sizeof value};
  a->value_rv = hsm->p11->C_GetAttributeValue(session, kek, &value_attr, 1);
  a->value_size = value_attr.ulValueLen;
  return TV_OK;
}

static void test_kek_attributes(void **state) {
  hsm_fixture *fx = *state;
  attrs_arg a;
  memset(&a, 0x55, sizeof a);
  assert_int_equal(hsm_run(fx->hsm, read_attrs_op, &a), TV_OK);
  assert_int_equal(a.sensitive, CK_TRUE);
  assert_int_equal(a.extractable, CK_FALSE);
  assert_int_equal(a.never_extractable, CK_TRUE);
  assert_int_equal(a.wrap, CK_TRUE);
  assert_int_equal(a.unwrap, CK_TRUE);
  assert_int_equal(a.encrypt, CK_FALSE);
  assert_int_equal(a.decrypt, CK_FALSE);
  assert_int_equal(a.token, CK_TRUE);
  assert_int_equal(a.value_len, 32);
  assert_int_equal(a.value_rv, CKR_ATTRIBUTE_SENSITIVE);
  assert_int_equal(a.value_size, CK_UNAVAILABLE_INFORMATION);
}

/* Someone else put a weak key on the token under a label we use. */
typedef struct plant_arg {
  const char *label;
  CK_BBOOL sensitive;
  CK_BBOOL extractable;
} plant_arg;

static tv_status plant_aes_key_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *rv) {
  const plant_arg *arg = varg;
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_BBOOL yes = CK_TRUE;
  unsigned char value[32] = {9};
  CK_ATTRIBUTE t[] = {
      {CKA_CLASS, &klass, sizeof klass},
      {CKA_KEY_TYPE, &type, sizeof type},
      {CKA_TOKEN, &yes, 1},
      {CKA_PRIVATE, &yes, 1},
      {CKA_SENSITIVE, (void *)(uintptr_t)&arg->sensitive, 1},
      {CKA_EXTRACTABLE, (void *)(uintptr_t)&arg->extractable, 1},
      {CKA_WRAP, &yes, 1},
      {CKA_UNWRAP, &yes, 1},
      {CKA_LABEL, (void *)(uintptr_t)arg->label, (CK_ULONG)strlen(arg->label)},
      {CKA_VALUE, value, sizeof value},
  };
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  HSM_P11(rv, C_CreateObject, session, t, sizeof t / sizeof t[0], &h);
  return TV_OK;
}

static void test_unsafe_or_ambiguous_keys_are_refused(void **state) {
  hsm_fixture *fx = *state;
  plant_arg extractable = {"weak-kek", CK_TRUE, CK_TRUE};
  assert_int_equal(hsm_run(fx->hsm, plant_aes_key_op, &extractable), TV_OK);
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, "weak-kek", 0), TV_E_HSM_KEY_UNSAFE);
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, "weak-kek", 1), TV_E_HSM_KEY_UNSAFE);
  unsigned char key[32] = {0}, blob[TV_HSM_WRAPPED_MAX];
  size_t blob_len = 0;
  assert_int_equal(tv_hsm_wrap(fx->hsm, blob, &blob_len, sizeof blob, "weak-kek", key, 32),
                   TV_E_HSM_KEY_UNSAFE);
  plant_arg readable = {"readable-kek", CK_FALSE, CK_FALSE};
  assert_int_equal(hsm_run(fx->hsm, plant_aes_key_op, &readable), TV_OK);
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, "readable-kek", 0), TV_E_HSM_KEY_UNSAFE);
  /* A second key under the label of ours: which one to use is not guessed. */
  plant_arg twin = {KEK, CK_TRUE, CK_FALSE};
  assert_int_equal(hsm_run(fx->hsm, plant_aes_key_op, &twin), TV_OK);
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, KEK, 0), TV_E_HSM_KEY_EXISTS);
  assert_non_null(strstr(tv_hsm_error_detail(), "several keys"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trips, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_length_not_multiple_of_8_is_refused, hsm_setup,
                                      hsm_teardown),
      cmocka_unit_test_setup_teardown(test_wrapping_is_deterministic_per_kek, hsm_setup,
                                      hsm_teardown),
      cmocka_unit_test_setup_teardown(test_tampered_blob_is_rejected, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_wrong_kek_is_rejected, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_bad_lengths, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_unknown_kek, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_kek_create_and_ensure, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_rotation_rewrap_disable_destroy, hsm_setup,
                                      hsm_teardown),
      cmocka_unit_test_setup_teardown(test_kek_attributes, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_unsafe_or_ambiguous_keys_are_refused, hsm_setup,
                                      hsm_teardown),
  };
  return cmocka_run_group_tests_name("hsm_wrap", tests, NULL, NULL);
}
