/* HMAC-SHA-256 with a key that never leaves the HSM, for integrity
 * checkpoints (audit log, keyring file). Verification runs in the HSM
 * (C_Verify), so the expected MAC is never compared on the host. */
#include <string.h>

#include "hsm/client.h"
#include "vault/util/secure_mem.h"

#define MAC_KEY_BYTES 32

static tv_status mac_generate(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *out_handle,
                              const char *label, CK_RV *out_rv) {
  CK_MECHANISM mechanism = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type = CKK_GENERIC_SECRET;
  CK_ULONG value_len = MAC_KEY_BYTES;
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE template[] = {
      {CKA_CLASS, &klass, sizeof klass},
      {CKA_KEY_TYPE, &key_type, sizeof key_type},
      {CKA_VALUE_LEN, &value_len, sizeof value_len},
      {CKA_LABEL, (void *)(uintptr_t)label, (CK_ULONG)strlen(label)},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_SIGN, &yes, sizeof yes},
      {CKA_VERIFY, &yes, sizeof yes},
      {CKA_ENCRYPT, &no, sizeof no},
      {CKA_DECRYPT, &no, sizeof no},
      {CKA_WRAP, &no, sizeof no},
      {CKA_UNWRAP, &no, sizeof no},
      {CKA_DERIVE, &no, sizeof no},
  };
  HSM_P11(out_rv, C_GenerateKey, session, &mechanism, template,
          sizeof template / sizeof template[0], out_handle);
  return TV_OK;
}

tv_status tv_hsm_mac_key_ensure(tv_hsm *hsm, const char *label, int create_if_missing) {
  return hsm_key_ensure(hsm, HSM_KEY_MAC, label,
                        create_if_missing ? HSM_CREATE_IF_MISSING : HSM_FIND_ONLY, mac_generate);
}

typedef struct mac_arg {
  const char *label;
  const uint8_t *data;
  size_t data_len;
  uint8_t *mac; /* sign: output; verify: input */
  size_t mac_len;
} mac_arg;

static CK_MECHANISM mac_mechanism = {CKM_SHA256_HMAC, NULL, 0};

static tv_status sign_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *out_rv) {
  mac_arg *arg = varg;
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  TV_TRY(hsm_key_handle(hsm, session, &key, HSM_KEY_MAC, arg->label, out_rv));
  HSM_P11(out_rv, C_SignInit, session, &mac_mechanism, key);
  CK_ULONG mac_len = TV_HSM_MAC_LEN;
  HSM_P11(out_rv, C_Sign, session, (CK_BYTE *)(uintptr_t)arg->data, (CK_ULONG)arg->data_len,
          arg->mac, &mac_len);
  TV_ENSURE(mac_len == TV_HSM_MAC_LEN,
            hsm_failf(TV_E_HSM_OPERATION, "C_Sign returned %lu bytes", (unsigned long)mac_len));
  return TV_OK;
}

static tv_status verify_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *out_rv) {
  mac_arg *arg = varg;
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  TV_TRY(hsm_key_handle(hsm, session, &key, HSM_KEY_MAC, arg->label, out_rv));
  HSM_P11(out_rv, C_VerifyInit, session, &mac_mechanism, key);
  HSM_P11(out_rv, C_Verify, session, (CK_BYTE *)(uintptr_t)arg->data, (CK_ULONG)arg->data_len,
          arg->mac, (CK_ULONG)arg->mac_len);
  return TV_OK;
}

tv_status tv_hsm_mac_sign(tv_hsm *hsm, uint8_t out_mac[TV_HSM_MAC_LEN], const char *label,
                          const uint8_t *data, size_t data_len) {
  TV_ENSURE(hsm != NULL && out_mac != NULL && (data != NULL || data_len == 0),
            TV_E_INVALID_ARGUMENT);
  TV_TRY(hsm_label_check(label));
  static const uint8_t empty[1] = {0};
  mac_arg arg = {label, data != NULL ? data : empty, data_len, out_mac, TV_HSM_MAC_LEN};
  tv_status status = hsm_run(hsm, sign_op, &arg);
  if (status != TV_OK) {
    tv_wipe(out_mac, TV_HSM_MAC_LEN); /* never leave a half-written MAC */
  }
  return status;
}

tv_status tv_hsm_mac_verify(tv_hsm *hsm, const char *label, const uint8_t *data, size_t data_len,
                            const uint8_t *mac, size_t mac_len) {
  TV_ENSURE(hsm != NULL && mac != NULL && (data != NULL || data_len == 0), TV_E_INVALID_ARGUMENT);
  TV_TRY(hsm_label_check(label));
  TV_ENSURE(mac_len == TV_HSM_MAC_LEN,
            hsm_failf(TV_E_HSM_MAC_INVALID, "MAC of %zu bytes; %d expected", mac_len,
                      TV_HSM_MAC_LEN));
  static const uint8_t empty[1] = {0};
  mac_arg arg = {label, data != NULL ? data : empty, data_len, (uint8_t *)(uintptr_t)mac,
                 mac_len};
  return hsm_run(hsm, verify_op, &arg);
}
