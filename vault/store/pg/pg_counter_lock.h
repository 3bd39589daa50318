/* The fleet's lock on the HSM's counters: a PostgreSQL session-level
 * advisory lock, held around every counter call of the node
 * (hsm/counter.h, tv_hsm_counter_guard), so two nodes never find, create
 * and destroy counter objects on one token at the same time (SoftHSM2's
 * file store loses objects then; a network HSM's objects are atomic, but
 * the lock costs one round trip per counter call, a few per keyring
 * change and audit checkpoint, never per value).
 *
 * One connection of its own. A node that dies holding the lock loses its
 * session and with it the lock. A lock wait is bounded by lock_timeout
 * (TV_PG_COUNTER_LOCK_WAIT_MS): a node that cannot get it in time fails
 * the counter call (fail closed), as does a database that is away. */
#ifndef TV_STORE_PG_COUNTER_LOCK_H
#define TV_STORE_PG_COUNTER_LOCK_H

#include <stddef.h>

#include "hsm/counter.h"
#include "vault/util/status.h"

/* The advisory lock's key ("tvhc"): one lock for every counter. */
#define TV_PG_COUNTER_LOCK_KEY 0x74766863
/* How long a counter call waits for another node's (milliseconds). */
#define TV_PG_COUNTER_LOCK_WAIT_MS 10000u

typedef struct tv_pg_counter_lock tv_pg_counter_lock;

/* tv_pg_counter_lock_new connects to |conninfo| (already checked by the
 * store's open). On failure |*out| is NULL, |why| says why and the status
 * is TV_E_STORE_UNAVAILABLE (or TV_E_NO_MEMORY). */
tv_status tv_pg_counter_lock_new(tv_pg_counter_lock **out, const char *conninfo, char *why, size_t why_len);

/* tv_pg_counter_lock_guard fills |*out| with the guard to hand to
 * tv_hsm_counter_guard_set; |l| must outlive its use. */
void tv_pg_counter_lock_guard(tv_pg_counter_lock *l, tv_hsm_counter_guard *out);

/* tv_pg_counter_lock_free closes the connection (releasing the lock if
 * held); accepts NULL. Unset the guard first. */
void tv_pg_counter_lock_free(tv_pg_counter_lock *l);

#endif
