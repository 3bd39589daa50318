/* A test-only PKCS#11 module that forwards to a real one (SoftHSM2) and
 * injects the failures of a lost HSM, steered by a control file:
 *
 *   TV_P11_FAULT_TARGET   module to forward to (default: SoftHSM2's path)
 *   TV_P11_FAULT_CONTROL  path of the control file; its first word:
 *     removed  every open session dies (as a pulled device loses them) and,
 *              while the file exists, the token is absent from the slot
 *              list and every call fails with CKR_DEVICE_REMOVED;
 *     session  one shot: every open session dies, then the file is deleted;
 *     locked   while the file exists, C_Login fails with CKR_PIN_LOCKED
 *              (SoftHSM2 never locks a PIN).
 * A dead session answers CKR_SESSION_HANDLE_INVALID to everything until the
 * client closes it. (Sessions are not closed in SoftHSM2 behind the
 * client's back: SoftHSM2 2.6 crashes when C_CloseAllSessions runs while
 * another thread is inside a call on one of those sessions.)
 * No file: everything is forwarded untouched. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "hsm/hsm.h"

typedef enum fault_mode { FAULT_NONE, FAULT_REMOVED, FAULT_SESSION, FAULT_LOCKED } fault_mode;

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST shim;
static fault_mode active_mode = FAULT_NONE;
static pthread_mutex_t mode_mu = PTHREAD_MUTEX_INITIALIZER;

static fault_mode read_mode(void) {
  const char *path = getenv("TV_P11_FAULT_CONTROL");
  FILE *f = path != NULL ? fopen(path, "r") : NULL;
  if (f == NULL) {
    return FAULT_NONE;
  }
  char word[16] = {0};
  int n = fscanf(f, "%15s", word);
  fclose(f);
  if (n != 1) {
    return FAULT_NONE;
  }
  if (strcmp(word, "removed") == 0) {
    return FAULT_REMOVED;
  }
  if (strcmp(word, "session") == 0) {
    return FAULT_SESSION;
  }
  return strcmp(word, "locked") == 0 ? FAULT_LOCKED : FAULT_NONE;
}

/* Sessions opened through the shim, and which of them are dead. */
#define SHIM_SESSIONS_MAX 256
static CK_SESSION_HANDLE open_sessions[SHIM_SESSIONS_MAX];
static int dead[SHIM_SESSIONS_MAX];
static unsigned open_count;
static pthread_mutex_t sessions_mu = PTHREAD_MUTEX_INITIALIZER;

static void kill_every_session(void) {
  pthread_mutex_lock(&sessions_mu);
  for (unsigned i = 0; i < open_count; i++) {
    dead[i] = 1;
  }
  pthread_mutex_unlock(&sessions_mu);
}

static void track_open(CK_SESSION_HANDLE s) {
  pthread_mutex_lock(&sessions_mu);
  for (unsigned i = 0; i < open_count; i++) {
    if (open_sessions[i] == s) { /* the module reused a closed handle */
      dead[i] = 0;
      pthread_mutex_unlock(&sessions_mu);
      return;
    }
  }
  if (open_count < SHIM_SESSIONS_MAX) {
    open_sessions[open_count] = s;
    dead[open_count++] = 0;
  }
  pthread_mutex_unlock(&sessions_mu);
}

static void track_close(CK_SESSION_HANDLE s) {
  pthread_mutex_lock(&sessions_mu);
  for (unsigned i = 0; i < open_count; i++) {
    if (open_sessions[i] == s) {
      open_sessions[i] = open_sessions[open_count - 1];
      dead[i] = dead[open_count - 1];
      open_count--;
      break;
    }
  }
  pthread_mutex_unlock(&sessions_mu);
}

static int is_dead(CK_SESSION_HANDLE s) {
  int result = 0;
  pthread_mutex_lock(&sessions_mu);
  for (unsigned i = 0; i < open_count; i++) {
    if (open_sessions[i] == s) {
      result = dead[i];
      break;
    }
  }
  pthread_mutex_unlock(&sessions_mu);
  return result;
}

/* Returns the mode in force, acting once on entering a new one. */
static fault_mode current_mode(void) {
  pthread_mutex_lock(&mode_mu);
  fault_mode mode = read_mode();
  if (mode != active_mode && (mode == FAULT_REMOVED || mode == FAULT_SESSION)) {
    kill_every_session();
  }
  if (mode == FAULT_SESSION) {
    unlink(getenv("TV_P11_FAULT_CONTROL"));
    mode = FAULT_NONE;
  }
  active_mode = mode;
  pthread_mutex_unlock(&mode_mu);
  return mode;
}

static CK_RV shim_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
  if (current_mode() == FAULT_REMOVED && present) {
    *count = 0;
    return CKR_OK;
  }
  return real->C_GetSlotList(present, list, count);
}

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  return current_mode() == FAULT_REMOVED ? CKR_TOKEN_NOT_PRESENT : real->C_GetTokenInfo(slot, info);
}

static CK_RV shim_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                              CK_SESSION_HANDLE_PTR session) {
  if (current_mode() == FAULT_REMOVED) {
    return CKR_TOKEN_NOT_PRESENT;
  }
  CK_RV rv = real->C_OpenSession(slot, flags, app, notify, session);
  if (rv == CKR_OK) {
    track_open(*session);
  }
  return rv;
}

