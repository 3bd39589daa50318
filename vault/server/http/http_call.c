#include "vault/server/http/http_call.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/server/http/json_codec.h"
#include "vault/server/http/problem.h"
#include "vault/service/limits.h"
#include "vault/util/secure_mem.h"

static tv_http_call *http_call_of(tv_call *base) { return (tv_http_call *)(void *)base; }

/* Encodes the answer now: |response| is the service's and is only valid
 * during this call. */
static void op_finish(tv_call *base, tv_code code, const char *details, const ProtobufCMessage *response) {
  tv_http_call *call = http_call_of(base);
  char *text = NULL;
  size_t len = 0;
  unsigned int http = 200;
  int problem = 0;
  if (code == TV_CODE_OK && response != NULL && tv_json_message_encode(response, &text, &len) == TV_OK) {
    http = 200;
  } else if (code == TV_CODE_OK && response == NULL) {
    text = NULL; /* an empty answer: "{}" is sent */
  } else {
    problem = 1;
    tv_code c = code == TV_CODE_OK ? TV_CODE_INTERNAL : code;
    if (tv_problem_encode(c, code == TV_CODE_OK ? "INTERNAL: the answer could not be encoded" : details, &http,
                          &text, &len) != TV_OK) {
      http = 500;
    }
  }
  pthread_mutex_lock(&call->lock);
  if (call->finished) { /* only the first finish counts */
    pthread_mutex_unlock(&call->lock);
    tv_json_text_free(text);
    return;
  }
  call->finished = 1;
  call->code = code;
  call->http_status = http;
  call->answer = text;
  call->answer_len = len;
  call->answer_is_problem = problem;
  pthread_cond_signal(&call->finished_cond);
  pthread_mutex_unlock(&call->lock);
}

/* Appends |len| bytes to the collected stream answer (wiped when grown). */
static tv_status stream_append(tv_http_call *call, const char *data, size_t len) {
  if (len > TV_RESPONSE_BYTES_MAX - call->stream_len) {
    return TV_E_SERVER_REQUEST_TOO_LARGE;
  }
  if (call->stream_len + len > call->stream_cap) {
    size_t cap = call->stream_cap > 0 ? call->stream_cap : 4096;
    while (cap < call->stream_len + len) {
      cap *= 2;
    }
    char *grown = malloc(cap);
    if (grown == NULL) {
      return TV_E_NO_MEMORY;
    }
    if (call->stream != NULL) {
      memcpy(grown, call->stream, call->stream_len);
      tv_wipe(call->stream, call->stream_len);
      free(call->stream);
    }
    call->stream = grown;
    call->stream_cap = cap;
  }
  memcpy(call->stream + call->stream_len, data, len);
  call->stream_len += len;
  return TV_OK;
}

static tv_status op_send(tv_call *base, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg) {
  tv_http_call *call = http_call_of(base);
  if (call->ex.method->kind != TV_METHOD_SERVER_STREAMING) {
    return TV_E_INTERNAL; /* the bidi streams are not served over HTTP */
  }
  char *text = NULL;
  size_t len = 0;
  TV_TRY(tv_json_message_encode(msg, &text, &len));
  pthread_mutex_lock(&call->lock);
  tv_status st = call->finished || call->send_pending ? TV_E_INTERNAL : TV_OK;
  if (st == TV_OK) {
    st = stream_append(call, call->stream_len == 0 ? "{\"entries\":[" : ",", call->stream_len == 0 ? 12 : 1);
  }
  if (st == TV_OK) {
    st = stream_append(call, text, len);
  }
  if (st == TV_OK) {
    call->pending_sent = on_sent;
    call->pending_arg = arg;
    call->send_pending = 1;
    pthread_cond_signal(&call->finished_cond);
  }
  pthread_mutex_unlock(&call->lock);
  tv_json_text_free(text);
  return st;
}

static int op_on_close(tv_call *base, tv_close_fn fn, void *arg) {
  (void)base, (void)fn, (void)arg;
  return 1; /* unary calls only: the caller handles the end itself */
}

static const tv_call_ops http_call_ops = {
    .identity = tv_http_exchange_identity,
    .method = tv_http_exchange_method,
    .peer = tv_http_exchange_peer,
    .is_cancelled = tv_http_exchange_is_cancelled,
    .deadline_ms = tv_http_exchange_deadline_ms,
    .finish = op_finish,
    .send = op_send,
    .on_close = op_on_close,
};

