/* tv_pg_keyring — the fleet's keyring document in PostgreSQL (table
 * tv_keyring, one row: generation, document, MAC), behind the keyring's
 * persistence seam (vault/keyring/keyring_persist.h).
 *
 * Every node opens its keyring with tv_pg_keyring_persist's callbacks.
 * A change is stored with UPDATE ... WHERE generation = <the one it was
 * made from>: a node that built on an older generation changes nothing
 * and gets TV_E_KEYRING_CONFLICT (the keyring then takes in the newer
 * document and makes its change again). The database is trusted with
 * availability only: the keyring verifies the HSM MAC and the generation
 * against the HSM counter of every document it loads. libpq stays in
 * vault/store/pg. */
#ifndef TV_STORE_PG_PG_KEYRING_H
#define TV_STORE_PG_PG_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "vault/keyring/keyring_persist.h"
#include "vault/util/status.h"

typedef struct tv_pg_keyring tv_pg_keyring;

/* Encryption counts (tv_keyring_reserve) are reserved per node in blocks:
 * tv_nonce_counters holds, per value key, the next count no node has
 * been given, moved up atomically in the statement that records the block
 * in tv_nonce_blocks (first_count, count, node_id), committed before any
 * count of it is used. A value key is named in both tables by
 * TV_PG_NONCE_KEY: its namespace's index in the keyring document (stable:
 * namespaces are only added) and its version. */
#define TV_PG_NONCE_KEY(ns_index, version) (((uint64_t)(ns_index) << 32) | (uint64_t)(version))

/* Bound on node_id (tv_keyring.updated_by names who wrote the row). */
#define TV_PG_NODE_ID_LEN_MAX 64

/* tv_pg_keyring_new connects to |conninfo| (checked: no password in it)
 * as node |node_id| and checks the schema. Failures as tv_store_open's:
 * TV_E_STORE_UNAVAILABLE, _SCHEMA_MISSING, _SCHEMA_NEWER, _CONNINFO*,
 * with a sentence in |why|. Free with tv_pg_keyring_free. */
tv_status tv_pg_keyring_new(tv_pg_keyring **out, const char *conninfo, const char *node_id, char *why,
                            size_t why_len);

/* tv_pg_keyring_free closes the connection; accepts NULL. The keyring
 * using its callbacks must be freed first. */
void tv_pg_keyring_free(tv_pg_keyring *pk);

/* tv_pg_keyring_persist fills |*out| with callbacks on |pk| for
 * tv_keyring_options.persist. They are safe from several threads (one
 * connection under a lock, reconnected after a failure). */
void tv_pg_keyring_persist(tv_pg_keyring *pk, tv_keyring_persist *out);

/* tv_pg_keyring_facts sets |*out| to 1 if the database holds a keyring
 * row, and |*out_tokens| to 1 if it holds any token row (a keyring is
 * only ever created for a database without tokens). */
tv_status tv_pg_keyring_facts(tv_pg_keyring *pk, int *out_exists, int *out_tokens);

#endif
