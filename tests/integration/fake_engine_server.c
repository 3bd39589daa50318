/* A tokenvaultd with a fake engine, for integration tests of the server
 * core: the real engine is not wired yet, so this stands in for it through
 * the same tv_service interface the engine adapter will implement.
 *
 * Tokenize: token = "tok_" + the value reversed; the value "bad" gets the
 *   item status FORMAT_LUHN. Metadata "delay_ms" makes a separate thread
 *   finish the call after that delay (like the storage writer will), which
 *   exercises deadlines, cancellation and the SIGTERM drain.
 * TokenizeStream: the same per message; each reply says how many requests
 *   of this stream were unanswered when it was made (must always be 1). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/daemon/daemon.h"

#define FAKE_ITEMS_MAX 1000

typedef struct fake_reply {
  Tokenvault__V1__TokenizeResponse resp;
  Tokenvault__V1__TokenizeResult results[FAKE_ITEMS_MAX];
  Tokenvault__V1__TokenizeResult *result_ptrs[FAKE_ITEMS_MAX];
  Tokenvault__V1__ItemStatus statuses[FAKE_ITEMS_MAX];
  char *tokens[FAKE_ITEMS_MAX];
  char request_id[80];
} fake_reply;

static long delay_ms_of(const Tokenvault__V1__TokenizeRequest *req) {
  for (size_t i = 0; i < req->n_metadata; i++) {
    if (strcmp(req->metadata[i]->key, "delay_ms") == 0) {
      return strtol(req->metadata[i]->value, NULL, 10);
    }
  }
  return 0;
}

static void item_status(Tokenvault__V1__ItemStatus *st, tv_status code) {
  tokenvault__v1__item_status__init(st);
  st->code = (uint32_t)code;
  st->name = (char *)(uintptr_t)tv_status_name(code);
  st->message = (char *)(uintptr_t)tv_status_message(code);
}

/* Builds the reply for |req| into |r| (heap strings freed by reply_free). */
static void reply_build(fake_reply *r, const Tokenvault__V1__TokenizeRequest *req, const char *note) {
  tokenvault__v1__tokenize_response__init(&r->resp);
  snprintf(r->request_id, sizeof r->request_id, "%s%s", req->request_id, note);
  r->resp.request_id = r->request_id;
  for (size_t i = 0; i < req->n_values && i < FAKE_ITEMS_MAX; i++) {
    const char *v = req->values[i];
    size_t len = strlen(v);
    tokenvault__v1__tokenize_result__init(&r->results[i]);
    r->tokens[i] = calloc(1, len + 5);
    if (strcmp(v, "bad") == 0) {
      item_status(&r->statuses[i], TV_E_FORMAT_LUHN);
    } else {
      memcpy(r->tokens[i], "tok_", 4);
      for (size_t k = 0; k < len; k++) {
        r->tokens[i][4 + k] = v[len - 1 - k];
      }
      item_status(&r->statuses[i], TV_OK);
    }
    r->results[i].token = r->tokens[i];
    r->results[i].status = &r->statuses[i];
    r->result_ptrs[i] = &r->results[i];
    r->resp.n_results = i + 1;
  }
  r->resp.results = r->result_ptrs;
}

static void reply_free(fake_reply *r) {
  for (size_t i = 0; i < r->resp.n_results; i++) {
    free(r->tokens[i]);
  }
  free(r);
}

typedef struct later {
  tv_call *call;
  fake_reply *reply;
  long delay_ms;
} later;

/* The "storage writer": completes the call from its own thread. */
static void *finish_later(void *arg) {
  later *l = arg;
  struct timespec ts = {l->delay_ms / 1000, (l->delay_ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  if (tv_call_is_cancelled(l->call)) {
    tv_call_finish_code(l->call, TV_CODE_CANCELLED, "cancelled while waiting", NULL);
  } else {
    tv_call_finish(l->call, TV_OK, NULL, &l->reply->resp.base);
  }
  reply_free(l->reply);
  free(l);
  return NULL;
}

static void fake_tokenize(void *impl, tv_call *call, const ProtobufCMessage *request) {
  (void)impl;
  const Tokenvault__V1__TokenizeRequest *req = (const Tokenvault__V1__TokenizeRequest *)request;
  fake_reply *r = calloc(1, sizeof *r);
  reply_build(r, req, "");
  long delay = delay_ms_of(req);
  if (delay <= 0) {
    tv_call_finish(call, TV_OK, NULL, &r->resp.base);
    reply_free(r);
    return;
  }
  later *l = calloc(1, sizeof *l);
  *l = (later){call, r, delay};
  pthread_t t;
  pthread_create(&t, NULL, finish_later, l);
  pthread_detach(t);
}

/* Per-stream count of requests handed to us and not yet answered. */
static atomic_int unanswered;

static void stream_sent(tv_call *call, int success, void *arg) {
  (void)call;
  (void)success;
  reply_free(arg);
  atomic_fetch_sub(&unanswered, 1);
}

static void fake_tokenize_stream(void *impl, tv_call *call, const ProtobufCMessage *request) {
  (void)impl;
  if (request == NULL) {
    tv_call_finish(call, TV_OK, NULL, NULL);
    return;
  }
  int now = atomic_fetch_add(&unanswered, 1) + 1;
  char note[16];
  snprintf(note, sizeof note, "#%d", now);
  fake_reply *r = calloc(1, sizeof *r);
  reply_build(r, (const Tokenvault__V1__TokenizeRequest *)request, note);
  if (tv_call_send(call, &r->resp.base, stream_sent, r) != TV_OK) {
    reply_free(r);
    atomic_fetch_sub(&unanswered, 1);
    tv_call_finish_code(call, TV_CODE_INTERNAL, "send failed", NULL);
  }
}

int main(int argc, char **argv) {
  tv_service service;
  memset(&service, 0, sizeof service);
  service.handlers[TV_METHOD_TOKENIZE] = (tv_handler){fake_tokenize, NULL};
  service.handlers[TV_METHOD_TOKENIZE_STREAM] = (tv_handler){fake_tokenize_stream, NULL};
  return tv_daemon_main(argc, argv, &service);
}
