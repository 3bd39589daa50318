/* The metrics port: GET /metrics (Prometheus text format 0.0.4) and GET
 * /healthz (200 "SERVING" / 503 "NOT_SERVING[ REASON: why]") over plain HTTP, served by
 * libmicrohttpd on one internal thread. A separate port because Prometheus
 * and Kubernetes probes have no client certificate for the mTLS gRPC port;
 * it must therefore never expose a value, token or secret. */
#ifndef TV_DAEMON_METRICS_HTTP_H
#define TV_DAEMON_METRICS_HTTP_H

#include <stddef.h>

#include "vault/service/metrics.h"
#include "vault/util/status.h"

/* Connections served at once and their idle timeout: a scraper and a few
 * probes need little, and a client that holds sockets open cannot starve
 * the others for long. */
#define TV_METRICS_HTTP_CONNECTIONS_MAX 16
#define TV_METRICS_HTTP_TIMEOUT_S 10

typedef struct tv_metrics_http tv_metrics_http;

typedef struct tv_metrics_http_config {
  const char *listen; /* "127.0.0.1:9464", "[::1]:0", "0.0.0.0:9464"; port 0 picks one */
  /* Appends the whole exposition to |out|; runs on the HTTP thread. */
  void (*render)(void *ctx, tv_metrics_text *out);
  /* Returns 1 when /healthz should answer 200; else may write why into
   * |reason| (one line, no newline; left "" for a bare NOT_SERVING). */
  int (*ready)(void *ctx, char *reason, size_t reason_len);
  void *ctx;
} tv_metrics_http_config;

/* tv_metrics_http_start binds |config->listen| and serves until
 * tv_metrics_http_stop. Returns TV_OK with |*out|; TV_E_SERVER_CONFIG with
 * a sentence in |out_err| if the address is malformed or cannot be bound
 * (in use, not local); TV_E_NO_MEMORY; TV_E_INTERNAL if the HTTP library
 * refuses to start. */
tv_status tv_metrics_http_start(tv_metrics_http **out, const tv_metrics_http_config *config, char *out_err,
                                size_t out_err_len);

/* tv_metrics_http_port returns the bound TCP port (useful with port 0). */
int tv_metrics_http_port(const tv_metrics_http *http);

/* tv_metrics_http_stop closes the port, waits for the HTTP thread (no
 * render runs afterwards) and frees |http|; accepts NULL. */
void tv_metrics_http_stop(tv_metrics_http *http);

#endif
