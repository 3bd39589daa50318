/* Finding HSM keys by label, and the handle cache. A handle is valid only
 * for the connection generation that found it: after a reconnection every
 * key is looked up again on its next use. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "hsm/client.h"

tv_status hsm_label_check(const char *label) {
  TV_ENSURE(label != NULL && label[0] != '\0',
            hsm_failf(TV_E_INVALID_ARGUMENT, "empty key label"));
  TV_ENSURE(strlen(label) <= TV_HSM_LABEL_MAX,
            hsm_failf(TV_E_INVALID_ARGUMENT, "key label longer than %d bytes", TV_HSM_LABEL_MAX));
  return TV_OK;
}

static CK_KEY_TYPE kind_key_type(hsm_key_kind kind) {
  return kind == HSM_KEY_KEK ? CKK_AES : CKK_GENERIC_SECRET;
}

static int cache_lookup(tv_hsm *hsm, CK_OBJECT_HANDLE *out_handle, hsm_key_kind kind,
                        const char *label) {
  uint64_t generation = atomic_load(&hsm->generation);
  int found = 0;
  pthread_mutex_lock(&hsm->keys_mu);
  for (size_t i = 0; i < HSM_KEY_CACHE_MAX; i++) {
    hsm_key_entry *e = &hsm->keys[i];
    if (e->kind == kind && e->generation == generation && strcmp(e->label, label) == 0) {
      *out_handle = e->handle;
      found = 1;
      break;
    }
  }
  pthread_mutex_unlock(&hsm->keys_mu);
  return found;
}

static void cache_store(tv_hsm *hsm, hsm_key_kind kind, const char *label,
                        CK_OBJECT_HANDLE handle) {
  uint64_t generation = atomic_load(&hsm->generation);
  pthread_mutex_lock(&hsm->keys_mu);
  hsm_key_entry *slot = NULL;
  for (size_t i = 0; i < HSM_KEY_CACHE_MAX && slot == NULL; i++) {
    hsm_key_entry *e = &hsm->keys[i];
    if (e->kind == 0 || e->generation != generation ||
        (e->kind == kind && strcmp(e->label, label) == 0)) {
      slot = e;
    }
  }
  if (slot == NULL) {
    slot = &hsm->keys[0]; /* full of live entries: evict one, it is only a cache */
  }
  slot->kind = kind;
  snprintf(slot->label, sizeof slot->label, "%s", label);
  slot->handle = handle;
  slot->generation = generation;
  pthread_mutex_unlock(&hsm->keys_mu);
}

void hsm_key_forget(tv_hsm *hsm, const char *label) {
  pthread_mutex_lock(&hsm->keys_mu);
  for (size_t i = 0; i < HSM_KEY_CACHE_MAX; i++) {
    if (hsm->keys[i].kind != 0 && strcmp(hsm->keys[i].label, label) == 0) {
      memset(&hsm->keys[i], 0, sizeof hsm->keys[i]);
    }
  }
  pthread_mutex_unlock(&hsm->keys_mu);
}

/* A key found by label must be one the HSM will never reveal: anything else
 * under our label was not made by us and is refused. */
static tv_status check_key_safe(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE handle,
                                const char *label, CK_RV *out_rv) {
  CK_BBOOL sensitive = CK_FALSE;
  CK_BBOOL extractable = CK_TRUE;
  CK_ATTRIBUTE attrs[] = {
      {CKA_SENSITIVE, &sensitive, sizeof sensitive},
      {CKA_EXTRACTABLE, &extractable, sizeof extractable},
  };
  HSM_P11(out_rv, C_GetAttributeValue, session, handle, attrs, 2);
  TV_ENSURE(sensitive == CK_TRUE && extractable == CK_FALSE,
            hsm_failf(TV_E_HSM_KEY_UNSAFE, "key '%s': CKA_SENSITIVE=%d CKA_EXTRACTABLE=%d", label,
                      (int)sensitive, (int)extractable));
  return TV_OK;
}

