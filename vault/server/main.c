/* tokenvaultd — the tokenisation vault's gRPC server.
 *
 * Opens the vault (HSM, keyring, store, engine, audit log; see
 * vault/server/vault_open.h) and serves it through the engine adapter
 * (vault/server/engine_service.h). Without --dev and without
 * --hsm-token-label no vault is opened: only Health and WhoAmI answer. */
#include <string.h>

#include "vault/server/daemon.h"
#include "vault/server/engine_service.h"
#include "vault/server/log.h"
#include "vault/server/vault_open.h"

typedef struct vault_hooks {
  tv_vault vault;
  int open;
} vault_hooks;

static tv_status open_vault(void *ctx, const tv_options *opts, tv_service *service, char *err, size_t err_len) {
  vault_hooks *h = ctx;
  if (!opts->dev && opts->hsm_token_label == NULL) {
    tv_log_message("warn", "no_vault",
                   "no --hsm-token-label: the vault is not opened, data and key methods answer UNIMPLEMENTED");
    return TV_OK;
  }
  TV_TRY(tv_vault_open(&h->vault, opts, err, err_len));
  h->open = 1;
  tv_engine_service_fill(service, &h->vault);
  tv_log_message("info", "vault_open", "HSM, keyring, store, engine and audit log open");
  return TV_OK;
}

static int close_vault(void *ctx) {
  vault_hooks *h = ctx;
  if (!h->open) {
    return 0;
  }
  h->open = 0;
  if (tv_vault_close(&h->vault) != TV_OK) {
    tv_log_message("error", "vault_close", "the audit log's final checkpoint failed");
    return 1;
  }
  tv_log_message("info", "vault_closed", "audit log sealed, store and keyring closed");
  return 0;
}

int main(int argc, char **argv) {
  tv_service service;
  memset(&service, 0, sizeof service);
  static vault_hooks hooks_ctx;
  tv_daemon_hooks hooks = {open_vault, close_vault, &hooks_ctx};
  return tv_daemon_run(argc, argv, &service, &hooks);
}
