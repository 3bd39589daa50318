/* The `store:` and `node_id:` settings of tokenvaultd (settings.h). */
#ifndef TV_DAEMON_SETTINGS_STORE_H
#define TV_DAEMON_SETTINGS_STORE_H

#include <stddef.h>

#include "vault/daemon/settings.h"

/* tv_settings_resolve_store fills |s|'s store fields from s->config:
 * node_id (the config's, else the host name), and for backend postgres
 * the conninfo (refused, naming store.postgres.conninfo, if it holds a
 * password or does not parse) with the password file appended as libpq's
 * `passfile`. TV_E_SERVER_CONFIG with a sentence in |err| on failure. */
tv_status tv_settings_resolve_store(tv_settings *s, char *err, size_t err_len);

#endif
