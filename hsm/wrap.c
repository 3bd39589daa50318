/* Wrapping data keys under a KEK with AES key wrap with padding (RFC 5649).
 *
 * C_WrapKey and C_UnwrapKey work on key objects, so a data key enters the
 * HSM as a short-lived session object (CKA_TOKEN false: never stored on the
 * token) and is destroyed before the call returns, whatever happened. */
#include <string.h>

#include "hsm/client.h"
#include "vault/util/secure_mem.h"

typedef struct wrap_arg {
  const char *kek_label;
  const uint8_t *in;
  size_t in_len;
  uint8_t *out;
  size_t out_max;
  size_t out_len;
} wrap_arg;

static CK_MECHANISM wrap_mechanism = {CKM_AES_KEY_WRAP_PAD, NULL, 0};

static tv_status import_data_key(tv_hsm *hsm, CK_SESSION_HANDLE session,
                                 CK_OBJECT_HANDLE *out_handle, const uint8_t *key, size_t key_len,
                                 CK_RV *out_rv) {
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type = CKK_GENERIC_SECRET;
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  /* Sensitive: while it exists, the object's value cannot be read back;
   * extractable: so that C_WrapKey may export it (wrapped). */
  CK_ATTRIBUTE template[] = {
      {CKA_CLASS, &klass, sizeof klass},
      {CKA_KEY_TYPE, &key_type, sizeof key_type},
      {CKA_TOKEN, &no, sizeof no},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &yes, sizeof yes},
      {CKA_VALUE, (void *)(uintptr_t)key, (CK_ULONG)key_len},
  };
  HSM_P11(out_rv, C_CreateObject, session, template, sizeof template / sizeof template[0],
          out_handle);
  return TV_OK;
}

static tv_status wrap_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *out_rv) {
  wrap_arg *arg = varg;
  CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE data_key = CK_INVALID_HANDLE;
  TV_TRY(hsm_key_handle(hsm, session, &kek, HSM_KEY_KEK, arg->kek_label, out_rv));
  TV_TRY(import_data_key(hsm, session, &data_key, arg->in, arg->in_len, out_rv));
  CK_ULONG out_len = (CK_ULONG)arg->out_max;
  CK_RV rv = hsm->p11->C_WrapKey(session, &wrap_mechanism, kek, data_key, arg->out, &out_len);
  CK_RV destroy_rv = hsm->p11->C_DestroyObject(session, data_key);
  if (rv != CKR_OK) {
    *out_rv = rv;
    return hsm_fail("C_WrapKey", rv);
  }
  if (destroy_rv != CKR_OK) {
    *out_rv = destroy_rv;
    return hsm_fail("C_DestroyObject", destroy_rv);
  }
  TV_ENSURE(out_len == TV_HSM_WRAPPED_LEN(arg->in_len),
            hsm_failf(TV_E_HSM_OPERATION, "C_WrapKey returned %lu bytes, RFC 5649 says %zu",
                      (unsigned long)out_len, TV_HSM_WRAPPED_LEN(arg->in_len)));
  arg->out_len = out_len;
  return TV_OK;
}

tv_status tv_hsm_wrap(tv_hsm *hsm, uint8_t *out, size_t *out_len, size_t out_max,
                      const char *kek_label, const uint8_t *key, size_t key_len) {
  TV_ENSURE(hsm != NULL && out != NULL && out_len != NULL && key != NULL, TV_E_INVALID_ARGUMENT);
  *out_len = 0;
  TV_TRY(hsm_label_check(kek_label));
  /* Multiples of 8 only: SoftHSM2 2.6 hands back unwrapped keys still padded
   * to 8 bytes, so other lengths would not round-trip on it. */
  TV_ENSURE(key_len >= TV_HSM_DATA_KEY_MIN && key_len <= TV_HSM_DATA_KEY_MAX && key_len % 8 == 0,
            hsm_failf(TV_E_INVALID_ARGUMENT,
                      "data key of %zu bytes; a multiple of 8 in %d..%d is required", key_len,
                      TV_HSM_DATA_KEY_MIN, TV_HSM_DATA_KEY_MAX));
  TV_ENSURE(out_max >= TV_HSM_WRAPPED_LEN(key_len),
            hsm_failf(TV_E_INVALID_ARGUMENT, "wrapped key needs %zu bytes, %zu given",
                      TV_HSM_WRAPPED_LEN(key_len), out_max));
  wrap_arg arg = {kek_label, key, key_len, out, out_max, 0};
  TV_TRY(hsm_run(hsm, wrap_op, &arg));
  *out_len = arg.out_len;
  return TV_OK;
}

