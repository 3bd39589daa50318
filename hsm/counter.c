/* Monotonic counters as PKCS#11 data objects (see counter.h). Counters are
 * touched a few times per keyring change, never per value, so the object is
 * looked up on every call rather than cached. */
#include "hsm/counter.h"

#include <string.h>

#include "hsm/client.h"

#define COUNTER_APPLICATION "tokenvault-counter"
#define COUNTER_VALUE_LEN 8
/* Objects one counter may span: normally 1, 2 after a crash mid-advance. */
#define COUNTER_OBJECTS_MAX 8
/* Advances of one call, each read back, before it gives up. */
#define COUNTER_ADVANCE_TRIES 4

typedef struct counter_arg {
  const char *label;
  uint64_t value;
  int create_if_missing;
  int refused; /* advance: |value| was below the counter */
} counter_arg;

static void encode_be64(uint8_t out[COUNTER_VALUE_LEN], uint64_t value) {
  for (int i = COUNTER_VALUE_LEN - 1; i >= 0; i--) {
    out[i] = (uint8_t)value;
    value >>= 8;
  }
}

static uint64_t decode_be64(const uint8_t in[COUNTER_VALUE_LEN]) {
  uint64_t value = 0;
  for (int i = 0; i < COUNTER_VALUE_LEN; i++) {
    value = (value << 8) | in[i];
  }
  return value;
}

/* Finds every object labelled |label| (an advance creates the new one
 * before destroying the old, so a crash in between leaves two). */
static tv_status counter_find(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *out,
                              CK_ULONG *out_count, const char *label, CK_RV *out_rv) {
  CK_OBJECT_CLASS klass = CKO_DATA;
  CK_BBOOL token = CK_TRUE;
  CK_ATTRIBUTE query[] = {
      {CKA_CLASS, &klass, sizeof klass},
      {CKA_TOKEN, &token, sizeof token},
      {CKA_LABEL, (void *)(uintptr_t)label, (CK_ULONG)strlen(label)},
  };
  CK_ULONG count = 0;
  HSM_P11(out_rv, C_FindObjectsInit, session, query, 3);
  CK_RV rv = hsm->p11->C_FindObjects(session, out, COUNTER_OBJECTS_MAX + 1, &count);
  CK_RV final_rv = hsm->p11->C_FindObjectsFinal(session);
  if (rv != CKR_OK || final_rv != CKR_OK) {
    *out_rv = rv != CKR_OK ? rv : final_rv;
    return hsm_fail(rv != CKR_OK ? "C_FindObjects" : "C_FindObjectsFinal", *out_rv);
  }
  if (count == 0) {
    /* A private object is invisible to a session that lost its login. */
    TV_TRY(hsm_session_check_user(hsm, session, out_rv));
  }
  TV_ENSURE(count > 0, hsm_failf(TV_E_HSM_KEY_NOT_FOUND, "no counter labelled '%s'", label));
  TV_ENSURE(count <= COUNTER_OBJECTS_MAX,
            hsm_failf(TV_E_HSM_KEY_EXISTS, "more than %d objects labelled '%s'",
                      COUNTER_OBJECTS_MAX, label));
  *out_count = count;
  return TV_OK;
}

static tv_status counter_get(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE handle,
                             uint64_t *out_value, CK_RV *out_rv) {
  uint8_t bytes[COUNTER_VALUE_LEN] = {0};
  CK_ATTRIBUTE value = {CKA_VALUE, bytes, sizeof bytes};
  CK_RV rv = hsm->p11->C_GetAttributeValue(session, handle, &value, 1);
  if (rv == CKR_BUFFER_TOO_SMALL) {
    return hsm_failf(TV_E_HSM_OPERATION, "counter value is longer than %d bytes",
                     COUNTER_VALUE_LEN);
  }
  if (rv != CKR_OK) {
    *out_rv = rv;
    return hsm_fail("C_GetAttributeValue", rv);
  }
  TV_ENSURE(value.ulValueLen == COUNTER_VALUE_LEN,
            hsm_failf(TV_E_HSM_OPERATION, "counter value has %lu bytes; %d expected",
                      (unsigned long)value.ulValueLen, COUNTER_VALUE_LEN));
  *out_value = decode_be64(bytes);
  return TV_OK;
}

