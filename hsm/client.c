/* The connection: open/free, the session pool, and recovery after the HSM
 * or a session is lost. */
#include "hsm/client.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/pin.h"
#include "hsm/softhsm_diag.h"
#include "vault/util/secure_mem.h"
#include "vault/util/clock.h"

/* One call tries the operation, and after a loss reconnects and tries once
 * more: enough to ride over a session the HSM dropped, without making a
 * caller wait through many round trips to a dead HSM. */
#define HSM_RUN_ATTEMPTS_MAX 3
/* Reconnection tries twice: the second after re-initialising the module,
 * should it have forgotten us. */
#define HSM_RECONNECT_ATTEMPTS_MAX 2

/* ---- the pool ------------------------------------------------------------ */

static tv_status login(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_RV *out_rv) {
  char pin[HSM_PIN_MAX + 1];
  size_t pin_len = 0;
  TV_TRY(hsm_pin_read(pin, &pin_len, hsm->pin_kind, hsm->pin_source));
  CK_RV rv = hsm->p11->C_Login(session, CKU_USER, (CK_UTF8CHAR *)pin, (CK_ULONG)pin_len);
  tv_wipe(pin, sizeof pin);
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    *out_rv = rv;
    return hsm_fail("C_Login", rv);
  }
  return TV_OK;
}

/* Login state belongs to the token, not the session: it is lost when the
 * module closes every session, and a session opened after that is public.
 * A public session sees no private key, so it is logged in before use. */
static tv_status session_ensure_user(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_RV *out_rv) {
  CK_SESSION_INFO info;
  CK_RV rv = hsm->p11->C_GetSessionInfo(session, &info);
  if (rv != CKR_OK) {
    *out_rv = rv;
    return hsm_fail("C_GetSessionInfo", rv);
  }
  if (info.state == CKS_RW_USER_FUNCTIONS || info.state == CKS_RO_USER_FUNCTIONS) {
    return TV_OK;
  }
  return login(hsm, session, out_rv);
}

static tv_status pool_acquire(tv_hsm *hsm, CK_SESSION_HANDLE *out_session, CK_RV *out_rv) {
  pthread_mutex_lock(&hsm->pool_mu);
  while (hsm->idle_count == 0 && hsm->open_count >= hsm->sessions_max) {
    pthread_cond_wait(&hsm->pool_cv, &hsm->pool_mu);
  }
  if (hsm->idle_count > 0) {
    *out_session = hsm->idle[--hsm->idle_count];
    pthread_mutex_unlock(&hsm->pool_mu);
    return TV_OK;
  }
  hsm->open_count++; /* reserve the place before the slow call */
  pthread_mutex_unlock(&hsm->pool_mu);
  /* R/W: disabling a KEK and creating keys modify token objects. */
  CK_RV rv = hsm->p11->C_OpenSession(hsm->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                     out_session);
  tv_status status = rv == CKR_OK ? session_ensure_user(hsm, *out_session, out_rv)
                                  : hsm_fail("C_OpenSession", rv);
  if (status == TV_OK) {
    return TV_OK;
  }
  if (rv == CKR_OK) {
    hsm->p11->C_CloseSession(*out_session);
  } else {
    *out_rv = rv;
  }
  pthread_mutex_lock(&hsm->pool_mu);
  hsm->open_count--;
  pthread_cond_signal(&hsm->pool_cv);
  pthread_mutex_unlock(&hsm->pool_mu);
  return status;
}

static void pool_release(tv_hsm *hsm, CK_SESSION_HANDLE session, int lost) {
  if (lost) {
    hsm->p11->C_CloseSession(session); /* may fail: it is gone already */
  }
  pthread_mutex_lock(&hsm->pool_mu);
  if (lost) {
    hsm->open_count--;
  } else {
    assert(hsm->idle_count < hsm->sessions_max);
    hsm->idle[hsm->idle_count++] = session;
  }
  pthread_cond_signal(&hsm->pool_cv);
  pthread_mutex_unlock(&hsm->pool_mu);
}

