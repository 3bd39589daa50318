/* tokenvaultd — the tokenisation vault's gRPC server.
 *
 * Opens the vault (HSM, keyring, store, engine, audit log, policy; see
 * vault/server/vault_open.h) from the settings (vault/server/settings.h)
 * and serves it through the engine adapter (engine_service.h). SIGHUP
 * re-reads the config file's roles, principals and limits (reload.c). */
#include <string.h>

#include "vault/server/daemon.h"
#include "vault/server/engine_service.h"
#include "vault/server/log.h"
#include "vault/server/metrics_daemon.h"
#include "vault/server/reload.h"
#include "vault/server/vault_open.h"

typedef struct vault_hooks {
  tv_vault vault;
  int open;
  tv_metrics_daemon metrics; /* started when metrics_listen is set */
} vault_hooks;

static tv_status open_vault(void *ctx, tv_settings *settings, tv_service *service, char *err, size_t err_len) {
  vault_hooks *h = ctx;
  TV_TRY(tv_vault_open(&h->vault, settings, err, err_len));
  h->open = 1;
  if (settings->metrics_listen[0] != '\0') {
    /* The built-in dev configuration's port is optional (see metrics_daemon.h). */
    int builtin = settings->config_path == NULL && settings->config != NULL &&
                  settings->metrics_listen == settings->config->metrics_listen;
    tv_status st = tv_metrics_daemon_start(&h->metrics, settings->metrics_listen, builtin, &h->vault, err, err_len);
    if (st != TV_OK) { /* a port that cannot be bound is a start-up error */
      (void)tv_vault_close(&h->vault);
      h->open = 0;
      return st;
    }
  }
  tv_engine_service_fill(service, &h->vault);
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
  tv_metrics_daemon_draining(&((vault_hooks *)ctx)->metrics);
}

int main(int argc, char **argv) {
  tv_service service;
  memset(&service, 0, sizeof service);
  static vault_hooks hooks_ctx;
  tv_daemon_hooks hooks = {.open = open_vault, .close = close_vault, .ctx = &hooks_ctx, .reload = reload_vault,
                           .draining = draining};
  return tv_daemon_run(argc, argv, &service, &hooks);
}
