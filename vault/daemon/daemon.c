#include "vault/daemon/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "vault/daemon/file_modes.h"
#include "vault/service/log.h"
#include "vault/daemon/options.h"
#include "vault/server/grpc/server.h"
#include "vault/server/grpc/tls_files.h"
#include "vault/server/grpc/tls_reload.h"
#include "vault/server/http/http_server.h"
#include "vault/util/secure_mem.h"

/* Signals are taken synchronously by the main thread with sigwait; every
 * other thread (gRPC's and ours) inherits the blocked mask. */
static void block_signals(sigset_t *out_set) {
  sigemptyset(out_set);
  sigaddset(out_set, SIGTERM);
  sigaddset(out_set, SIGINT);
  sigaddset(out_set, SIGHUP);
  sigaddset(out_set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, out_set, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* A file-size limit must fail the write (the audit log then refuses
   * data calls), not kill the vault. */
  signal(SIGXFSZ, SIG_IGN);
}

static void log_tls_refused(const char *listener, const char *why) {
  tv_log_line line;
  tv_log_begin(&line, "error", "reload_tls_refused");
  tv_log_str(&line, "listener", listener);
  tv_log_str(&line, "reason", why);
  tv_log_str(&line, "kept", "the certificates in use");
  tv_log_end(&line);
}

/* SIGHUP: the TLS files (same paths) first, then the policy. A bad file
 * is refused with a log line and the old one stays in use. The gRPC port
 * checks them first (key matches certificate, CA parses); the HTTPS
 * listener then takes the same PEMs. */
static const char *reload_tls(const tv_settings *s, tv_tls_reloader *reloader, tv_http_server *http) {
  if (reloader == NULL) {
    return "NONE";
  }
  char err[512];
  tv_tls_files files = {0};
  /* Checked again on each reload: a key made world-readable since the
   * start is refused like at the start (the last good one stays). */
  tv_status st = tv_mode_check_reload_tls(s, err, sizeof err);
  if (st == TV_OK) {
    st = tv_tls_files_load(&files, s->tls_cert, s->tls_key, s->tls_ca, err, sizeof err);
  }
  if (st == TV_OK) {
    st = tv_tls_reloader_update(reloader, &files, err, sizeof err);
  }
  tv_status http_st = TV_OK;
  if (st == TV_OK && http != NULL) {
    http_st = tv_http_server_reload_tls(http, files.cert_pem, files.key_pem, files.ca_pem, err, sizeof err);
  }
  tv_tls_files_cleanup(&files);
  if (st != TV_OK || http_st != TV_OK) {
    log_tls_refused(st != TV_OK ? "all" : "http", err);
    return st != TV_OK ? "REFUSED" : "REFUSED_HTTP";
  }
  tv_log_message("info", "reload_tls", "TLS files re-read: new connections (gRPC and HTTP) get them, open ones "
                                       "keep theirs");
  return "OK";
}

static void wait_for_stop(const sigset_t *set, const tv_settings *s, tv_tls_reloader *reloader,
                          tv_http_server *http, const tv_daemon_hooks *hooks) {
  for (;;) {
    int sig = 0;
    if (sigwait(set, &sig) != 0) {
      continue;
    }
    if (sig == SIGHUP) {
      const char *tls = reload_tls(s, reloader, s->tls ? http : NULL);
      if (hooks != NULL && hooks->reload != NULL) {
        hooks->reload(hooks->ctx, s, tls);
      }
      continue;
    }
    if (sig == SIGUSR1) {
      if (hooks != NULL && hooks->backup != NULL) {
        hooks->backup(hooks->ctx);
      }
      continue;
    }
    tv_log_line line;
    tv_log_begin(&line, "info", "stopping");
    tv_log_str(&line, "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    tv_log_end(&line);
    return;
  }
}

static void log_start(const tv_settings *s, int port) {
  tv_log_line line;
  tv_log_begin(&line, "info", "listening");
  tv_log_str(&line, "address", s->listen);
  tv_log_int(&line, "port", port);
  tv_log_str(&line, "mode", s->dev ? "dev-plaintext" : s->tls ? "mtls" : "plaintext-loopback");
  tv_log_str(&line, "data_dir", s->data_dir);
  tv_log_str(&line, "config", s->config_path != NULL ? s->config_path : s->dev ? "built-in dev" : "none");
  tv_log_end(&line);
  if (s->dev) {
    tv_log_message("warn", "dev_mode", "plaintext without client authentication: for development only");
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

/* The TLS files, checked, into a reloader (gRPC keeps its own copy; ours
 * is wiped at once). */
static tv_status load_tls(const tv_settings *s, tv_tls_reloader **out, char *err, size_t err_len) {
  *out = NULL;
  if (!s->tls) {
    return TV_OK;
  }
  tv_tls_files tls = {0};
  tv_status st = tv_tls_files_load(&tls, s->tls_cert, s->tls_key, s->tls_ca, err, err_len);
  if (st == TV_OK) {
    st = tv_tls_reloader_new(out, &tls, err, err_len);
  }
  tv_tls_files_cleanup(&tls);
  return st;
}

/* The HTTP/JSON API beside the gRPC port, over the same service: HTTPS
 * with the gRPC port's certificate, key and client CA when that is mTLS
 * (read again here, the key wiped once libmicrohttpd has it), plaintext
 * only in --dev on loopback (settings.c). */
static tv_status start_http(const tv_settings *s, const tv_service *service, struct tv_admission *admission,
                            tv_http_server **out, char *err, size_t err_len) {
  *out = NULL;
  if (s->http_listen == NULL || s->http_listen[0] == '\0') {
    return TV_OK;
  }
  tv_tls_files tls = {0};
  if (s->tls) {
    TV_TRY(tv_tls_files_load(&tls, s->tls_cert, s->tls_key, s->tls_ca, err, err_len));
  }
  tv_http_server_config config = {.listen = s->http_listen, .tls_cert_pem = tls.cert_pem,
                                  .tls_key_pem = tls.key_pem, .tls_ca_pem = tls.ca_pem, .admission = admission};
  tv_status st = tv_http_server_start(out, &config, service, err, err_len);
  tv_tls_files_cleanup(&tls);
  TV_TRY(st);
  tv_log_line line;
  tv_log_begin(&line, "info", "http_listening");
  tv_log_str(&line, "address", s->http_listen);
  tv_log_int(&line, "port", tv_http_server_port(*out));
  tv_log_str(&line, "mode", s->tls ? "mtls" : "dev-plaintext");
  tv_log_end(&line);
  return TV_OK;
}

/* Serves until SIGTERM/SIGINT; |s| is resolved, the backend open. */
static int serve(tv_settings *s, const tv_service *service, tv_tls_reloader *reloader, const sigset_t *set,
                 const tv_daemon_hooks *hooks) {
  char err[512];
  tv_server_config config = {.listen = s->listen, .tls_reloader = reloader,
                             .handshake_timeout_ms = s->handshake_timeout_ms,
                             .items_in_flight_max = s->items_in_flight_max,
                             .request_bytes_in_flight_max = s->request_bytes_in_flight_max};
  tv_server *server = NULL;
  tv_status st = tv_server_start(&server, &config, service, err, sizeof err);
  if (st != TV_OK) {
    (void)close_hooks(hooks);
    return fail("start", err[0] != '\0' ? err : tv_status_message(st), st == TV_E_SERVER_CONFIG ? 2 : 1);
  }
  tv_http_server *http = NULL;
  st = start_http(s, service, tv_server_admission(server), &http, err, sizeof err); /* one budget for both */
  if (st != TV_OK) {
    (void)tv_server_stop(server);
    (void)close_hooks(hooks);
    return fail("start", err[0] != '\0' ? err : tv_status_message(st), st == TV_E_SERVER_CONFIG ? 2 : 1);
  }
  log_start(s, tv_server_port(server));
  wait_for_stop(set, s, reloader, http, hooks);
  if (hooks != NULL && hooks->draining != NULL) {
    hooks->draining(hooks->ctx);
  }
  tv_http_server_stop(http); /* its requests in progress finish: the vault is still open */
  if (tv_server_stop(server) != TV_OK) {
    (void)close_hooks(hooks);
    return 1;
  }
  tv_log_message("info", "stopped", "all calls drained");
  return close_hooks(hooks);
}

static int run_settings(tv_settings *s, const tv_service *base_service, const tv_daemon_hooks *hooks) {
  char err[1024] = ""; /* a refusal names paths and what to do */
  sigset_t set;
  block_signals(&set);
  tv_tls_reloader *reloader = NULL;
  if (load_tls(s, &reloader, err, sizeof err) != TV_OK) {
    return fail("tls", err, 2);
  }
  tv_service svc = *base_service;
  int rc = 0;
  tv_status ost = TV_OK;
  if (hooks != NULL && hooks->open != NULL && s->open_vault) {
    ost = hooks->open(hooks->ctx, s, &svc, err, sizeof err);
  } else if (!s->open_vault) {
    tv_log_message("warn", "no_vault", "no --config and no --dev: the vault is not opened, "
                                       "data and key methods answer UNIMPLEMENTED");
  }
  if (ost != TV_OK) {
    rc = fail("open", err[0] != '\0' ? err : tv_status_message(ost), ost == TV_E_SERVER_CONFIG ? 2 : 1);
  } else {
    rc = serve(s, &svc, reloader, &set, hooks);
  }
  tv_tls_reloader_free(reloader); /* the server is gone: no more handshakes */
  return rc;
}

int tv_daemon_run(int argc, char **argv, const tv_service *base_service, const tv_daemon_hooks *hooks) {
  if (tv_harden_process() != 0) {
    tv_log_message("warn", "harden", "could not disable core dumps");
  }
  char err[CONFIG_ERROR_TEXT_MAX + 64];
  tv_options opts;
  if (tv_options_parse(&opts, argc, argv, err, sizeof err) != TV_OK) {
    fputs(tv_options_usage, stderr);
    return fail("usage", err, 2);
  }
  if (opts.help) {
    fputs(tv_options_usage, stdout);
    return 0;
  }
  tv_settings settings;
  if (tv_settings_resolve(&settings, &opts, err, sizeof err) != TV_OK) {
    tv_settings_cleanup(&settings);
    return fail("config", err, 2);
  }
  if (tv_mode_check_settings(&settings, err, sizeof err) != TV_OK) {
    tv_settings_cleanup(&settings);
    return fail("permissions", err, 2);
  }
  int rc = run_settings(&settings, base_service, hooks);
  tv_settings_cleanup(&settings);
  return rc;
}