/* Called with |life| held for writing: no session is checked out. */
static void pool_close_all(tv_hsm *hsm) {
  pthread_mutex_lock(&hsm->pool_mu);
  assert(hsm->idle_count == hsm->open_count);
  for (unsigned i = 0; i < hsm->idle_count; i++) {
    hsm->p11->C_CloseSession(hsm->idle[i]);
  }
  hsm->idle_count = 0;
  hsm->open_count = 0;
  pthread_mutex_unlock(&hsm->pool_mu);
}

/* ---- connecting ----------------------------------------------------------- */

/* Finds the token, opens the first session and logs in. Called with |life|
 * held for writing (or before |hsm| is shared). */
static tv_status connect_once(tv_hsm *hsm, CK_RV *out_rv) {
  CK_SLOT_ID slot = 0;
  TV_TRY(hsm_find_token(hsm->p11, &slot, out_rv, hsm->token_label, hsm->token_serial));
  hsm->slot = slot;
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  CK_RV rv = hsm->p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                     &session);
  if (rv != CKR_OK) {
    *out_rv = rv;
    return hsm_fail("C_OpenSession", rv);
  }
  tv_status status = login(hsm, session, out_rv);
  if (status != TV_OK) {
    hsm->p11->C_CloseSession(session);
    return status;
  }
  pthread_mutex_lock(&hsm->pool_mu);
  hsm->idle[0] = session;
  hsm->idle_count = 1;
  hsm->open_count = 1;
  pthread_mutex_unlock(&hsm->pool_mu);
  atomic_fetch_add(&hsm->generation, 1); /* every cached key handle is stale */
  atomic_store(&hsm->healthy, 1);
  return TV_OK;
}

static tv_status reconnect(tv_hsm *hsm) {
  pool_close_all(hsm);
  tv_status status = TV_E_HSM_UNAVAILABLE;
  for (unsigned attempt = 0; attempt < HSM_RECONNECT_ATTEMPTS_MAX; attempt++) {
    CK_RV rv = CKR_OK;
    status = connect_once(hsm, &rv);
    if (status == TV_OK) {
      return TV_OK;
    }
    if (rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
      (void)hsm_module_reinitialize(hsm->module);
      continue;
    }
    /* PIN problems and the like will not go away by retrying. */
    if (status != TV_E_HSM_UNAVAILABLE && status != TV_E_HSM_TOKEN_NOT_FOUND &&
        status != TV_E_HSM_OPERATION) {
      break;
    }
    /* Last resort: make the module start over (it may hold a stale view of
     * the token). Not possible while another tv_hsm shares the module. */
    if (attempt + 1 < HSM_RECONNECT_ATTEMPTS_MAX && hsm_module_reset(hsm->module) != TV_OK) {
      break;
    }
  }
  /* A token that vanished is the HSM being away, not a configuration error. */
  if (status == TV_E_HSM_TOKEN_NOT_FOUND || status == TV_E_HSM_OPERATION ||
      status == TV_E_HSM_UNAVAILABLE) {
    char cause[200];
    snprintf(cause, sizeof cause, "%s", tv_hsm_error_detail());
    status = hsm_failf(TV_E_HSM_UNAVAILABLE, "HSM unavailable, reconnection failed: %s", cause);
  }
  return status;
}

static tv_status ensure_connected(tv_hsm *hsm) {
  if (atomic_load(&hsm->healthy)) {
    return TV_OK;
  }
  pthread_rwlock_wrlock(&hsm->life);
  tv_status status = TV_OK;
  if (!atomic_load(&hsm->healthy)) {
    uint64_t now = tv_mono_ms();
    if (now < hsm->retry_after_ms) {
      status = hsm_failf(TV_E_HSM_UNAVAILABLE,
                         "HSM unreachable; next reconnection attempt in %llu ms",
                         (unsigned long long)(hsm->retry_after_ms - now));
    } else {
      status = reconnect(hsm);
      if (status != TV_OK) {
        hsm->retry_after_ms = tv_mono_ms() + hsm->reconnect_interval_ms;
      }
    }
  }
  pthread_rwlock_unlock(&hsm->life);
  return status;
}

