/* KEKs: AES-256 keys generated in the HSM that only wrap and unwrap, and
 * their life cycle (create, find, disable after a rotation, destroy). */
#include <string.h>

#include "hsm/client.h"

#define KEK_KEY_BYTES 32

static tv_status kek_generate(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *out_handle,
                              const char *label, CK_RV *out_rv) {
  CK_MECHANISM mechanism = {CKM_AES_KEY_GEN, NULL, 0};
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type = CKK_AES;
  CK_ULONG value_len = KEK_KEY_BYTES;
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  /* Everything but wrap/unwrap is off: the KEK can never encrypt chosen data
   * or be read, and CKA_MODIFIABLE stays on so it can be disabled later. */
  CK_ATTRIBUTE template[] = {
      {CKA_CLASS, &klass, sizeof klass},
      {CKA_KEY_TYPE, &key_type, sizeof key_type},
      {CKA_VALUE_LEN, &value_len, sizeof value_len},
      {CKA_LABEL, (void *)(uintptr_t)label, (CK_ULONG)strlen(label)},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
      {CKA_MODIFIABLE, &yes, sizeof yes},
      {CKA_WRAP, &yes, sizeof yes},
      {CKA_UNWRAP, &yes, sizeof yes},
      {CKA_ENCRYPT, &no, sizeof no},
      {CKA_DECRYPT, &no, sizeof no},
      {CKA_SIGN, &no, sizeof no},
      {CKA_VERIFY, &no, sizeof no},
      {CKA_DERIVE, &no, sizeof no},
  };
  HSM_P11(out_rv, C_GenerateKey, session, &mechanism, template,
          sizeof template / sizeof template[0], out_handle);
  return TV_OK;
}

tv_status tv_hsm_kek_create(tv_hsm *hsm, const char *label) {
  return hsm_key_ensure(hsm, HSM_KEY_KEK, label, HSM_CREATE_NEW, kek_generate);
}

tv_status tv_hsm_kek_ensure(tv_hsm *hsm, const char *label, int create_if_missing) {
  return hsm_key_ensure(hsm, HSM_KEY_KEK, label,
                        create_if_missing ? HSM_CREATE_IF_MISSING : HSM_FIND_ONLY, kek_generate);
}

typedef struct kek_flags_arg {
  const char *label;
  int set;       /* 1: write |enabled|; 0: read it */
  int enabled;
} kek_flags_arg;

static tv_status kek_flags_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *out_rv) {
  kek_flags_arg *arg = varg;
  CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;
  TV_TRY(hsm_key_handle(hsm, session, &kek, HSM_KEY_KEK, arg->label, out_rv));
  CK_BBOOL wrap = arg->enabled ? CK_TRUE : CK_FALSE;
  CK_BBOOL unwrap = wrap;
  CK_ATTRIBUTE attrs[] = {
      {CKA_WRAP, &wrap, sizeof wrap},
      {CKA_UNWRAP, &unwrap, sizeof unwrap},
  };
  if (arg->set) {
    HSM_P11(out_rv, C_SetAttributeValue, session, kek, attrs, 2);
    return TV_OK;
  }
  HSM_P11(out_rv, C_GetAttributeValue, session, kek, attrs, 2);
  arg->enabled = wrap == CK_TRUE && unwrap == CK_TRUE;
  return TV_OK;
}

tv_status tv_hsm_kek_is_enabled(tv_hsm *hsm, int *out_enabled, const char *label) {
  TV_ENSURE(hsm != NULL && out_enabled != NULL, TV_E_INVALID_ARGUMENT);
  TV_TRY(hsm_label_check(label));
  kek_flags_arg arg = {label, 0, 0};
  TV_TRY(hsm_run(hsm, kek_flags_op, &arg));
  *out_enabled = arg.enabled;
  return TV_OK;
}

static tv_status kek_set_enabled(tv_hsm *hsm, const char *label, int enabled) {
  TV_ENSURE(hsm != NULL, TV_E_INVALID_ARGUMENT);
  TV_TRY(hsm_label_check(label));
  kek_flags_arg arg = {label, 1, enabled};
  return hsm_run(hsm, kek_flags_op, &arg);
}

tv_status tv_hsm_kek_disable(tv_hsm *hsm, const char *label) {
  return kek_set_enabled(hsm, label, 0);
}

tv_status tv_hsm_kek_enable(tv_hsm *hsm, const char *label) {
  return kek_set_enabled(hsm, label, 1);
}

static tv_status kek_destroy_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg,
                                CK_RV *out_rv) {
  const char *label = varg;
  CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;
  TV_TRY(hsm_key_handle(hsm, session, &kek, HSM_KEY_KEK, label, out_rv));
  hsm_key_forget(hsm, label);
  HSM_P11(out_rv, C_DestroyObject, session, kek);
  return TV_OK;
}

tv_status tv_hsm_kek_destroy(tv_hsm *hsm, const char *label) {
  TV_ENSURE(hsm != NULL, TV_E_INVALID_ARGUMENT);
  TV_TRY(hsm_label_check(label));
  return hsm_run(hsm, kek_destroy_op, (void *)(uintptr_t)label);
}
