#include "vault/daemon/reload.h"

#include <stdio.h>

#include "vault/daemon/file_modes.h"
#include "vault/service/log.h"

static void log_refused(const char *why) {
  tv_log_line line;
  tv_log_begin(&line, "error", "reload_policy_refused");
  tv_log_str(&line, "reason", why);
  tv_log_str(&line, "kept", "the policy in use");
  tv_log_end(&line);
}

static void log_restart_needed(const tv_config *old_config, const tv_config *new_config) {
  char key[64];
  if (!tv_settings_restart_needed(old_config, new_config, key, sizeof key)) {
    return;
  }
  tv_log_line line;
  tv_log_begin(&line, "warn", "reload_needs_restart");
  tv_log_str(&line, "key", key);
  tv_log_str(&line, "message", "changed in the file: takes effect only after a restart (still using the old value)");
  tv_log_end(&line);
}

/* The reload is an operator action on the vault: recorded like a call,
 * durably (the main thread may wait for it). */
static void audit_reload(tv_vault *vault, tv_status policy_status, const char *tls_outcome) {
  char outcome[64];
  snprintf(outcome, sizeof outcome, "policy=%s tls=%s", policy_status == TV_OK ? "OK" : "REFUSED", tls_outcome);
  tv_audit_entry e = {.type = TV_AUDIT_CALL,
                      .principal = "operator:SIGHUP",
                      .peer = "local",
                      .method = "Reload",
                      .code = policy_status == TV_OK ? 0u : 9u, /* gRPC OK / FAILED_PRECONDITION */
                      .outcome = outcome};
  if (tv_audit_append(vault->audit, NULL, &e) != TV_OK) {
    tv_log_message("error", "reload_audit", "the reload could not be written to the audit log");
  }
}

static tv_status reload_policy(tv_vault *vault, const tv_settings *settings) {
  if (settings->config_path == NULL) {
    log_refused("no --config file: the built-in configuration cannot change");
    return TV_E_SERVER_CONFIG;
  }
  /* A file others can write would let them grant themselves any
   * permission: refused before it is read, the old policy stays. */
  char why[512];
  if (tv_mode_check_path("config", settings->config_path, TV_PATH_TRUSTED, settings->allow_insecure_permissions,
                         why, sizeof why) != TV_OK) {
    log_refused(why);
    return TV_E_SERVER_CONFIG;
  }
  tv_config *fresh = NULL;
  config_error err;
  tv_status st = config_load(settings->config_path, &fresh, &err);
  if (st != TV_OK) {
    log_refused(err.text[0] != '\0' ? err.text : tv_status_message(st));
    return TV_E_SERVER_CONFIG;
  }
  log_restart_needed(vault->config, fresh);
  tv_policy *policy = config_take_policy(fresh);
  size_t roles = policy != NULL ? policy_role_count(policy) : 0;
  size_t principals = policy != NULL ? policy_principal_count(policy) : 0;
  st = policy != NULL ? policy_handle_swap(vault->policy, policy) : TV_E_INVALID_ARGUMENT;
  if (st != TV_OK) {
    policy_release(policy);
  }
  config_free(fresh);
  if (st != TV_OK) {
    log_refused(tv_status_message(st));
    return TV_E_SERVER_CONFIG;
  }
  tv_log_line line;
  tv_log_begin(&line, "info", "reload_policy");
  tv_log_int(&line, "roles", (long long)roles);
  tv_log_int(&line, "principals", (long long)principals);
  tv_log_end(&line);
  return TV_OK;
}

tv_status tv_vault_reload(tv_vault *vault, const tv_settings *settings, const char *tls_outcome) {
  tv_status st = reload_policy(vault, settings);
  audit_reload(vault, st, tls_outcome);
  return st;
}
