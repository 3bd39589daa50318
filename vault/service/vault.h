/* tv_vault — everything the service serves from: HSM, keyring, store,
 * engine, audit log, policy and the helpers started with them. The daemon
 * opens and closes it (vault/daemon/vault_open.h); the service only uses
 * it. */
#ifndef TV_SERVICE_VAULT_H
#define TV_SERVICE_VAULT_H

#include <limits.h>

#include "hsm/hsm.h"
#include "vault/audit/audit.h"
#include "vault/config/config.h"
#include "vault/engine/engine.h"
#include "vault/keyring/keyring.h"
#include "vault/policy/policy.h"
#include "vault/store/store.h"

typedef struct tv_vault {
  tv_hsm *hsm;
  tv_keyring *keyring;
  /* A fleet node's shared keyring document (vault/store/pg/pg_keyring.h),
   * freed after the keyring; NULL with a keyring file. */
  struct tv_pg_keyring *pg_keyring;
  /* A fleet node's lock on the HSM's counters across nodes
   * (vault/store/pg/pg_counter_lock.h); NULL on one node. */
  struct tv_pg_counter_lock *pg_counter_lock;
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

#endif
