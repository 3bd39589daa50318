/* Internal to hsm/: the connection (tv_hsm), its session pool and the
 * run-with-recovery loop every operation goes through. */
#ifndef TV_HSM_CLIENT_H
#define TV_HSM_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hsm/counter.h"
#include "hsm/hsm.h"
#include "hsm/module.h"
#include "hsm/p11.h"

/* Keys the vault uses at once: a few KEKs during a rotation, a few MAC keys. */
#define HSM_KEY_CACHE_MAX 16

typedef enum hsm_key_kind {
  HSM_KEY_KEK = 1, /* CKK_AES */
  HSM_KEY_MAC = 2, /* CKK_GENERIC_SECRET */
} hsm_key_kind;

typedef struct hsm_key_entry {
  hsm_key_kind kind; /* 0: free */
  char label[TV_HSM_LABEL_MAX + 1];
  CK_OBJECT_HANDLE handle;
  uint64_t generation; /* the connection generation the handle belongs to */
} hsm_key_entry;

struct tv_hsm {
  hsm_module *module;
  CK_FUNCTION_LIST *p11;
  char *token_label;
  char *token_serial;
  tv_hsm_pin_kind pin_kind;
  char *pin_source;
  unsigned sessions_max;
  unsigned reconnect_interval_ms;

  /* Operations hold it for reading; reconnection holds it for writing, so it
   * never closes a session that is in use. Writers are preferred, so a busy
   * pool does not starve recovery. */
  pthread_rwlock_t life;
  CK_SLOT_ID slot;
  _Atomic int healthy;
  _Atomic uint64_t generation;
  uint64_t retry_after_ms; /* under |life| held for writing */

  pthread_mutex_t pool_mu;
  pthread_cond_t pool_cv;
  CK_SESSION_HANDLE idle[TV_HSM_SESSIONS_MAX];
  unsigned idle_count;
  unsigned open_count;

  pthread_mutex_t keys_mu;
  hsm_key_entry keys[HSM_KEY_CACHE_MAX];
  /* Serialises "find, else generate" so two threads never create the same
   * label twice. */
  pthread_mutex_t create_mu;
  /* Counters: a lock held across processes around every counter call
   * (tv_hsm_counter_guard_set); lock NULL: none. Under |create_mu|. */
  tv_hsm_counter_guard counter_guard;
};

/* An operation run on one pooled session. It stores the CKR of the failing
 * PKCS#11 call (if any) in |*out_rv| so the loop can tell a lost connection
 * from a refused operation. */
typedef tv_status (*hsm_op_fn)(tv_hsm *hsm, CK_SESSION_HANDLE session, void *arg,
                               CK_RV *out_rv);

/* hsm_run runs |op| on a pooled session. If the session or device turns out
 * to be lost, the connection is marked broken, re-established and the
 * operation retried, a bounded number of times; if the HSM stays away the
 * result is TV_E_HSM_UNAVAILABLE. */
tv_status hsm_run(tv_hsm *hsm, hsm_op_fn op, void *arg);

/* hsm_key_handle returns the handle of the key |label| of |kind| in
 * |*out_handle|, from the cache or by searching the token (and checking it is
 * sensitive and not extractable). TV_E_HSM_KEY_NOT_FOUND if there is none. */
tv_status hsm_key_handle(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *out_handle,
                         hsm_key_kind kind, const char *label, CK_RV *out_rv);

/* hsm_key_forget drops |label| from the cache (after destroy or a stale
 * handle). */
void hsm_key_forget(tv_hsm *hsm, const char *label);

/* Generates a key of one kind on the token (templates in kek.c, mac.c). */
typedef tv_status (*hsm_keygen_fn)(tv_hsm *hsm, CK_SESSION_HANDLE session,
                                   CK_OBJECT_HANDLE *out_handle, const char *label,
                                   CK_RV *out_rv);

typedef enum hsm_create_mode {
  HSM_FIND_ONLY = 0,
  HSM_CREATE_IF_MISSING = 1,
  HSM_CREATE_NEW = 2, /* TV_E_HSM_KEY_EXISTS if the label is taken */
} hsm_create_mode;

/* hsm_key_ensure finds the key |label| of |kind|, generating it with |gen|
 * as |mode| allows. */
tv_status hsm_key_ensure(tv_hsm *hsm, hsm_key_kind kind, const char *label,
                         hsm_create_mode mode, hsm_keygen_fn gen);

/* hsm_session_check_user returns TV_OK if |session| is logged in as the
 * user; otherwise it reports the session as lost (|*out_rv| =
 * CKR_USER_NOT_LOGGED_IN), so hsm_run logs in again and retries. */
tv_status hsm_session_check_user(tv_hsm *hsm, CK_SESSION_HANDLE session, CK_RV *out_rv);

/* hsm_token_answers returns 1 if the token in the connection's slot still
 * answers C_GetTokenInfo. */
int hsm_token_answers(tv_hsm *hsm);

/* hsm_label_check validates a key label argument. */
tv_status hsm_label_check(const char *label);

/* HSM_P11 calls a PKCS#11 function; on failure it stores the CKR in
 * |*out_rv| and returns the mapped status with a detail line naming it. */
#define HSM_P11(out_rv, fn, ...)                  \
  do {                                            \
    CK_RV hsm_rv_ = hsm->p11->fn(__VA_ARGS__);    \
    if (hsm_rv_ != CKR_OK) {                      \
      *(out_rv) = hsm_rv_;                        \
      return hsm_fail(#fn, hsm_rv_);              \
    }                                             \
  } while (0)

#endif
