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
#ifndef TV_SERVER_VAULT_OPEN_H
#define TV_SERVER_VAULT_OPEN_H

#include <limits.h>
#include <stddef.h>

#include "hsm/hsm.h"
#include "vault/audit/audit.h"
#include "vault/engine/engine.h"
#include "vault/keyring/keyring.h"
#include "vault/policy/policy.h"
#include "vault/daemon/settings.h"
#include "vault/store/store.h"
#include "vault/util/status.h"

typedef struct tv_vault {
  tv_hsm *hsm;
  tv_keyring *keyring;
  tv_store *store;
  tv_engine *engine;
  tv_audit_log *audit;
  const tv_config *config; /* borrowed from the settings: the namespaces */
  policy_handle *policy;   /* the published policy; SIGHUP swaps it */
  policy_meter *meter;     /* reveal counters, kept across reloads */
  policy_group_meter *group_meter; /* new tokens per kept group per day */
  char audit_dir[PATH_MAX];
  int dev;       /* 1: opened with --dev */
  int plaintext; /* 1: no TLS, so every caller is CONFIG_DEV_PRINCIPAL */
  struct tv_metrics *metrics; /* NULL: calls are not counted (no metrics port) */
  /* Completes data-key rotations in the background (rotation_worker.h);
   * started by tokenvaultd after the open, NULL elsewhere (no background
   * rotation: RotateDataKey then only adds the version). */
  struct tv_rotation_worker *rotation;
  /* Audits the calls refused before any handler (refusal_audit.h); started
   * with the audit log, stopped before it closes. */
  struct tv_refusal_audit *refusals;
  /* Whether data calls can be answered (readiness.h): svc_call reports
   * each audit append to it, health and /healthz read it; started by
   * tokenvaultd after the open, NULL elsewhere (always ready). */
  struct tv_readiness *readiness;
} tv_vault;

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
