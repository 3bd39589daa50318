#include "vault/daemon/metrics_daemon.h"

#include <stdio.h>
#include <string.h>

#include "vault/service/log.h"
#include "vault/daemon/metrics_process.h"
#include "vault/daemon/metrics_vault.h"
#include "vault/service/readiness.h"

static void render(void *ctx, tv_metrics_text *out) {
  tv_metrics_daemon *md = ctx;
  tv_metrics_render_build(out);
  tv_process_metrics process;
  if (tv_process_metrics_read(&process) == TV_OK) {
    tv_metrics_render_process(&process, out); /* /proc unreadable: left out */
  }
  tv_metrics_render_calls(md->metrics, out);
  if (md->vault != NULL) {
    tv_metrics_render_vault(md->vault, out);
  }
}

static int ready(void *ctx, char *reason, size_t reason_len) {
  tv_metrics_daemon *md = ctx;
  if (md->vault == NULL || atomic_load(&md->draining)) {
    snprintf(reason, reason_len, "%s", md->vault == NULL ? "no vault open" : "draining");
    return 0;
  }
  tv_status why = tv_readiness_reason(md->vault->readiness);
  if (why != TV_OK) {
    snprintf(reason, reason_len, "%s: %s", tv_status_name(why), tv_status_message(why));
    return 0;
  }
  return 1;
}

tv_status tv_metrics_daemon_start(tv_metrics_daemon *md, const char *listen, int optional, tv_vault *vault,
                                  char *out_err, size_t out_err_len) {
  memset(md, 0, sizeof *md);
  atomic_init(&md->draining, 0);
  TV_TRY(tv_metrics_new(&md->metrics));
  md->vault = vault;
  tv_metrics_http_config config = {listen, render, ready, md};
  tv_status st = tv_metrics_http_start(&md->http, &config, out_err, out_err_len);
  if (st != TV_OK) {
    tv_metrics_free(md->metrics);
    memset(md, 0, sizeof *md);
    if (optional && st == TV_E_SERVER_CONFIG) {
      tv_log_message("warn", "metrics_off", out_err);
      out_err[0] = '\0';
      return TV_OK;
    }
    return st;
  }
  if (vault != NULL) {
    vault->metrics = md->metrics; /* from here svc_call counts every call */
  }
  tv_log_line line;
  tv_log_begin(&line, "info", "metrics_listening");
  tv_log_str(&line, "address", listen);
  tv_log_int(&line, "port", tv_metrics_http_port(md->http));
  tv_log_end(&line);
  return TV_OK;
}

void tv_metrics_daemon_draining(tv_metrics_daemon *md) {
  atomic_store(&md->draining, 1);
}

void tv_metrics_daemon_stop(tv_metrics_daemon *md) {
  tv_metrics_http_stop(md->http);
  md->http = NULL;
}

void tv_metrics_daemon_free(tv_metrics_daemon *md) {
  tv_metrics_daemon_stop(md);
  if (md->vault != NULL) {
    md->vault->metrics = NULL;
  }
  tv_metrics_free(md->metrics);
  memset(md, 0, sizeof *md);
}