/* The counter is the largest value among its objects. */
static tv_status counter_max(tv_hsm *hsm, CK_SESSION_HANDLE session, const CK_OBJECT_HANDLE *handles,
                             CK_ULONG count, uint64_t *out_value, CK_RV *out_rv) {
  uint64_t max = 0;
  for (CK_ULONG i = 0; i < count; i++) {
    uint64_t value = 0;
    TV_TRY(counter_get(hsm, session, handles[i], &value, out_rv));
    max = value > max ? value : max;
  }
  *out_value = max;
  return TV_OK;
}

static tv_status read_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *out_rv) {
  counter_arg *arg = varg;
  CK_OBJECT_HANDLE handles[COUNTER_OBJECTS_MAX + 1];
  CK_ULONG count = 0;
  TV_TRY(counter_find(hsm, session, handles, &count, arg->label, out_rv));
  return counter_max(hsm, session, handles, count, &arg->value, out_rv);
}

static tv_status counter_create(tv_hsm *hsm, CK_SESSION_HANDLE session, const counter_arg *arg,
                                CK_RV *out_rv) {
  CK_OBJECT_CLASS klass = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  uint8_t bytes[COUNTER_VALUE_LEN];
  encode_be64(bytes, arg->value);
  static const char application[] = COUNTER_APPLICATION;
  CK_ATTRIBUTE template[] = {
      {CKA_CLASS, &klass, sizeof klass},
      {CKA_TOKEN, &yes, sizeof yes},
      {CKA_PRIVATE, &yes, sizeof yes},
      {CKA_LABEL, (void *)(uintptr_t)arg->label, (CK_ULONG)strlen(arg->label)},
      {CKA_APPLICATION, (void *)(uintptr_t)application, (CK_ULONG)strlen(application)},
      {CKA_VALUE, bytes, sizeof bytes},
  };
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  HSM_P11(out_rv, C_CreateObject, session, template, sizeof template / sizeof template[0],
          &handle);
  return TV_OK;
}

/* Data objects' CKA_VALUE is read-only once created (SoftHSM2 says
 * CKR_ATTRIBUTE_READ_ONLY), so an advance creates an object with the new
 * value and then destroys the older ones: at every instant the largest
 * value on the token is the counter, crash or not. */
static tv_status advance_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *out_rv) {
  counter_arg *arg = varg;
  CK_OBJECT_HANDLE handles[COUNTER_OBJECTS_MAX + 1];
  CK_ULONG count = 0;
  tv_status status = counter_find(hsm, session, handles, &count, arg->label, out_rv);
  if (status == TV_E_HSM_KEY_NOT_FOUND && arg->create_if_missing) {
    return counter_create(hsm, session, arg, out_rv);
  }
  TV_TRY(status);
  uint64_t current = 0;
  TV_TRY(counter_max(hsm, session, handles, count, &current, out_rv));
  arg->refused = arg->value < current;
  TV_ENSURE(arg->value >= current,
            hsm_failf(TV_E_HSM_OPERATION, "counter '%s' is at %llu; refusing to lower it to %llu",
                      arg->label, (unsigned long long)current, (unsigned long long)arg->value));
  if (arg->value == current) {
    return TV_OK;
  }
  TV_TRY(counter_create(hsm, session, arg, out_rv));
  for (CK_ULONG i = 0; i < count; i++) {
    CK_RV rv = hsm->p11->C_DestroyObject(session, handles[i]);
    /* Gone already: another process's advance destroyed it first. */
    if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID) {
      *out_rv = rv;
      return hsm_fail("C_DestroyObject", rv);
    }
  }
  return TV_OK;
}

