/* SIGHUP for an open vault: re-read the config file and publish its
 * policy (roles, principals, limits) atomically; audit the reload. */
#ifndef TV_DAEMON_RELOAD_H
#define TV_DAEMON_RELOAD_H

#include "vault/daemon/settings.h"
#include "vault/daemon/vault_open.h"

/* tv_vault_reload loads settings->config_path. A file that does not load
 * or validate is refused with a log line naming the key, and the policy
 * in use stays. Otherwise the new policy is swapped in (calls already
 * checking keep the old one until they finish; reveal counters carry
 * over); changes to what needs a restart (namespaces, hsm, data_dir,
 * audit, listen, tls paths) are named in a log line and not applied. Either way an
 * audit entry (method "Reload", principal "operator:SIGHUP") records the
 * outcome of the policy and of |tls_outcome|. Returns the policy's
 * status: TV_OK, TV_E_SERVER_CONFIG (nothing to reload or refused). */
tv_status tv_vault_reload(tv_vault *vault, const tv_settings *settings, const char *tls_outcome);

#endif
