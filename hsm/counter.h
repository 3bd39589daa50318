/* Monotonic counters kept in the HSM, for rollback protection: a file on the
 * host (the keyring) records a generation number, and the HSM remembers the
 * newest generation it has seen, so an older copy of the file put back on
 * disk can be told apart from the current one.
 *
 * A counter is a PKCS#11 data object (CKO_DATA) on the token: CKA_TOKEN and
 * CKA_PRIVATE true (only a logged-in user reads or changes it),
 * CKA_APPLICATION "tokenvault-counter", found by CKA_LABEL, its CKA_VALUE the
 * count as 8 bytes big-endian. CKA_VALUE of a data object cannot be changed
 * (SoftHSM2), so an advance creates a new object and then destroys the old
 * ones; the counter is the largest value among the objects with its label,
 * which stays right if a crash leaves both. It only ever moves up. */
#ifndef TV_HSM_COUNTER_H
#define TV_HSM_COUNTER_H

#include <stdint.h>

#include "hsm/hsm.h"

/* Several processes on one token (fleet nodes) must not run counter
 * calls at the same time: an advance is find, create, destroy, and
 * SoftHSM2's file store loses objects when two processes create and
 * destroy at once (a counter read as missing, an advance that put a lower
 * value back, a session that cannot be re-initialised). A guard is a
 * lock held across the processes (a fleet: a PostgreSQL advisory lock,
 * vault/store/pg/pg_counter_lock.h) around each counter call. */
typedef struct tv_hsm_counter_guard {
  /* Takes the lock; TV_OK or why not (the counter call then fails with
   * that status: fail closed). */
  tv_status (*lock)(void *ctx);
  void (*unlock)(void *ctx);
  void *ctx;
  /* Only calls on this counter are guarded (a string that outlives the
   * guard, e.g. a literal); NULL: every counter. A fleet guards every
   * counter: SoftHSM2's store is one per token, so even another label's
   * create and destroy (a node's audit checkpoint) races with them. */
  const char *label;
} tv_hsm_counter_guard;

/* tv_hsm_counter_guard_set makes every later counter call of |hsm| run
 * under |guard| (copied; NULL: none). Set it before other threads use
 * the counters. */
void tv_hsm_counter_guard_set(tv_hsm *hsm, const tv_hsm_counter_guard *guard);

/* tv_hsm_counter_read sets |*out_value| to the counter |label|. Returns
 * TV_E_HSM_KEY_NOT_FOUND if the token holds no such counter,
 * TV_E_HSM_KEY_EXISTS if more than 8 objects share the label, and
 * TV_E_HSM_OPERATION if its value is not 8 bytes. */
tv_status tv_hsm_counter_read(tv_hsm *hsm, uint64_t *out_value, const char *label);

/* tv_hsm_counter_advance raises the counter |label| to |value|. Setting it
 * to its current value is a no-op. A |value| below the current one is
 * refused with TV_E_HSM_OPERATION and leaves the counter unchanged. The
 * counter is read back afterwards and the advance repeated (a few times)
 * until it is at least |value|: another process's advance may have
 * destroyed the new object or failed to see it. If the
 * counter does not exist it is created with |value| when |create_if_missing|
 * is non-zero, otherwise TV_E_HSM_KEY_NOT_FOUND. */
tv_status tv_hsm_counter_advance(tv_hsm *hsm, const char *label, uint64_t value,
                                 int create_if_missing);

/* tv_hsm_counter_destroy deletes the counter |label| (tests and
 * decommissioning). TV_E_HSM_KEY_NOT_FOUND if there is none. */
tv_status tv_hsm_counter_destroy(tv_hsm *hsm, const char *label);

#endif