static tv_status destroy_op(tv_hsm *hsm, CK_SESSION_HANDLE session, void *varg, CK_RV *out_rv) {
  counter_arg *arg = varg;
  CK_OBJECT_HANDLE handles[COUNTER_OBJECTS_MAX + 1];
  CK_ULONG count = 0;
  TV_TRY(counter_find(hsm, session, handles, &count, arg->label, out_rv));
  for (CK_ULONG i = 0; i < count; i++) {
    HSM_P11(out_rv, C_DestroyObject, session, handles[i]);
  }
  return TV_OK;
}

void tv_hsm_counter_guard_set(tv_hsm *hsm, const tv_hsm_counter_guard *guard) {
  pthread_mutex_lock(&hsm->create_mu);
  hsm->counter_guard = guard != NULL ? *guard : (tv_hsm_counter_guard){0};
  pthread_mutex_unlock(&hsm->create_mu);
}

/* Runs |op| under the guard, if any (caller holds |create_mu|, which
 * keeps the guard from changing and this process's calls one at a time). */
static tv_status run_guarded(tv_hsm *hsm, hsm_op_fn op, counter_arg *arg) {
  tv_hsm_counter_guard *g = &hsm->counter_guard;
  int guarded = g->lock != NULL && (g->label == NULL || strcmp(g->label, arg->label) == 0);
  if (guarded) {
    TV_TRY(g->lock(g->ctx));
  }
  tv_status status = hsm_run(hsm, op, arg);
  if (guarded) {
    g->unlock(g->ctx);
  }
  return status;
}

tv_status tv_hsm_counter_read(tv_hsm *hsm, uint64_t *out_value, const char *label) {
  TV_ENSURE(hsm != NULL && out_value != NULL, TV_E_INVALID_ARGUMENT);
  TV_TRY(hsm_label_check(label));
  counter_arg arg = {label, 0, 0, 0};
  pthread_mutex_lock(&hsm->create_mu);
  tv_status status = run_guarded(hsm, read_op, &arg);
  pthread_mutex_unlock(&hsm->create_mu);
  TV_TRY(status);
  *out_value = arg.value;
  return TV_OK;
}

/* Advances, then reads back: the counter must be at least the value now.
 * A value another process moved it past is fine; a refusal to lower it
 * (the value was below the counter to begin with) is final. */
static tv_status advance_checked(tv_hsm *hsm, counter_arg *arg) {
  tv_status status = TV_E_HSM_OPERATION;
  for (int t = 0; t < COUNTER_ADVANCE_TRIES; t++) {
    status = run_guarded(hsm, advance_op, arg);
    if (arg->refused) {
      return status;
    }
    counter_arg back = {arg->label, 0, 0, 0};
    tv_status rst = run_guarded(hsm, read_op, &back);
    if (rst == TV_OK && back.value >= arg->value) {
      return TV_OK;
    }
    if (status == TV_OK) {
      status = rst != TV_OK ? rst : hsm_failf(TV_E_HSM_OPERATION, "counter '%s' read back below %llu", arg->label,
                                                (unsigned long long)arg->value);
    }
    arg->create_if_missing = 0; /* created once is enough */
  }
  return status;
}

tv_status tv_hsm_counter_advance(tv_hsm *hsm, const char *label, uint64_t value,
                                 int create_if_missing) {
  TV_ENSURE(hsm != NULL, TV_E_INVALID_ARGUMENT);
  TV_TRY(hsm_label_check(label));
  counter_arg arg = {label, value, create_if_missing, 0};
  /* Serialised with key creation so two threads never create the counter
   * twice under one label. */
  pthread_mutex_lock(&hsm->create_mu);
  tv_status status = advance_checked(hsm, &arg);
  pthread_mutex_unlock(&hsm->create_mu);
  return status;
}

tv_status tv_hsm_counter_destroy(tv_hsm *hsm, const char *label) {
  TV_ENSURE(hsm != NULL, TV_E_INVALID_ARGUMENT);
  TV_TRY(hsm_label_check(label));
  counter_arg arg = {label, 0, 0, 0};
  return hsm_run(hsm, destroy_op, &arg);
}
