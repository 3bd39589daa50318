/* The tokenvaultd process around a tv_service: command line, TLS files,
 * signals, logs, drain on SIGTERM. main() of tokenvaultd calls it with the
 * service it has (today: none wired; tests: a fake engine). */
#ifndef TV_DAEMON_DAEMON_H
#define TV_DAEMON_DAEMON_H

#include <stddef.h>

#include "vault/daemon/options.h"
#include "vault/daemon/settings.h"
#include "vault/service/service.h"

/* What the process serves from, opened after the command line is read and
 * signals are blocked (so its threads inherit the mask), closed after the
 * server has drained every call. */
typedef struct tv_daemon_hooks {
  /* Opens the backend for |settings| (it may take the config's policy)
   * and fills |service|'s handlers. Not TV_OK: the process exits (2 for
   * TV_E_SERVER_CONFIG, else 1) with |err|. */
  tv_status (*open)(void *ctx, tv_settings *settings, tv_service *service, char *err, size_t err_len);
  /* Closes what open opened; returns 0 or 1 if closing failed. */
  int (*close)(void *ctx);
  void *ctx;
  /* SIGHUP, after the TLS files were re-read (|tls_outcome|: "OK",
   * "REFUSED" or "NONE"): re-read the policy; may be NULL. */
  void (*reload)(void *ctx, const tv_settings *settings, const char *tls_outcome);
  /* SIGTERM/SIGINT, before the drain starts (readiness probes turn
   * unready while calls drain); may be NULL. */
  void (*draining)(void *ctx);
  /* SIGUSR1: start an online backup; must return at once (the main thread
   * goes back to waiting for signals). May be NULL: SIGUSR1 is ignored. */
  void (*backup)(void *ctx);
} tv_daemon_hooks;

/* tv_daemon_run is tv_daemon_main with |hooks| (may be NULL). */
int tv_daemon_run(int argc, char **argv, const tv_service *service, const tv_daemon_hooks *hooks);

/* tv_daemon_main runs the server for |service| until SIGTERM or SIGINT and
 * returns the process exit status: 0 after a clean drain, 2 for a usage or
 * configuration error, 1 for a failure at run time. */
int tv_daemon_main(int argc, char **argv, const tv_service *service);

#endif
