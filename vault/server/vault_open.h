/* tv_vault — everything tokenvaultd serves from, opened in order from the
 * data directory and the command line: HSM -> keyring -> store -> engine
 * -> audit log, and closed in reverse.
 *
 * Layout of the data directory:
 *   <dir>/keyring   the keyring file (tv_keyring)
 *   <dir>/store/    token records (tv_store)
 *   <dir>/audit/    the audit log (tv_audit)
 *   <dir>/hsm/      --dev only: the SoftHSM2 token made by hsm_dev_init
 *
 * Until configuration files are parsed (vault/config, wired by the lead)
 * the namespaces are the built-in set below, in --dev and in production
 * alike; their keys are added to the keyring the first time they are
 * missing. */
#ifndef TV_SERVER_VAULT_OPEN_H
#define TV_SERVER_VAULT_OPEN_H

#include <stddef.h>

#include "hsm/hsm.h"
#include "vault/audit/audit.h"
#include "vault/engine/engine.h"
#include "vault/keyring/keyring.h"
#include "vault/server/options.h"
#include "vault/store/store.h"
#include "vault/util/status.h"

typedef struct tv_vault {
  tv_hsm *hsm;
  tv_keyring *keyring;
  tv_store *store;
  tv_engine *engine;
  tv_audit_log *audit;
  int dev; /* 1: opened with --dev (no client identities) */
} tv_vault;

/* The built-in namespaces: pan, iban, bank_account, ssn, tw_national_id,
 * cn_resident_id, de_tax_id (all convergent, no default TTL). */
extern const char *const tv_vault_namespaces[];
extern const size_t tv_vault_namespaces_count;

/* tv_vault_open opens every part for |opts| into |*out| (zeroed first).
 * With --dev a SoftHSM2 token, keyring, store and audit log are created
 * under the data directory on the first start and reused later. Without
 * --dev the HSM flags are used and a missing keyring is an error unless
 * --init was given. On failure everything opened is closed again and
 * |out_err| holds a sentence (never a PIN). */
tv_status tv_vault_open(tv_vault *out, const tv_options *opts, char *out_err, size_t out_err_len);

/* tv_vault_close frees the engine (waits for its callbacks, which append
 * to the audit log), closes the audit log (final checkpoint), the store,
 * the keyring and the HSM, in that order. Returns the audit log's closing status. No call may be in flight. */
tv_status tv_vault_close(tv_vault *vault);

#endif
