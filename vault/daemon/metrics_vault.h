/* The metrics tokenvaultd pulls from its vault at scrape time: store group
 * commits and index size (and, on postgres, the database: metrics_db.h),
 * audit log counters, key versions per namespace, the keyring generation.
 * Pulled rather than pushed so the store, audit and keyring modules stay
 * unaware of metrics and the call path pays nothing for them. */
#ifndef TV_DAEMON_METRICS_VAULT_H
#define TV_DAEMON_METRICS_VAULT_H

#include "vault/service/metrics.h"
#include "vault/daemon/vault_open.h"

/* Key versions listed per namespace; a namespace with more (years of daily
 * rotations) is reported by its first ones and counted by those. */
#define TV_METRICS_KEY_VERSIONS_MAX 64

/* Namespaces reported; bounds the stack a scrape uses. */
#define TV_METRICS_NAMESPACES_MAX 64

/* tv_metrics_render_vault appends the store, audit and keyring metrics of
 * the open |vault| to |out|. Every source it reads takes its own lock or
 * reads atomics, so this is safe while calls are served. */
void tv_metrics_render_vault(tv_vault *vault, tv_metrics_text *out);

#endif