/* Closing a dead session really closes it: the client does that only once
 * no call of its own is using the session. */
static CK_RV shim_CloseSession(CK_SESSION_HANDLE s) {
  int was_dead = is_dead(s);
  CK_RV rv = real->C_CloseSession(s);
  track_close(s);
  return was_dead ? CKR_SESSION_HANDLE_INVALID : rv;
}

static CK_RV gate(CK_SESSION_HANDLE s) {
  if (current_mode() == FAULT_REMOVED) {
    return CKR_DEVICE_REMOVED;
  }
  return is_dead(s) ? CKR_SESSION_HANDLE_INVALID : CKR_OK;
}

static CK_RV shim_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                        CK_ULONG pin_len) {
  CK_RV rv = gate(s);
  if (rv != CKR_OK) {
    return rv;
  }
  return active_mode == FAULT_LOCKED ? CKR_PIN_LOCKED : real->C_Login(s, user, pin, pin_len);
}

/* Every other call the client makes takes a session first: one gate. */
#define SHIM_SESSION_FN(name, params, args)          \
  static CK_RV shim_##name params {                  \
    CK_RV gate_rv = gate(s);                         \
    return gate_rv != CKR_OK ? gate_rv : real->C_##name args; \
  }

SHIM_SESSION_FN(GetSessionInfo, (CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info), (s, info))
SHIM_SESSION_FN(Logout, (CK_SESSION_HANDLE s), (s))
SHIM_SESSION_FN(CreateObject,
                (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o),
                (s, t, n, o))
SHIM_SESSION_FN(DestroyObject, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o), (s, o))
SHIM_SESSION_FN(GetAttributeValue,
                (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
                (s, o, t, n))
SHIM_SESSION_FN(SetAttributeValue,
                (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
                (s, o, t, n))
SHIM_SESSION_FN(FindObjectsInit, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n),
                (s, t, n))
SHIM_SESSION_FN(FindObjects,
                (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR o, CK_ULONG max, CK_ULONG_PTR n),
                (s, o, max, n))
SHIM_SESSION_FN(FindObjectsFinal, (CK_SESSION_HANDLE s), (s))
SHIM_SESSION_FN(SignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k),
                (s, m, k))
SHIM_SESSION_FN(Sign,
                (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dn, CK_BYTE_PTR sig,
                 CK_ULONG_PTR sn),
                (s, d, dn, sig, sn))
SHIM_SESSION_FN(VerifyInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k),
                (s, m, k))
SHIM_SESSION_FN(Verify,
                (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dn, CK_BYTE_PTR sig, CK_ULONG sn),
                (s, d, dn, sig, sn))
SHIM_SESSION_FN(GenerateKey,
                (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                 CK_OBJECT_HANDLE_PTR k),
                (s, m, t, n, k))
SHIM_SESSION_FN(WrapKey,
                (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE k,
                 CK_BYTE_PTR out, CK_ULONG_PTR out_len),
                (s, m, w, k, out, out_len))
SHIM_SESSION_FN(UnwrapKey,
                (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE u, CK_BYTE_PTR in,
                 CK_ULONG in_len, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k),
                (s, m, u, in, in_len, t, n, k))

static CK_RV load_real(void) {
  const char *target = getenv("TV_P11_FAULT_TARGET");
  if (target == NULL || target[0] == '\0') {
    target = TV_HSM_DEFAULT_MODULE;
  }
  void *dl = dlopen(target, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (dl == NULL) {
    return CKR_GENERAL_ERROR;
  }
  CK_C_GetFunctionList get_list = NULL;
  void *sym = dlsym(dl, "C_GetFunctionList");
  memcpy(&get_list, &sym, sizeof get_list);
  if (get_list == NULL || get_list(&real) != CKR_OK) {
    return CKR_GENERAL_ERROR;
  }
  shim = *real;
  shim.C_GetSlotList = shim_GetSlotList;
  shim.C_GetTokenInfo = shim_GetTokenInfo;
  shim.C_OpenSession = shim_OpenSession;
  shim.C_Login = shim_Login;
  shim.C_CloseSession = shim_CloseSession;
  shim.C_GetSessionInfo = shim_GetSessionInfo;
  shim.C_Logout = shim_Logout;
  shim.C_CreateObject = shim_CreateObject;
  shim.C_DestroyObject = shim_DestroyObject;
  shim.C_GetAttributeValue = shim_GetAttributeValue;
  shim.C_SetAttributeValue = shim_SetAttributeValue;
  shim.C_FindObjectsInit = shim_FindObjectsInit;
  shim.C_FindObjects = shim_FindObjects;
  shim.C_FindObjectsFinal = shim_FindObjectsFinal;
  shim.C_SignInit = shim_SignInit;
  shim.C_Sign = shim_Sign;
  shim.C_VerifyInit = shim_VerifyInit;
  shim.C_Verify = shim_Verify;
  shim.C_GenerateKey = shim_GenerateKey;
  shim.C_WrapKey = shim_WrapKey;
  shim.C_UnwrapKey = shim_UnwrapKey;
  return CKR_OK;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == NULL) {
    return CKR_ARGUMENTS_BAD;
  }
  if (real == NULL) {
    CK_RV rv = load_real();
    if (rv != CKR_OK) {
      return rv;
    }
  }
  *list = &shim;
  return CKR_OK;
}
