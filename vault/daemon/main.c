/* tokenvaultd — the tokenisation vault's gRPC server.
 *
 * Opens the vault (HSM, keyring, store, engine, audit log, policy; see
 * vault/daemon/vault_open.h) from the settings (vault/daemon/settings.h)
 * and serves it through the engine adapter (engine_service.h). SIGHUP
 * re-reads the config file's roles, principals and limits (reload.c);
 * SIGUSR1 takes an online backup (backup_worker.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "vault/daemon/backup_worker.h"
#include "vault/daemon/daemon.h"
#include "vault/daemon/heap_tuning.h"
#include "vault/service/engine_service.h"
#include "vault/service/log.h"
#include "vault/daemon/metrics_daemon.h"
#include "vault/service/readiness.h"
#include "vault/daemon/reload.h"
#include "vault/service/rotation_worker.h"
#include "vault/daemon/vault_open.h"

typedef struct vault_hooks {
  tv_vault vault;
  int open;
  tv_metrics_daemon metrics; /* started when metrics_listen is set */
  const char *ns_names[TV_ENGINE_NAMESPACES_MAX]; /* the rotation worker's namespaces */
  char pending_path[PATH_MAX];                    /* <data_dir>/rotation-pending */
  tv_backup_worker *backup;                       /* SIGUSR1 backups */
} vault_hooks;

/* The background rotation worker over the open vault; it resumes at once
 * whatever rotation the last process left unfinished. */
static tv_status start_rotation(vault_hooks *h, const tv_settings *settings, char *err, size_t err_len) {
  const tv_config *config = settings->config;
  for (size_t i = 0; i < config->namespaces_len && i < TV_ENGINE_NAMESPACES_MAX; i++) {
    h->ns_names[i] = config->namespaces[i].name;
  }
  int n = snprintf(h->pending_path, sizeof h->pending_path, "%s/rotation-pending", settings->data_dir);
  TV_ENSURE(n > 0 && (size_t)n < sizeof h->pending_path, TV_E_INVALID_ARGUMENT);
  tv_rotation_worker_options o = {
      .engine = h->vault.engine, .store = h->vault.store, .keyring = h->vault.keyring,
      .audit = h->vault.audit, .namespaces = h->ns_names,
      .num_namespaces = config->namespaces_len < TV_ENGINE_NAMESPACES_MAX ? config->namespaces_len
                                                                         : TV_ENGINE_NAMESPACES_MAX,
      .pending_path = h->pending_path, .records_per_s = config->rotation.reencrypt_records_per_s,
      .compact_bytes_per_s = config->rotation.compact_bytes_per_s, .node_id = settings->node_id,
      .lease_ttl_ms = (uint32_t)config->store.lease_ms,
      /* A fleet node looks for rotations started through the others once a second. */
      .fleet_poll_ms = settings->store_postgres ? TV_ROTATION_FLEET_POLL_MS : 0};
  tv_status st = tv_rotation_worker_start(&h->vault.rotation, &o);
  if (st != TV_OK) {
    snprintf(err, err_len, "starting the rotation worker failed: %s", tv_status_name(st));
  }
  return st;
}

/* Health's view of the vault (service.h): why data calls would be
 * refused now, TV_OK if they would not. */
static tv_status vault_readiness(void *ctx) {
  vault_hooks *h = ctx;
  return tv_readiness_reason(h->vault.readiness);
}

/* Readiness first, so a vault opened on a full audit (or store) disk is
 * NOT_SERVING from its first second (it still starts: an orchestrator sees
 * a live process that is not ready, rather than a crash loop, and traffic
 * comes back once space is freed). */
static tv_status start_readiness(vault_hooks *h, const tv_settings *settings, char *err, size_t err_len) {
  char store_dir[PATH_MAX];
  int n = snprintf(store_dir, sizeof store_dir, "%s/store", settings->data_dir);
  if (n < 0 || (size_t)n >= sizeof store_dir) {
    snprintf(err, err_len, "the store directory's path is too long");
    return TV_E_INVALID_ARGUMENT;
  }
  tv_readiness_config rc = {
      .audit = h->vault.audit, .audit_dir = h->vault.audit_dir, .store_dir = store_dir, .store = h->vault.store};
  tv_status st = tv_readiness_start(&h->vault.readiness, &rc);
  if (st != TV_OK) {
    snprintf(err, err_len, "starting the readiness probe failed: %s", tv_status_name(st));
  }
  return st;
}

