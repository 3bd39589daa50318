/* HTTP calls count against the admission budget shared with the gRPC
 * port (vault/server/common/admission.h): a budget that gRPC work holds
 * full refuses an HTTP tokenize 429 SERVER_BUSY with Retry-After, before
 * its handler runs; health and WhoAmI still answer; an admitted call's
 * reservation is returned when its request ends. An NDJSON stream's lines
 * enter the same budget, forced (never refused mid-stream), each leaving
 * once answered. A real tv_http_server on loopback, a service with
 * counting Tokenize and DetokenizeStream handlers. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vault/server/common/admission.h"
#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/server/http/http_server.h"

#define ITEMS_MAX 1000

static atomic_int handled;
static atomic_int refused_reported;

static void tokenize_handler(void *impl, tv_call *call, const ProtobufCMessage *request) {
  (void)impl, (void)request;
  atomic_fetch_add(&handled, 1);
  tv_call_finish(call, TV_OK, NULL, NULL); /* "{}" */
}

/* The stream handler: what the budget held while each line was handled. */
static tv_admission *stream_budget;
static atomic_int lines_handled;
static uint64_t line_items_seen[4], line_bytes_seen[4];

static void detokenize_stream_handler(void *impl, tv_call *call, const ProtobufCMessage *request) {
  (void)impl;
  static Tokenvault__V1__DetokenizeResponse answer = TOKENVAULT__V1__DETOKENIZE_RESPONSE__INIT;
  if (request == NULL) { /* the body's end */
    tv_call_finish(call, TV_OK, NULL, NULL);
    return;
  }
  int i = atomic_fetch_add(&lines_handled, 1);
  if (i < 4) {
    tv_admission_in_flight(stream_budget, &line_items_seen[i], &line_bytes_seen[i]);
  }
  assert_int_equal(tv_call_send(call, &answer.base, NULL, NULL), TV_OK);
}

static void on_call_end(void *ctx, const tv_call_end *end) {
  (void)ctx;
  if (end->admission_refused) {
    atomic_fetch_add(&refused_reported, 1);
  }
}

/* One request on a fresh connection (Connection: close); the whole answer
 * (status line, headers, body) into |out|. */