int hsm_token_answers(tv_hsm *hsm) {
  CK_TOKEN_INFO info;
  return hsm->p11->C_GetTokenInfo(hsm->slot, &info) == CKR_OK;
}

/* Modules answer CKR_GENERAL_ERROR or CKR_FUNCTION_FAILED when a session
 * vanishes under a running call (SoftHSM2 does), or when their token store
 * went away. After any failure, ask the session and the token: if either is
 * gone, the failure was the loss, not the data. */
static CK_RV probe_ambiguous(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_RV rv) {
  if (rv == CKR_OK || hsm_ckr_is_lost(rv)) {
    return rv;
  }
  CK_SESSION_INFO info;
  CK_RV probe = hsm->p11->C_GetSessionInfo(session, &info);
  if (probe != CKR_OK) {
    return hsm_ckr_is_lost(probe) ? probe : rv;
  }
  if (info.state != CKS_RW_USER_FUNCTIONS && info.state != CKS_RO_USER_FUNCTIONS) {
    return CKR_USER_NOT_LOGGED_IN;
  }
  return hsm_token_answers(hsm) ? rv : CKR_TOKEN_NOT_PRESENT;
}

static void mark_broken(tv_hsm *hsm, uint64_t generation) {
  /* Only the generation that failed is broken; a newer one is fresh. */
  if (atomic_load(&hsm->generation) == generation) {
    atomic_store(&hsm->healthy, 0);
  }
}

tv_status hsm_session_check_user(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_RV *out_rv) {
  CK_SESSION_INFO info;
  CK_RV rv = hsm->p11->C_GetSessionInfo(session, &info);
  if (rv != CKR_OK) {
    *out_rv = rv;
    return hsm_fail("C_GetSessionInfo", rv);
  }
  if (info.state != CKS_RW_USER_FUNCTIONS && info.state != CKS_RO_USER_FUNCTIONS) {
    *out_rv = CKR_USER_NOT_LOGGED_IN; /* treated as a lost connection: log in again */
    return hsm_failf(TV_E_HSM_UNAVAILABLE, "the HSM session is no longer logged in");
  }
  return TV_OK;
}

tv_status hsm_run(tv_hsm *hsm, hsm_op_fn op, void *arg) {
  assert(hsm != NULL && op != NULL);
  hsm_detail_clear();
  tv_status status = TV_E_HSM_UNAVAILABLE;
  for (unsigned attempt = 0; attempt < HSM_RUN_ATTEMPTS_MAX; attempt++) {
    TV_TRY(ensure_connected(hsm));
    pthread_rwlock_rdlock(&hsm->life);
    uint64_t generation = atomic_load(&hsm->generation);
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_RV rv = CKR_OK;
    status = pool_acquire(hsm, &session, &rv);
    if (status == TV_OK) {
      status = op(hsm, session, arg, &rv);
      rv = probe_ambiguous(hsm, session, rv);
      pool_release(hsm, session, hsm_ckr_is_lost(rv));
    }
    pthread_rwlock_unlock(&hsm->life);
    if (hsm_ckr_is_lost(rv)) {
      mark_broken(hsm, generation);
      status = TV_E_HSM_UNAVAILABLE;
      continue;
    }
    if (status == TV_E_HSM_KEY_NOT_FOUND && rv != CKR_OK) {
      /* A cached handle went stale (key recreated by another process). */
      pthread_mutex_lock(&hsm->keys_mu);
      memset(hsm->keys, 0, sizeof hsm->keys);
      pthread_mutex_unlock(&hsm->keys_mu);
      continue;
    }
    if (status == TV_OK) {
      hsm_detail_clear(); /* failures on the way to success are not news */
    }
    return status;
  }
  return status;
}