static tv_status open_vault(void *ctx, tv_settings *settings, tv_service *service, char *err, size_t err_len) {
  vault_hooks *h = ctx;
  TV_TRY(tv_vault_open(&h->vault, settings, err, err_len));
  h->open = 1;
  tv_status rst = start_readiness(h, settings, err, err_len);
  if (rst == TV_OK) {
    rst = start_rotation(h, settings, err, err_len);
  }
  if (rst != TV_OK) {
    tv_readiness_stop(h->vault.readiness);
    h->vault.readiness = NULL;
    (void)tv_vault_close(&h->vault);
    h->open = 0;
    return rst;
  }
  if (settings->metrics_listen[0] != '\0') {
    /* The built-in dev configuration's port is optional (see metrics_daemon.h). */
    int builtin = settings->config_path == NULL && settings->config != NULL &&
                  settings->metrics_listen == settings->config->metrics_listen;
    tv_status st = tv_metrics_daemon_start(&h->metrics, settings->metrics_listen, builtin, &h->vault, err, err_len);
    if (st != TV_OK) { /* a port that cannot be bound is a start-up error */
      tv_rotation_worker_free(h->vault.rotation);
      h->vault.rotation = NULL;
      tv_readiness_stop(h->vault.readiness);
      h->vault.readiness = NULL;
      (void)tv_vault_close(&h->vault);
      h->open = 0;
      return st;
    }
  }
  if (tv_backup_worker_start(&h->backup, &h->vault, settings->data_dir) != TV_OK) {
    /* Serving matters more than on-demand backups; the log says why
     * SIGUSR1 will do nothing (the offline backup still works). */
    tv_log_message("error", "backup_worker", "could not start: SIGUSR1 backups are unavailable");
  }
  tv_engine_service_fill(service, &h->vault);
  service->readiness = vault_readiness;
  service->readiness_ctx = h;
  tv_log_message("info", "vault_open", "HSM, keyring, store, engine, audit log and policy open");
  return TV_OK;
}

static int close_vault(void *ctx) {
  vault_hooks *h = ctx;
  if (!h->open) {
    return 0;
  }
  h->open = 0;
  tv_metrics_daemon_stop(&h->metrics); /* no scrape reads a closing vault */
  /* A backup under way reads the store and appends to the audit log. */
  tv_backup_worker_free(h->backup);
  h->backup = NULL;
  /* Before the vault closes: the worker uses the engine, store and audit
   * log. It was asked to stop when draining began. */
  tv_rotation_worker_free(h->vault.rotation);
  h->vault.rotation = NULL;
  /* It appends to the audit log; no call reports to it any more. */
  tv_readiness_stop(h->vault.readiness);
  h->vault.readiness = NULL;
  tv_status st = tv_vault_close(&h->vault);
  tv_metrics_daemon_free(&h->metrics);
  if (st != TV_OK) {
    tv_log_message("error", "vault_close", "the audit log's final checkpoint failed");
    return 1;
  }
  tv_log_message("info", "vault_closed", "audit log sealed, store and keyring closed");
  return 0;
}

static void reload_vault(void *ctx, const tv_settings *settings, const char *tls_outcome) {
  vault_hooks *h = ctx;
  if (h->open) {
    tv_vault_reload(&h->vault, settings, tls_outcome);
  }
}

static void draining(void *ctx) {
  vault_hooks *h = ctx;
  tv_metrics_daemon_draining(&h->metrics);
  /* Asked now so it stops while the calls drain; a compaction under way
   * cannot be cancelled and is waited for in close_vault. */
  tv_rotation_worker_stop(h->vault.rotation);
}

static void backup(void *ctx) {
  vault_hooks *h = ctx;
  tv_backup_worker_request(h->backup);
}

int main(int argc, char **argv) {
  tv_heap_tune(); /* before any thread or allocation of a call */
  tv_service service;
  memset(&service, 0, sizeof service);
  static vault_hooks hooks_ctx;
  tv_daemon_hooks hooks = {.open = open_vault, .close = close_vault, .ctx = &hooks_ctx, .reload = reload_vault,
                           .draining = draining, .backup = backup};
  return tv_daemon_run(argc, argv, &service, &hooks);
}