static void exchange_request(int port, const char *method, const char *path, const char *type, const char *body,
                             char *out, size_t out_len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  struct timeval tv = {.tv_sec = 30};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char req[512];
  int n = snprintf(req, sizeof req,
                   "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   method, path, type, strlen(body), body);
  assert_int_equal(send(fd, req, (size_t)n, 0), n);
  size_t got = 0;
  ssize_t r;
  while (got + 1 < out_len && (r = recv(fd, out + got, out_len - 1 - got, 0)) > 0) {
    got += (size_t)r;
  }
  out[got] = '\0';
  close(fd);
}

static void exchange(int port, const char *method, const char *path, const char *body, char *out, size_t out_len) {
  exchange_request(port, method, path, "application/json", body, out, out_len);
}

static void exchange_typed(int port, const char *path, const char *type, const char *body, char *out,
                           size_t out_len) {
  exchange_request(port, "POST", path, type, body, out, out_len);
}

/* The reservation goes when the request ends, just after the answer. */
static void wait_idle(tv_admission *a) {
  uint64_t items = 1, bytes = 1;
  for (int i = 0; i < 200 && (items != 0 || bytes != 0); i++) {
    tv_admission_in_flight(a, &items, &bytes);
    if (items != 0 || bytes != 0) {
      nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
  }
  assert_int_equal(items, 0);
  assert_int_equal(bytes, 0);
}

static void test_shared_budget(void **state) {
  (void)state;
  tv_admission admission;
  tv_admission_init(&admission, (tv_admission_limits){ITEMS_MAX, 1u << 20});
  tv_service service = {.on_call_end = on_call_end};
  service.handlers[TV_METHOD_TOKENIZE] = (tv_handler){tokenize_handler, NULL};
  tv_http_server_config config = {.listen = "127.0.0.1:0", .admission = &admission};
  tv_http_server *server = NULL;
  char err[256] = "";
  assert_int_equal(tv_http_server_start(&server, &config, &service, err, sizeof err), TV_OK);
  int port = tv_http_server_port(server);
  const char *one = "{\"namespace\":\"pan\",\"values\":[\"4111111111111111\"]}";
  char answer[4096];

  exchange(port, "POST", "/v1/tokenize", one, answer, sizeof answer);
  assert_non_null(strstr(answer, "HTTP/1.1 200"));
  assert_int_equal(atomic_load(&handled), 1);
  wait_idle(&admission);

  /* The gRPC port holds the whole budget (a stream message is forced in). */
  assert_int_equal(tv_admission_enter(&admission, ITEMS_MAX, 100, 1, err, sizeof err), TV_OK);
  exchange(port, "POST", "/v1/tokenize", one, answer, sizeof answer);
  assert_non_null(strstr(answer, "HTTP/1.1 429"));
  assert_non_null(strstr(answer, "Retry-After: " TV_HTTP_BUSY_RETRY_AFTER_S "\r\n"));
  assert_non_null(strstr(answer, "\"name\":\"SERVER_BUSY\""));
  assert_non_null(strstr(answer, "server busy: 1000 items in flight, limit 1000; retry with backoff"));
  assert_int_equal(atomic_load(&handled), 1); /* refused before the handler */
  assert_int_equal(atomic_load(&refused_reported), 1);

  /* Probes and WhoAmI do no vault work: never refused. */
  exchange(port, "POST", "/v1/whoami", "{}", answer, sizeof answer);
  assert_non_null(strstr(answer, "HTTP/1.1 200"));
  exchange(port, "GET", "/v1/health", "", answer, sizeof answer);
  assert_non_null(strstr(answer, "HTTP/1.1 200"));

  tv_admission_leave(&admission, ITEMS_MAX, 100);
  wait_idle(&admission); /* the refused call reserved nothing */
  exchange(port, "POST", "/v1/tokenize", one, answer, sizeof answer);
  assert_non_null(strstr(answer, "HTTP/1.1 200"));
  assert_int_equal(atomic_load(&handled), 2);
  wait_idle(&admission);

  tv_http_server_stop(server);
  tv_admission_cleanup(&admission);
}

/* Two lines of 3 and 2 tokens while the gRPC port holds the whole budget:
 * both handled (forced in), each counted while handled (the held items
 * plus its tokens, the held bytes plus its line), none left after. */
static void test_stream_lines_in_budget(void **state) {
  (void)state;
  tv_admission admission;
  tv_admission_init(&admission, (tv_admission_limits){ITEMS_MAX, 1u << 20});
  stream_budget = &admission;
  tv_service service = {.on_call_end = on_call_end};
  service.handlers[TV_METHOD_DETOKENIZE_STREAM] = (tv_handler){detokenize_stream_handler, NULL};
  tv_http_server_config config = {.listen = "127.0.0.1:0", .admission = &admission};
  tv_http_server *server = NULL;
  char err[256] = "";
  assert_int_equal(tv_http_server_start(&server, &config, &service, err, sizeof err), TV_OK);
  const char line1[] = "{\"namespace\":\"pan\",\"tokens\":[\"a\",\"b\",\"c\"],\"reveal\":\"REVEAL_FULL\"}";
  const char line2[] = "{\"namespace\":\"pan\",\"tokens\":[\"d\",\"e\"],\"reveal\":\"REVEAL_FULL\"}";
  char body[512], answer[4096];
  snprintf(body, sizeof body, "%s\n%s\n", line1, line2);
  assert_int_equal(tv_admission_enter(&admission, ITEMS_MAX, 100, 1, err, sizeof err), TV_OK);
  exchange_typed(tv_http_server_port(server), "/v1/detokenize:stream", "application/x-ndjson", body, answer,
                 sizeof answer);
  assert_non_null(strstr(answer, "HTTP/1.1 200"));
  if (atomic_load(&lines_handled) != 2) {
    print_message("%s\n", answer);
  }
  assert_int_equal(atomic_load(&lines_handled), 2);
  assert_int_equal(line_items_seen[0], ITEMS_MAX + 3);
  assert_int_equal(line_bytes_seen[0], 100 + sizeof line1 - 1);
  assert_int_equal(line_items_seen[1], ITEMS_MAX + 2);
  assert_int_equal(line_bytes_seen[1], 100 + sizeof line2 - 1);
  tv_admission_leave(&admission, ITEMS_MAX, 100);
  wait_idle(&admission);
  tv_http_server_stop(server);
  tv_admission_cleanup(&admission);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_shared_budget),
                                     cmocka_unit_test(test_stream_lines_in_budget)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