tv_http_call *tv_http_call_new(const tv_http_route *route, const atomic_int *stopping, const char *peer_text) {
  tv_http_call *call = calloc(1, sizeof *call);
  if (call == NULL) {
    return NULL;
  }
  /* Plaintext until the server sets the certificate's identity. */
  tv_http_exchange_init(&call->ex, &http_call_ops, tv_method_get(route->id), stopping, peer_text, NULL);
  call->route = route;
  pthread_mutex_init(&call->lock, NULL);
  pthread_cond_init(&call->finished_cond, NULL);
  return call;
}

/* Runs a pending send's on_sent on this (the connection's) thread;
 * called with the lock held, returns with it held. */
static void run_pending_sent(tv_http_call *call, int success) {
  tv_sent_fn fn = call->pending_sent;
  void *arg = call->pending_arg;
  call->send_pending = 0;
  call->pending_sent = NULL;
  pthread_mutex_unlock(&call->lock);
  if (fn != NULL) {
    fn(&call->ex.base, success, arg);
  }
  pthread_mutex_lock(&call->lock);
}

/* A server-streaming call that ended OK answers what it sent. */
static void answer_stream(tv_http_call *call) {
  if (call->code != TV_CODE_OK || call->answer != NULL) {
    return;
  }
  if (call->stream_len == 0 ? stream_append(call, "{\"entries\":[", 12) != TV_OK : 0) {
    return;
  }
  if (stream_append(call, "]}", 2) == TV_OK) {
    call->answer = call->stream; /* wiped and freed with the answer */
    call->answer_len = call->stream_len;
    call->stream = NULL;
    call->stream_len = call->stream_cap = 0;
  }
}

void tv_http_call_run(tv_http_call *call, const tv_handler *handler) {
  assert(handler->fn != NULL && call->request.msg != NULL);
  call->handled = 1;
  handler->fn(handler->impl, &call->ex.base, call->request.msg);
  pthread_mutex_lock(&call->lock);
  while (!call->finished) { /* the handler contract: finished exactly once */
    if (call->send_pending) {
      run_pending_sent(call, 1);
      continue;
    }
    pthread_cond_wait(&call->finished_cond, &call->lock);
  }
  if (call->send_pending) { /* finished with a send outstanding: tell its sender */
    run_pending_sent(call, 0);
  }
  if (call->ex.method->kind == TV_METHOD_SERVER_STREAMING) {
    answer_stream(call);
  }
  pthread_mutex_unlock(&call->lock);
}

void tv_http_call_answer_problem(tv_http_call *call, tv_status status, const char *detail) {
  char details[TV_ERROR_TEXT_BYTES_MAX + 64];
  snprintf(details, sizeof details, "%s: %s", tv_status_name(status),
           detail != NULL && detail[0] != '\0' ? detail : tv_status_message(status));
  op_finish(&call->ex.base, tv_status_to_code(status), details, NULL);
}

void tv_http_call_body_append(tv_http_call *call, const char *data, size_t len) {
  if (call->body_too_large || len > TV_HTTP_BODY_BYTES_MAX - call->body_len) {
    call->body_too_large = 1;
    return;
  }
  if (call->body_len + len > call->body_cap) {
    /* Grown by hand rather than realloc: the old copy is wiped. */
    size_t cap = call->body_cap > 0 ? call->body_cap : 4096;
    while (cap < call->body_len + len) {
      cap *= 2;
    }
    cap = cap < TV_HTTP_BODY_BYTES_MAX ? cap : TV_HTTP_BODY_BYTES_MAX;
    char *grown = malloc(cap);
    if (grown == NULL) {
      call->body_too_large = 1;
      return;
    }
    if (call->body != NULL) {
      memcpy(grown, call->body, call->body_len);
      tv_wipe(call->body, call->body_len);
      free(call->body);
    }
    call->body = grown;
    call->body_cap = cap;
  }
  memcpy(call->body + call->body_len, data, len);
  call->body_len += len;
}


void tv_http_call_free(tv_http_call *call) {
  if (call == NULL) {
    return;
  }
  tv_request_cleanup(&call->request);
  if (call->body != NULL) {
    tv_wipe(call->body, call->body_len);
    free(call->body);
  }
  tv_json_text_free(call->answer);
  if (call->stream != NULL) {
    tv_wipe(call->stream, call->stream_len);
    free(call->stream);
  }
  pthread_cond_destroy(&call->finished_cond);
  pthread_mutex_destroy(&call->lock);
  free(call);
}
