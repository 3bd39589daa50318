/* The metrics port over real sockets: /metrics with the exposition content
 * type, /healthz following readiness, 404 and 405, port 0, and clear
 * start-up errors for a port in use and malformed addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "vault/daemon/metrics_http.h"

typedef struct fake {
  int ready;
  int renders;
} fake;

static void fake_render(void *ctx, tv_metrics_text *out) {
  fake *f = ctx;
  f->renders++;
  tv_metrics_text_printf(out, "# TYPE x counter\nx %d\n", f->renders);
}

static int fake_ready(void *ctx, char *reason, size_t reason_len) {
  snprintf(reason, reason_len, "AUDIT_NO_SPACE: disk full");
  return ((fake *)ctx)->ready;
}

/* Sends |request| to 127.0.0.1:|port| and reads the whole answer (the
 * request asks for Connection: close) into |out|. */
static void http(int port, const char *request, char *out, size_t out_len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
  size_t len = 0;
  ssize_t n;
  while (len < out_len - 1 && (n = read(fd, out + len, out_len - 1 - len)) > 0) {
    len += (size_t)n;
  }
  out[len] = '\0';
  close(fd);
}

static void get(int port, const char *path, char *out, size_t out_len) {
  char req[256];
  snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
  http(port, req, out, out_len);
}

static tv_metrics_http *start(fake *f, const char *listen) {
  tv_metrics_http_config config = {listen, fake_render, fake_ready, f};
  tv_metrics_http *h = NULL;
  char err[256];
  assert_int_equal(tv_metrics_http_start(&h, &config, err, sizeof err), TV_OK);
  assert_true(tv_metrics_http_port(h) > 0);
  return h;
}

static void test_metrics_and_healthz(void **state) {
  (void)state;
  fake f = {1, 0};
  tv_metrics_http *h = start(&f, "127.0.0.1:0");
  int port = tv_metrics_http_port(h);
  char out[4096];
  get(port, "/metrics", out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 200"));
  assert_non_null(strstr(out, "text/plain; version=0.0.4"));
  assert_non_null(strstr(out, "\r\n\r\n# TYPE x counter\nx 1\n"));
  get(port, "/metrics", out, sizeof out);
  assert_non_null(strstr(out, "x 2\n")); /* rendered afresh per scrape */
  get(port, "/healthz", out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 200"));
  assert_non_null(strstr(out, "SERVING"));
  f.ready = 0;
  get(port, "/healthz", out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 503"));
  assert_non_null(strstr(out, "NOT_SERVING AUDIT_NO_SPACE: disk full\n")); /* the reason, for whoever looks */
  tv_metrics_http_stop(h);
}

static void test_unknown_path_and_method(void **state) {
  (void)state;
  fake f = {1, 0};
  tv_metrics_http *h = start(&f, "127.0.0.1:0");
  int port = tv_metrics_http_port(h);
  char out[4096];
  get(port, "/metricsx", out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 404"));
  http(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 405"));
  http(port, "garbage\r\n\r\n", out, sizeof out);
  assert_null(strstr(out, "HTTP/1.1 200"));
  assert_int_equal(f.renders, 0); /* none of these rendered */
  get(port, "/metrics", out, sizeof out); /* still serving after garbage */
  assert_non_null(strstr(out, "HTTP/1.1 200"));
  tv_metrics_http_stop(h);
}

static void test_port_in_use(void **state) {
  (void)state;
  fake f = {1, 0};
  tv_metrics_http *h = start(&f, "127.0.0.1:0");
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", tv_metrics_http_port(h));
  tv_metrics_http_config config = {listen, fake_render, fake_ready, &f};
  tv_metrics_http *second = NULL;
  char err[256] = "";
  assert_int_equal(tv_metrics_http_start(&second, &config, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_null(second);
  assert_non_null(strstr(err, "cannot listen for metrics on"));
  assert_non_null(strstr(err, "in use"));
  tv_metrics_http_stop(h);
  tv_metrics_http_stop(NULL);
}

static void test_bad_addresses(void **state) {
  (void)state;
  fake f = {1, 0};
  static const char *const bad[] = {"", "9464", "127.0.0.1:", ":9464", "[::1]9464", "[::1", "nohost.invalid.:1",
                                    "127.0.0.1:notaport", "127.0.0.1:70000"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tv_metrics_http_config config = {bad[i], fake_render, fake_ready, &f};
    tv_metrics_http *h = NULL;
    char err[256] = "";
    assert_int_equal(tv_metrics_http_start(&h, &config, err, sizeof err), TV_E_SERVER_CONFIG);
    assert_null(h);
    assert_true(strlen(err) > 0);
  }
  tv_metrics_http_config none = {NULL, fake_render, fake_ready, &f};
  tv_metrics_http *h = NULL;
  char err[64];
  assert_int_equal(tv_metrics_http_start(&h, &none, err, sizeof err), TV_E_INVALID_ARGUMENT);
}

/* Set when the machine has no IPv6 loopback: main then exits 77 (skip). */
static int ipv6_missing;

/* ipv6_loopback_configured binds a plain socket to [::1]:0. Only "no IPv6
 * here" (no address family, no ::1 address) counts as absent; any other
 * error fails the test rather than hide a problem as a skip. */
static int ipv6_loopback_configured(void) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) {
    if (errno == EAFNOSUPPORT) {
      return 0;
    }
    fail_msg("socket(AF_INET6): %s", strerror(errno));
  }
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
  int err = errno;
  close(fd);
  if (rc != 0 && err != EADDRNOTAVAIL) {
    fail_msg("bind([::1]:0): %s", strerror(err));
  }
  return rc == 0;
}

static void test_ipv6_loopback(void **state) {
  (void)state;
  if (!ipv6_loopback_configured()) {
    ipv6_missing = 1;
    return;
  }
  fake f = {1, 0};
  tv_metrics_http_config config = {"[::1]:0", fake_render, fake_ready, &f};
  tv_metrics_http *h = NULL;
  char err[256] = "";
  tv_status st = tv_metrics_http_start(&h, &config, err, sizeof err);
  if (st != TV_OK) {
    fail_msg("[::1]:0 is configured here but the start failed: %s (%s)", tv_status_name(st), err);
  }
  assert_true(tv_metrics_http_port(h) > 0);
  tv_metrics_http_stop(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics_and_healthz),
      cmocka_unit_test(test_unknown_path_and_method),
      cmocka_unit_test(test_port_in_use),
      cmocka_unit_test(test_bad_addresses),
      cmocka_unit_test(test_ipv6_loopback),
  };
  int failures = cmocka_run_group_tests(tests, NULL, NULL);
  if (failures == 0 && ipv6_missing) {
    printf("SKIPPED: test_ipv6_loopback: no IPv6 loopback on this machine\n");
    return 77;
  }
  return failures == 0 ? 0 : 1;
}