static tv_status find_objects(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *out,
                              CK_ULONG *out_count, hsm_key_kind kind, const char *label,
                              CK_RV *out_rv) {
  CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
  CK_KEY_TYPE key_type = kind_key_type(kind);
  CK_BBOOL token = CK_TRUE;
  CK_ATTRIBUTE query[] = {
      {CKA_CLASS, &klass, sizeof klass},
      {CKA_KEY_TYPE, &key_type, sizeof key_type},
      {CKA_TOKEN, &token, sizeof token},
      {CKA_LABEL, (void *)(uintptr_t)label, (CK_ULONG)strlen(label)},
  };
  HSM_P11(out_rv, C_FindObjectsInit, session, query, 4);
  /* Ask for two: one is the key, two means the label is ambiguous. */
  CK_RV rv = hsm->p11->C_FindObjects(session, out, 2, out_count);
  CK_RV final_rv = hsm->p11->C_FindObjectsFinal(session);
  if (rv != CKR_OK || final_rv != CKR_OK) {
    *out_rv = rv != CKR_OK ? rv : final_rv;
    return hsm_fail(rv != CKR_OK ? "C_FindObjects" : "C_FindObjectsFinal", *out_rv);
  }
  return TV_OK;
}

tv_status hsm_key_handle(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *out_handle,
                         hsm_key_kind kind, const char *label, CK_RV *out_rv) {
  assert(kind == HSM_KEY_KEK || kind == HSM_KEY_MAC);
  if (cache_lookup(hsm, out_handle, kind, label)) {
    return TV_OK;
  }
  CK_OBJECT_HANDLE found[2];
  CK_ULONG count = 0;
  TV_TRY(find_objects(hsm, session, found, &count, kind, label, out_rv));
  if (count == 0) {
    /* Private keys are invisible to a session that lost its login: tell
     * that apart from a key that really is not there. */
    TV_TRY(hsm_session_check_user(hsm, session, out_rv));
    /* SoftHSM2 forgets every object when its token directory vanishes:
     * a token that no longer answers is a lost HSM, not a missing key. */
    if (!hsm_token_answers(hsm)) {
      *out_rv = CKR_TOKEN_NOT_PRESENT;
      return hsm_failf(TV_E_HSM_UNAVAILABLE, "the token no longer answers C_GetTokenInfo");
    }
  }
  TV_ENSURE(count > 0, hsm_failf(TV_E_HSM_KEY_NOT_FOUND, "no %s with label '%s' on the token",
                                 kind == HSM_KEY_KEK ? "AES KEK" : "HMAC key", label));
  TV_ENSURE(count == 1, hsm_failf(TV_E_HSM_KEY_EXISTS,
                                  "several keys share the label '%s'; refusing to guess", label));
  TV_TRY(check_key_safe(hsm, session, found[0], label, out_rv));
  cache_store(hsm, kind, label, found[0]);
  *out_handle = found[0];
  return TV_OK;
}

typedef struct ensure_arg {
  hsm_key_kind kind;
  const char *label;
  hsm_create_mode mode;
  hsm_keygen_fn gen;
} ensure_arg;

static tv_status ensure_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *out_rv) {
  const ensure_arg *arg = varg;
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  hsm_key_forget(hsm, arg->label); /* look at the token itself, not the cache */
  tv_status status = hsm_key_handle(hsm, session, &handle, arg->kind, arg->label, out_rv);
  if (status == TV_OK && arg->mode == HSM_CREATE_NEW) {
    return hsm_failf(TV_E_HSM_KEY_EXISTS, "a key labelled '%s' already exists", arg->label);
  }
  if (status != TV_E_HSM_KEY_NOT_FOUND || arg->mode == HSM_FIND_ONLY) {
    return status;
  }
  TV_TRY(arg->gen(hsm, session, &handle, arg->label, out_rv));
  hsm_detail_clear();
  return TV_OK;
}

tv_status hsm_key_ensure(tv_hsm *hsm, hsm_key_kind kind, const char *label,
                         hsm_create_mode mode, hsm_keygen_fn gen) {
  TV_ENSURE(hsm != NULL, TV_E_INVALID_ARGUMENT);
  TV_TRY(hsm_label_check(label));
  ensure_arg arg = {kind, label, mode, gen};
  pthread_mutex_lock(&hsm->create_mu);
  tv_status status = hsm_run(hsm, ensure_op, &arg);
  pthread_mutex_unlock(&hsm->create_mu);
  return status;
}
