/* The store's maintenance lock and its gate (see |maint_lock| in
 * ustore.h). Scans and snapshots walk the segment files for a long time
 * and hold maint_lock shared; compaction's swap replaces those files and
 * holds it exclusive. The lock must stay reader-preferring because a scan
 * callback may scan again (a writer-preferring lock would deadlock that
 * nested reader behind the waiting swap), but then scans that keep
 * overlapping could hold the swap off forever. The gate closes that: while
 * a swap waits, a thread starting an outermost scan waits for the swap to
 * finish; a nested one (this thread already holds the lock) passes. */
#include "vault/store/ustore.h"

static _Thread_local unsigned maint_depth; /* shared holds of this thread */

void tv_ustore_maint_gate_init(tv_ustore *u) {
  pthread_rwlock_init(&u->maint_lock, NULL);
  pthread_mutex_init(&u->gate_mu, NULL);
  pthread_cond_init(&u->gate_cv, NULL);
  u->swap_waiting = 0;
}

void tv_ustore_maint_gate_destroy(tv_ustore *u) {
  pthread_cond_destroy(&u->gate_cv);
  pthread_mutex_destroy(&u->gate_mu);
  pthread_rwlock_destroy(&u->maint_lock);
}

void tv_ustore_maint_shared_begin(tv_ustore *u) {
  if (maint_depth == 0) {
    pthread_mutex_lock(&u->gate_mu);
    while (u->swap_waiting > 0) {
      pthread_cond_wait(&u->gate_cv, &u->gate_mu);
    }
    pthread_mutex_unlock(&u->gate_mu);
  }
  pthread_rwlock_rdlock(&u->maint_lock);
  maint_depth++;
}

void tv_ustore_maint_shared_end(tv_ustore *u) {
  maint_depth--;
  pthread_rwlock_unlock(&u->maint_lock);
}

void tv_ustore_maint_exclusive_begin(tv_ustore *u) {
  pthread_mutex_lock(&u->gate_mu);
  u->swap_waiting++;
  pthread_mutex_unlock(&u->gate_mu);
  pthread_rwlock_wrlock(&u->maint_lock);
}

void tv_ustore_maint_exclusive_end(tv_ustore *u) {
  pthread_rwlock_unlock(&u->maint_lock);
  pthread_mutex_lock(&u->gate_mu);
  u->swap_waiting--;
  pthread_cond_broadcast(&u->gate_cv);
  pthread_mutex_unlock(&u->gate_mu);
}
