#include "vault/server/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "vault/server/log.h"
#include "vault/server/options.h"
#include "vault/server/server.h"
#include "vault/server/tls_files.h"
#include "vault/util/secure_mem.h"

/* Signals are taken synchronously by the main thread with sigwait; every
 * other thread (gRPC's and ours) inherits the blocked mask. */
static void block_signals(sigset_t *out_set) {
  sigemptyset(out_set);
  sigaddset(out_set, SIGTERM);
  sigaddset(out_set, SIGINT);
  sigaddset(out_set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, out_set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static void wait_for_stop(const sigset_t *set) {
  for (;;) {
    int sig = 0;
    if (sigwait(set, &sig) != 0) {
      continue;
    }
    if (sig == SIGHUP) {
      tv_log_message("warn", "reload", "SIGHUP: policy and certificate reload is not implemented yet");
      continue;
    }
    tv_log_line line;
    tv_log_begin(&line, "info", "stopping");
    tv_log_str(&line, "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    tv_log_end(&line);
    return;
  }
}

static void log_start(const tv_options *o, int port) {
  tv_log_line line;
  tv_log_begin(&line, "info", "listening");
  tv_log_str(&line, "address", o->listen);
  tv_log_int(&line, "port", port);
  tv_log_str(&line, "mode", o->dev ? "dev-plaintext" : "mtls");
  tv_log_str(&line, "data_dir", o->data_dir);
  tv_log_end(&line);
  if (o->dev) {
    tv_log_message("warn", "dev_mode", "plaintext without client authentication: for development only");
  }
  if (o->config != NULL) {
    tv_log_message("warn", "config", "--config accepted but configuration parsing is not implemented yet");
  }
}

static int fail(const char *event, const char *msg, int code) {
  tv_log_message("error", event, msg);
  return code;
}

int tv_daemon_main(int argc, char **argv, const tv_service *service) {
  return tv_daemon_run(argc, argv, service, NULL);
}

static int close_hooks(const tv_daemon_hooks *hooks) {
  return hooks != NULL && hooks->close != NULL ? hooks->close(hooks->ctx) : 0;
}

int tv_daemon_run(int argc, char **argv, const tv_service *base_service, const tv_daemon_hooks *hooks) {
  if (tv_harden_process() != 0) {
    tv_log_message("warn", "harden", "could not disable core dumps");
  }
  char err[512];
  tv_options opts;
  if (tv_options_parse(&opts, argc, argv, err, sizeof err) != TV_OK) {
    fputs(tv_options_usage, stderr);
    return fail("usage", err, 2);
  }
  if (opts.help) {
    fputs(tv_options_usage, stdout);
    return 0;
  }
  if (opts.config != NULL && access(opts.config, R_OK) != 0) {
    return fail("config", "--config file is not readable", 2);
  }
  sigset_t set;
  block_signals(&set);
  tv_tls_files tls = {0};
  if (!opts.dev && tv_tls_files_load(&tls, opts.tls_cert, opts.tls_key, opts.tls_ca, err, sizeof err) != TV_OK) {
    return fail("tls", err, 2);
  }
  tv_service svc = *base_service;
  const tv_service *service = &svc;
  if (hooks != NULL && hooks->open != NULL) {
    tv_status ost = hooks->open(hooks->ctx, &opts, &svc, err, sizeof err);
    if (ost != TV_OK) {
      tv_tls_files_cleanup(&tls);
      return fail("open", err[0] != '\0' ? err : tv_status_message(ost), ost == TV_E_SERVER_CONFIG ? 2 : 1);
    }
  }
  tv_server_config config = {opts.listen, tls.cert_pem, tls.key_pem, tls.ca_pem};
  tv_server *server = NULL;
  tv_status st = tv_server_start(&server, &config, service, err, sizeof err);
  tv_tls_files_cleanup(&tls); /* gRPC keeps its own copy; wipe ours now */
  if (st != TV_OK) {
    (void)close_hooks(hooks);
    return fail("start", err[0] != '\0' ? err : tv_status_message(st), st == TV_E_SERVER_CONFIG ? 2 : 1);
  }
  log_start(&opts, tv_server_port(server));
  wait_for_stop(&set);
  if (tv_server_stop(server) != TV_OK) {
    (void)close_hooks(hooks);
    return 1;
  }
  tv_log_message("info", "stopped", "all calls drained");
  return close_hooks(hooks);
}
