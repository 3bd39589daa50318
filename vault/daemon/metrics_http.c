#include "vault/daemon/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

struct tv_metrics_http {
  struct MHD_Daemon *daemon;
  tv_metrics_http_config config;
  int port;
};

static const char content_type_metrics[] = "text/plain; version=0.0.4; charset=utf-8";

/* ---- the listening socket ---- */

/* Splits "host:port" or "[v6]:port" into |host| and |port|. */
static int split_listen(const char *addr, char *host, size_t host_len, const char **out_port) {
  const char *start = addr;
  const char *end;
  if (addr[0] == '[') {
    start = addr + 1;
    end = strchr(start, ']');
    if (end == NULL || end[1] != ':') {
      return 0;
    }
    *out_port = end + 2;
  } else {
    end = strrchr(addr, ':');
    if (end == NULL) {
      return 0;
    }
    *out_port = end + 1;
  }
  size_t len = (size_t)(end - start);
  if (len == 0 || len >= host_len || **out_port == '\0') {
    return 0;
  }
  memcpy(host, start, len);
  host[len] = '\0';
  return 1;
}

static int port_valid(const char *port) {
  size_t n = strspn(port, "0123456789");
  return n > 0 && n <= 5 && port[n] == '\0' && atoi(port) <= 65535;
}

static int bound_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
    return -1;
  }
  if (ss.ss_family == AF_INET6) {
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Binds and listens ourselves (rather than letting the library do it) so
 * a failure carries the errno text and port 0 can be read back. */
static int open_listener(const char *addr, char *out_err, size_t out_err_len) {
  char host[256];
  const char *port = NULL;
  if (!split_listen(addr, host, sizeof host, &port)) {
    snprintf(out_err, out_err_len, "metrics address %s is not host:port or [v6]:port", addr);
    return -1;
  }
  if (!port_valid(port)) {
    snprintf(out_err, out_err_len, "metrics address %s: the port is not a number from 0 to 65535", addr);
    return -1;
  }
  /* Numeric hosts only (and localhost): start-up never waits on DNS and
   * a name can not silently resolve to a public interface. */
  int numeric = strcmp(host, "localhost") != 0;
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0)};
  struct addrinfo *ai = NULL;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0) {
    snprintf(out_err, out_err_len, "metrics address %s: %s", addr, gai_strerror(gai));
    return -1;
  }
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
    snprintf(out_err, out_err_len, "cannot listen for metrics on %s: %s", addr, strerror(errno));
    if (fd >= 0) {
      close(fd);
    }
    fd = -1;
  }
  freeaddrinfo(ai);
  return fd;
}

/* ---- requests ---- */

static enum MHD_Result queue_static(struct MHD_Connection *conn, unsigned int code, const char *body) {
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                           MHD_RESPMEM_PERSISTENT);
  if (r == NULL) {
    return MHD_NO;
  }
  (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  enum MHD_Result ret = MHD_queue_response(conn, code, r);
  MHD_destroy_response(r);
  return ret;
}

/* 200 "SERVING", or 503 "NOT_SERVING" and the reason (e.g.
 * "NOT_SERVING AUDIT_NO_SPACE: the audit log's disk is full ..."), so
 * whoever looks at a failing probe sees why. */
static enum MHD_Result serve_health(tv_metrics_http *h, struct MHD_Connection *conn) {
  char reason[200] = "";
  if (h->config.ready(h->config.ctx, reason, sizeof reason)) {
    return queue_static(conn, MHD_HTTP_OK, "SERVING\n");
  }
  char body[256];
  snprintf(body, sizeof body, "NOT_SERVING%s%s\n", reason[0] != '\0' ? " " : "", reason);
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
  if (r == NULL) {
    return MHD_NO;
  }
  (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result serve_metrics(tv_metrics_http *h, struct MHD_Connection *conn) {
  tv_metrics_text text = {0};
  h->config.render(h->config.ctx, &text);
  if (text.failed || text.data == NULL) {
    tv_metrics_text_cleanup(&text);
    return queue_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics could not be rendered\n");
  }
  /* MUST_FREE: the library frees the buffer with free() once sent. */
  struct MHD_Response *r = MHD_create_response_from_buffer(text.len, text.data, MHD_RESPMEM_MUST_FREE);
  if (r == NULL) {
    tv_metrics_text_cleanup(&text);
    return MHD_NO;
  }
  (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type_metrics);
  enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  tv_metrics_http *h = cls;
  (void)version;
  (void)upload_data;
  (void)con_cls;
  if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
    return queue_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
  }
  if (*upload_data_size != 0) {
    return MHD_NO; /* a GET with a body: drop the connection */
  }
  if (strcmp(url, "/metrics") == 0) {
    return serve_metrics(h, conn);
  }
  if (strcmp(url, "/healthz") == 0) {
    return serve_health(h, conn);
  }
  return queue_static(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /healthz\n");
}

/* ---- lifecycle ---- */

tv_status tv_metrics_http_start(tv_metrics_http **out, const tv_metrics_http_config *config, char *out_err,
                                size_t out_err_len) {
  TV_ENSURE(out != NULL && config != NULL && config->listen != NULL && config->render != NULL &&
                config->ready != NULL,
            TV_E_INVALID_ARGUMENT);
  *out = NULL;
  int fd = open_listener(config->listen, out_err, out_err_len);
  if (fd < 0) {
    return TV_E_SERVER_CONFIG;
  }
  tv_metrics_http *h = calloc(1, sizeof *h);
  if (h == NULL) {
    close(fd);
    return TV_E_NO_MEMORY;
  }
  h->config = *config;
  h->port = bound_port(fd);
  /* One internal thread with poll(): scrapes are rare and small. The
   * library owns |fd| from here and closes it in MHD_stop_daemon. */
  h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, on_request, h,
                               MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
                               (unsigned int)TV_METRICS_HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
                               (unsigned int)TV_METRICS_HTTP_TIMEOUT_S, MHD_OPTION_END);
  if (h->daemon == NULL) {
    snprintf(out_err, out_err_len, "the HTTP library could not start the metrics server on %s", config->listen);
    close(fd);
    free(h);
    return TV_E_INTERNAL;
  }
  *out = h;
  return TV_OK;
}

int tv_metrics_http_port(const tv_metrics_http *h) {
  return h->port;
}

void tv_metrics_http_stop(tv_metrics_http *h) {
  if (h == NULL) {
    return;
  }
  MHD_stop_daemon(h->daemon);
  free(h);
}
