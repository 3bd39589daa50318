/* tv_vault — everything tokenvaultd serves from, opened in order from the
 * data directory and the command line: HSM -> store -> keyring -> engine
 * -> audit log (the store before the keyring: a missing keyring is only
 * created for a store without records, see keyring_start.h).
 *
 * Layout of the data directory:
 *   <dir>/keyring   the keyring file (tv_keyring)
 *   <dir>/store/    token records (tv_store)
 *   <dir>/audit/    the audit log (tv_audit)
 *   <dir>/hsm/      --dev only: the SoftHSM2 token made by hsm_dev_init
 *
 * The namespaces are the configuration's (the built-in dev configuration
 * has pan, iban, bank_account, ssn, tw_national_id, cn_resident_id,
 * de_tax_id); their keys are added to the keyring the first time they are
 * missing. The audit log lives in the settings' audit_dir (--dev:
 * <dir>/audit). */
#ifndef TV_DAEMON_VAULT_OPEN_H
#define TV_DAEMON_VAULT_OPEN_H

#include <limits.h>
#include <stddef.h>

#include "hsm/hsm.h"
#include "vault/audit/audit.h"
#include "vault/engine/engine.h"
#include "vault/keyring/keyring.h"
#include "vault/policy/policy.h"
#include "vault/daemon/settings.h"
#include "vault/service/vault.h"
#include "vault/store/store.h"
#include "vault/util/status.h"

/* tv_vault_open opens every part for |settings| into |*out| (zeroed
 * first) and takes the configuration's policy (settings->config keeps the
 * namespaces and must outlive the vault). With --dev a SoftHSM2 token,
 * keyring, store and audit log are created under the data directory on
 * the first start and reused later. Without --dev the settings' HSM is
 * used and a missing keyring is an error unless --init was given. A
 * keyring is created only for a new vault (empty store, no keyring
 * generation on the HSM); otherwise a missing one refuses the start
 * (TV_E_KEYRING_NOT_FOUND) naming how to restore it, and --init on a
 * store with records is refused (TV_E_SERVER_CONFIG). On
 * failure everything opened is closed again and |out_err| holds a
 * sentence (never a PIN). */
tv_status tv_vault_open(tv_vault *out, tv_settings *settings, char *out_err, size_t out_err_len);

/* tv_vault_close frees the engine (waits for its callbacks, which append
 * to the audit log), closes the audit log (final checkpoint), the store,
 * the keyring and the HSM, in that order. Returns the audit log's closing status. No call may be in flight. */
tv_status tv_vault_close(tv_vault *vault);

#endif