/* ---- open / free ---------------------------------------------------------- */

static tv_status copy_config(tv_hsm *hsm, const tv_hsm_config *config) {
  hsm->token_label = config->token_label != NULL ? strdup(config->token_label) : NULL;
  hsm->token_serial = config->token_serial != NULL ? strdup(config->token_serial) : NULL;
  hsm->pin_source = config->pin_source != NULL ? strdup(config->pin_source) : NULL;
  TV_ENSURE((config->token_label == NULL || hsm->token_label != NULL) &&
                (config->token_serial == NULL || hsm->token_serial != NULL) &&
                (config->pin_source == NULL || hsm->pin_source != NULL),
            TV_E_NO_MEMORY);
  hsm->pin_kind = config->pin_kind;
  hsm->sessions_max = config->sessions_max != 0 ? config->sessions_max : TV_HSM_SESSIONS_DEFAULT;
  hsm->reconnect_interval_ms = config->reconnect_interval_ms;
  return TV_OK;
}

static tv_status hsm_new(tv_hsm **out_hsm) {
  tv_hsm *hsm = calloc(1, sizeof *hsm);
  TV_ENSURE(hsm != NULL, TV_E_NO_MEMORY);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&hsm->life, &attr);
  pthread_rwlockattr_destroy(&attr);
  pthread_mutex_init(&hsm->pool_mu, NULL);
  pthread_cond_init(&hsm->pool_cv, NULL);
  pthread_mutex_init(&hsm->keys_mu, NULL);
  pthread_mutex_init(&hsm->create_mu, NULL);
  *out_hsm = hsm;
  return TV_OK;
}

tv_status tv_hsm_open(tv_hsm **out_hsm, const tv_hsm_config *config) {
  TV_ENSURE(out_hsm != NULL && config != NULL, TV_E_INVALID_ARGUMENT);
  *out_hsm = NULL;
  hsm_detail_clear();
  TV_ENSURE(config->token_label != NULL || config->token_serial != NULL,
            hsm_failf(TV_E_INVALID_ARGUMENT, "no token label or serial configured"));
  TV_ENSURE(config->sessions_max <= TV_HSM_SESSIONS_MAX,
            hsm_failf(TV_E_INVALID_ARGUMENT, "at most %d sessions", TV_HSM_SESSIONS_MAX));
  tv_hsm *hsm = NULL;
  TV_TRY(hsm_new(&hsm));
  tv_status status = copy_config(hsm, config);
  if (status == TV_OK) {
    const char *path = config->module_path != NULL ? config->module_path : TV_HSM_DEFAULT_MODULE;
    status = hsm_module_acquire(&hsm->module, path);
    if (status != TV_OK) {
      status = hsm_softhsm_explain(status, config->token_label);
    }
  }
  if (status == TV_OK) {
    hsm->p11 = hsm_module_functions(hsm->module);
    CK_RV rv = CKR_OK;
    status = connect_once(hsm, &rv);
  }
  if (status != TV_OK) {
    tv_hsm_free(hsm);
    return status;
  }
  *out_hsm = hsm;
  return TV_OK;
}

void tv_hsm_free(tv_hsm *hsm) {
  if (hsm == NULL) {
    return;
  }
  if (hsm->module != NULL) {
    pthread_rwlock_wrlock(&hsm->life);
    /* No C_Logout: login is per token and shared with any other tv_hsm on
     * this module; closing the last session of the process logs out. */
    pool_close_all(hsm);
    pthread_rwlock_unlock(&hsm->life);
    hsm_module_release(hsm->module);
  }
  pthread_rwlock_destroy(&hsm->life);
  pthread_mutex_destroy(&hsm->pool_mu);
  pthread_cond_destroy(&hsm->pool_cv);
  pthread_mutex_destroy(&hsm->keys_mu);
  pthread_mutex_destroy(&hsm->create_mu);
  free(hsm->token_label);
  free(hsm->token_serial);
  free(hsm->pin_source);
  free(hsm);
}