static tv_status read_data_key(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE handle,
                               wrap_arg *arg, CK_RV *out_rv) {
  CK_ATTRIBUTE value = {CKA_VALUE, arg->out, (CK_ULONG)arg->out_max};
  HSM_P11(out_rv, C_GetAttributeValue, session, handle, &value, 1);
  TV_ENSURE(value.ulValueLen >= TV_HSM_DATA_KEY_MIN && value.ulValueLen <= TV_HSM_DATA_KEY_MAX &&
                value.ulValueLen % 8 == 0,
            hsm_failf(TV_E_HSM_WRAPPED_INVALID, "unwrapped key has %lu bytes; %d..%d expected",
                      (unsigned long)value.ulValueLen, TV_HSM_DATA_KEY_MIN,
                      TV_HSM_DATA_KEY_MAX));
  arg->out_len = value.ulValueLen;
  return TV_OK;
}

static tv_status unwrap_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *out_rv) {
  wrap_arg *arg = varg;
  CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;
  TV_TRY(hsm_key_handle(hsm, session, &kek, HSM_KEY_KEK, arg->kek_label, out_rv));
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type = CKK_GENERIC_SECRET;
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  /* Not sensitive and extractable: the whole point is to read the value
   * back once, into host memory; the object lives for this call only. */
  CK_ATTRIBUTE template[] = {
      {CKA_CLASS, &klass, sizeof klass},     {CKA_KEY_TYPE, &key_type, sizeof key_type},
      {CKA_TOKEN, &no, sizeof no},           {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &no, sizeof no},       {CKA_EXTRACTABLE, &yes, sizeof yes},
  };
  CK_OBJECT_HANDLE data_key = CK_INVALID_HANDLE;
  CK_RV rv = hsm->p11->C_UnwrapKey(session, &wrap_mechanism, kek, (CK_BYTE *)(uintptr_t)arg->in,
                                   (CK_ULONG)arg->in_len, template,
                                   sizeof template / sizeof template[0], &data_key);
  if (rv != CKR_OK) {
    *out_rv = rv;
    tv_status status = hsm_fail("C_UnwrapKey", rv);
    /* Some modules (SoftHSM2 among them) report a failed integrity check
     * as a generic failure: for an unwrap that is what it means. */
    if (rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED || rv == CKR_DATA_INVALID ||
        rv == CKR_DATA_LEN_RANGE) {
      status = TV_E_HSM_WRAPPED_INVALID;
    }
    return status;
  }
  tv_status status = read_data_key(hsm, session, data_key, arg, out_rv);
  CK_RV destroy_rv = hsm->p11->C_DestroyObject(session, data_key);
  if (status == TV_OK && destroy_rv != CKR_OK) {
    *out_rv = destroy_rv;
    status = hsm_fail("C_DestroyObject", destroy_rv);
  }
  return status;
}

tv_status tv_hsm_unwrap(tv_hsm *hsm, uint8_t *out_key, size_t *out_key_len, size_t out_key_max,
                        const char *kek_label, const uint8_t *wrapped, size_t wrapped_len) {
  TV_ENSURE(hsm != NULL && out_key != NULL && out_key_len != NULL && wrapped != NULL,
            TV_E_INVALID_ARGUMENT);
  *out_key_len = 0;
  TV_TRY(hsm_label_check(kek_label));
  /* Reject what RFC 5649 cannot have produced for a data key before the
   * HSM sees it. */
  TV_ENSURE(wrapped_len >= TV_HSM_WRAPPED_LEN(TV_HSM_DATA_KEY_MIN) &&
                wrapped_len <= TV_HSM_WRAPPED_MAX && wrapped_len % 8 == 0,
            hsm_failf(TV_E_HSM_WRAPPED_INVALID, "wrapped key of %zu bytes", wrapped_len));
  uint8_t key[TV_HSM_DATA_KEY_MAX];
  wrap_arg arg = {kek_label, wrapped, wrapped_len, key, sizeof key, 0};
  tv_status status = hsm_run(hsm, unwrap_op, &arg);
  if (status == TV_OK && arg.out_len > out_key_max) {
    status = hsm_failf(TV_E_INVALID_ARGUMENT, "unwrapped key needs %zu bytes, %zu given",
                       arg.out_len, out_key_max);
  }
  if (status == TV_OK) {
    memcpy(out_key, key, arg.out_len);
    *out_key_len = arg.out_len;
  } else {
    tv_wipe(out_key, out_key_max);
  }
  tv_wipe(key, sizeof key);
  return status;
}

tv_status tv_hsm_rewrap(tv_hsm *hsm, uint8_t *out, size_t *out_len, size_t out_max,
                        const char *new_label, const char *old_label, const uint8_t *wrapped,
                        size_t wrapped_len) {
  TV_ENSURE(out_len != NULL, TV_E_INVALID_ARGUMENT);
  *out_len = 0;
  uint8_t key[TV_HSM_DATA_KEY_MAX];
  size_t key_len = 0;
  tv_status status =
      tv_hsm_unwrap(hsm, key, &key_len, sizeof key, old_label, wrapped, wrapped_len);
  if (status == TV_OK) {
    status = tv_hsm_wrap(hsm, out, out_len, out_max, new_label, key, key_len);
  }
  tv_wipe(key, sizeof key);
  return status;
}
