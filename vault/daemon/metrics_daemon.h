/* The metrics side of tokenvaultd: the registry the call path counts into,
 * the HTTP port that serves it, and the readiness /healthz reports. Kept
 * out of main.c so the daemon only starts, flags drain and stops it. */
#ifndef TV_DAEMON_METRICS_DAEMON_H
#define TV_DAEMON_METRICS_DAEMON_H

#include <stdatomic.h>
#include <stddef.h>

#include "vault/service/metrics.h"
#include "vault/daemon/metrics_http.h"
#include "vault/daemon/vault_open.h"

typedef struct tv_metrics_daemon {
  tv_metrics *metrics;
  tv_metrics_http *http;
  tv_vault *vault;      /* NULL: no vault open (/healthz answers 503) */
  atomic_int draining;  /* set on SIGTERM: /healthz answers 503 */
} tv_metrics_daemon;

/* tv_metrics_daemon_start creates the registry, serves it on |listen| and
 * logs the bound port ("metrics_listening"). |vault| (may be NULL) must
 * stay open until tv_metrics_daemon_stop; its |metrics| field is set so
 * svc_call counts into the registry. Returns TV_OK, or the status of
 * tv_metrics_http_start with a sentence in |out_err| (nothing is left
 * running then).
 *
 * |optional|: the address is a built-in default (--dev without a config
 * file asks for 127.0.0.1:9464), not the operator's choice. Then a port
 * that cannot be bound is logged ("metrics_off") and TV_OK is returned
 * with no port, so a second --dev vault on the machine (parallel tests,
 * two shells) still starts. An address the operator gave must bind. */
tv_status tv_metrics_daemon_start(tv_metrics_daemon *md, const char *listen, int optional, tv_vault *vault,
                                  char *out_err, size_t out_err_len);

/* tv_metrics_daemon_draining makes /healthz answer 503 from now on, so
 * probes take the pod out of rotation while calls drain. */
void tv_metrics_daemon_draining(tv_metrics_daemon *md);

/* tv_metrics_daemon_stop closes the port: no scrape reads the vault
 * afterwards, so it can be closed. The registry stays (calls finishing
 * while the vault closes still count into it). Accepts a daemon that was
 * never started. */
void tv_metrics_daemon_stop(tv_metrics_daemon *md);

/* tv_metrics_daemon_free frees the registry once the vault is closed (no
 * call can count any more). Accepts a daemon that was never started. */
void tv_metrics_daemon_free(tv_metrics_daemon *md);

#endif
