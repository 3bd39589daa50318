#include "vault/server/http/ndjson_stream.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vault/server/common/admission.h"
#include "vault/server/common/request_decode.h"
#include "vault/server/http/http_exchange.h"
#include "vault/server/http/json_codec.h"
#include "vault/server/http/ndjson_spool.h"
#include "vault/server/http/problem.h"
#include "vault/service/limits.h"

struct tv_ndjson_stream {
  tv_http_exchange ex; /* first: the service's view (its ops: how tv_ndjson_stream_of knows one) */
  const tv_service *service;
  tv_admission *admission; /* shared with the gRPC port; NULL: none */
  uint64_t admitted_items, admitted_bytes; /* the current line's reservation */
  tv_ndjson_spool *spool;
  int queued;  /* the chunked answer is queued */
  int handled; /* the handler ran for at least one line */
  int ended;   /* no line after the one in |out| */
  int abort;   /* ended without its problem line (out of memory): cut the answer */
  tv_request request; /* the current line's, alive until its answer is taken */
  uint64_t line_no;   /* the current line's number */
  /* Set by the service, from any thread (the audit writer's, usually). */
  pthread_mutex_t lock;
  pthread_cond_t answered;
  int finished;
  tv_code code;
  char details[TV_ERROR_TEXT_BYTES_MAX + 64];
  const ProtobufCMessage *pending_msg; /* valid until its on_sent ran */
  tv_sent_fn pending_sent;
  void *pending_arg;
  int send_pending;
  /* The answer line being handed to libmicrohttpd, then its "\n". */
  char *out; /* wiped when freed (tv_json_text_free): it holds values */
  size_t out_len;
  size_t out_pos;
  int newline_due;
};

/* ---- the tv_call the service sees ---- */

static tv_ndjson_stream *stream_of(tv_call *base) { return (tv_ndjson_stream *)(void *)base; }

/* Ends the stream: a failure becomes the problem line, made by the
 * connection thread once it wakes. A stream's handler never finishes OK
 * with a response (each line's answer is a send); one that did would
 * only end the stream. */
static void op_finish(tv_call *base, tv_code code, const char *details, const ProtobufCMessage *response) {
  (void)response;
  tv_ndjson_stream *st = stream_of(base);
  pthread_mutex_lock(&st->lock);
  if (!st->finished) { /* only the first finish counts */
    st->finished = 1;
    st->code = code;
    snprintf(st->details, sizeof st->details, "%s", details != NULL ? details : "");
    pthread_cond_signal(&st->answered);
  }
  pthread_mutex_unlock(&st->lock);
}

/* A line's answer: encoded on the connection thread, which runs |on_sent|
 * once it has the text (never inside this call: the sender may send
 * again from on_sent). */
static tv_status op_send(tv_call *base, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg) {
  tv_ndjson_stream *st = stream_of(base);
  pthread_mutex_lock(&st->lock);
  tv_status status = st->finished || st->send_pending ? TV_E_INTERNAL : TV_OK;
  if (status == TV_OK) {
    st->pending_msg = msg;
    st->pending_sent = on_sent;
    st->pending_arg = arg;
    st->send_pending = 1;
    pthread_cond_signal(&st->answered);
  }
  pthread_mutex_unlock(&st->lock);
  return status;
}

static int op_on_close(tv_call *base, tv_close_fn fn, void *arg) {
  (void)base, (void)fn, (void)arg;
  return 1; /* the caller handles the end itself */
}

static const tv_call_ops ndjson_call_ops = {
    .identity = tv_http_exchange_identity,
    .method = tv_http_exchange_method,
    .peer = tv_http_exchange_peer,
    .is_cancelled = tv_http_exchange_is_cancelled,
    .deadline_ms = tv_http_exchange_deadline_ms,
    .finish = op_finish,
    .send = op_send,
    .on_close = op_on_close,
};

/* ---- answer lines ---- */

static void out_reset(tv_ndjson_stream *st) {
  tv_json_text_free(st->out);
  st->out = NULL;
  st->out_len = st->out_pos = 0;
  st->newline_due = 0;
}

static void out_set(tv_ndjson_stream *st, char *text, size_t len) {
  out_reset(st);
  st->out = text;
  st->out_len = len;
  st->newline_due = 1;
}

/* The problem line that ends the stream: the problem+json fields, plus
 * the number of the line it answers. */
static void end_with_problem(tv_ndjson_stream *st, tv_code code, const char *details) {
  st->ended = 1;
  pthread_mutex_lock(&st->lock);
  if (!st->finished) {
    st->finished = 1;
    st->code = code;
  }
  pthread_mutex_unlock(&st->lock);
  unsigned int http = 0;
  char *text = NULL;
  size_t len = 0;
  st->abort = 1; /* until the line is made */
  if (tv_problem_encode(code, details, &http, &text, &len) != TV_OK) {
    return;
  }
  json_t *problem = json_loadb(text, len, 0, NULL);
  tv_json_text_free(text);
  if (problem == NULL || json_object_set_new(problem, "line", json_integer((json_int_t)st->line_no)) != 0) {
    json_decref(problem);
    return;
  }
  text = json_dumps(problem, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(problem);
  if (text != NULL) {
    out_set(st, text, strlen(text));
    st->abort = 0;
  }
}

static void end_with_status(tv_ndjson_stream *st, tv_status status, const char *sentence) {
  char details[TV_ERROR_TEXT_BYTES_MAX + 64];
  snprintf(details, sizeof details, "%s: %s", tv_status_name(status),
           sentence != NULL && sentence[0] != '\0' ? sentence : tv_status_message(status));
  end_with_problem(st, tv_status_to_code(status), details);
}

/* The line just decoded enters the shared admission budget as a gRPC
 * stream message does: forced (a stream is never refused mid-way, so a
 * bulk job is not cut half-way; unary calls are refused first instead),
 * and it leaves once its answer is taken. */
static void admit_line(tv_ndjson_stream *st, size_t line_len) {
  if (st->admission == NULL) {
    return;
  }
  size_t items = tv_request_count_items(st->request.msg);
  st->admitted_items = items > 0 ? items : 1;
  st->admitted_bytes = line_len;
  char err[TV_ERROR_TEXT_BYTES_MAX];
  (void)tv_admission_enter(st->admission, st->admitted_items, st->admitted_bytes, 1, err, sizeof err);
}

static void release_line(tv_ndjson_stream *st) {
  if (st->admission != NULL && (st->admitted_items != 0 || st->admitted_bytes != 0)) {
    tv_admission_leave(st->admission, st->admitted_items, st->admitted_bytes);
  }
  st->admitted_items = st->admitted_bytes = 0;
}

/* Waits for the service's answer to the line just handed to the handler
 * and makes it the answer line (or the problem line that ends). */
static void take_answer(tv_ndjson_stream *st) {
  pthread_mutex_lock(&st->lock);
  while (!st->finished && !st->send_pending) { /* the handler contract: one send or a finish */
    pthread_cond_wait(&st->answered, &st->lock);
  }
  int sent = st->send_pending;
  const ProtobufCMessage *msg = st->pending_msg;
  tv_sent_fn on_sent = st->pending_sent;
  void *arg = st->pending_arg;
  st->send_pending = 0;
  st->pending_msg = NULL;
  st->pending_sent = NULL;
  tv_code code = st->code;
  int finished = st->finished;
  pthread_mutex_unlock(&st->lock);
  char *text = NULL;
  size_t len = 0;
  tv_status encoded = sent ? tv_json_message_encode(msg, &text, &len) : TV_OK;
  if (sent && on_sent != NULL) {
    on_sent(&st->ex.base, encoded == TV_OK, arg); /* the service frees the answer now */
  }
  tv_request_cleanup(&st->request); /* one request alive at a time, as over gRPC */
  release_line(st);
  if (sent && encoded == TV_OK) {
    out_set(st, text, len);
  } else if (sent) {
    end_with_status(st, TV_E_INTERNAL, "the answer could not be encoded");
  } else if (finished && code != TV_CODE_OK) {
    end_with_problem(st, code, st->details);
  } else {
    st->ended = 1;
  }
}

/* The body's end reached the handler: it finishes the stream (OK). */
static void half_close(tv_ndjson_stream *st, const tv_handler *handler) {
  st->ended = 1;
  if (handler->fn == NULL) {
    return;
  }
  handler->fn(handler->impl, &st->ex.base, NULL);
  take_answer(st);
}

static void body_cut(tv_ndjson_stream *st, tv_ndjson_cut cut) {
  char sentence[160];
  if (cut == TV_NDJSON_CUT_LINE_TOO_LONG) {
    snprintf(sentence, sizeof sentence, "line %llu is over the limit of %d bytes", (unsigned long long)st->line_no,
             TV_NDJSON_LINE_BYTES_MAX);
    end_with_status(st, TV_E_SERVER_REQUEST_TOO_LARGE, sentence);
  } else if (cut == TV_NDJSON_CUT_BODY_TOO_LARGE) {
    snprintf(sentence, sizeof sentence, "the stream is over the limit of %llu bytes at line %llu; send the rest "
             "in another stream", (unsigned long long)TV_NDJSON_BODY_BYTES_MAX, (unsigned long long)st->line_no);
    end_with_status(st, TV_E_SERVER_REQUEST_TOO_LARGE, sentence);
  } else {
    end_with_status(st, TV_E_IO, "the server could not keep the request body (temporary directory full?)");
  }
}

/* Makes the next answer line: reads the next request line, decodes it
 * (the unary JSON decoder, then the gRPC decoder's checks), runs the
 * handler and waits for its answer. */
static void next_answer(tv_ndjson_stream *st) {
  out_reset(st);
  if (atomic_load(st->ex.stopping)) {
    st->line_no++; /* the next line, not handled */
    end_with_status(st, TV_E_SERVER_SHUTTING_DOWN, NULL);
    return;
  }
  const char *line = NULL;
  size_t len = 0;
  tv_ndjson_cut cut = TV_NDJSON_CUT_NONE;
  const tv_handler *handler = &st->service->handlers[st->ex.method->id];
  if (!tv_ndjson_spool_next(st->spool, &line, &len, &st->line_no, &cut)) {
    if (cut != TV_NDJSON_CUT_NONE) {
      body_cut(st, cut);
    } else {
      half_close(st, handler);
    }
    return;
  }
  char err[TV_ERROR_TEXT_BYTES_MAX];
  tv_status status = tv_json_request_decode(&st->request, st->ex.method, line, len, err, sizeof err);
  if (status != TV_OK) {
    end_with_status(st, status, err);
    return;
  }
  if (handler->fn == NULL) {
    end_with_status(st, TV_E_SERVER_UNIMPLEMENTED, "not implemented yet: engine not wired");
    return;
  }
  st->handled = 1;
  admit_line(st, len);
  handler->fn(handler->impl, &st->ex.base, st->request.msg);
  take_answer(st);
}

/* libmicrohttpd asks for the next bytes of the answer (the connection's
 * own thread: waiting here for the engine and the audit is fine). */
static ssize_t produce(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  tv_ndjson_stream *st = cls;
  while (st->out_pos == st->out_len && !st->newline_due) {
    if (st->ended) {
      /* No problem line for the end: no final chunk either, so the
       * client sees a cut answer rather than a whole one. */
      return st->abort ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    }
    next_answer(st);
  }
  size_t n = st->out_len - st->out_pos < max ? st->out_len - st->out_pos : max;
  if (n > 0) {
    memcpy(buf, st->out + st->out_pos, n);
    st->out_pos += n;
  }
  if (st->out_pos == st->out_len && st->newline_due && n < max) {
    buf[n++] = '\n';
    st->newline_due = 0;
  }
  return (ssize_t)n;
}

static enum MHD_Result queue_answer(tv_ndjson_stream *st, struct MHD_Connection *conn) {
  st->queued = 1;
  struct MHD_Response *r =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, TV_NDJSON_ANSWER_BLOCK_BYTES, produce, st, NULL);
  if (r == NULL) {
    return MHD_NO;
  }
  (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, TV_NDJSON_CONTENT_TYPE);
  (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store"); /* answers carry values */
  enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

/* ---- lifecycle ---- */

int tv_ndjson_route(const tv_http_route *route) {
  return route != NULL && tv_method_get(route->id)->kind == TV_METHOD_BIDI_STREAMING;
}

tv_status tv_ndjson_stream_new(tv_ndjson_stream **out, const tv_http_route *route, const tv_service *service,
                               const atomic_int *stopping, tv_admission *admission, const char *peer_text,
                               const tv_identity *identity) {
  TV_ENSURE(out != NULL && tv_ndjson_route(route) && service != NULL && stopping != NULL, TV_E_INVALID_ARGUMENT);
  *out = NULL;
  tv_ndjson_stream *st = calloc(1, sizeof *st);
  if (st == NULL) {
    return TV_E_NO_MEMORY;
  }
  tv_http_exchange_init(&st->ex, &ndjson_call_ops, tv_method_get(route->id), stopping, peer_text, identity);
  st->service = service;
  st->admission = admission;
  pthread_mutex_init(&st->lock, NULL);
  pthread_cond_init(&st->answered, NULL);
  const char *dir = getenv("TMPDIR");
  tv_status status = tv_ndjson_spool_open(&st->spool, dir != NULL && dir[0] != '\0' ? dir : "/tmp",
                                          TV_NDJSON_LINE_BYTES_MAX, TV_NDJSON_BODY_BYTES_MAX);
  if (status != TV_OK) {
    st->service = NULL; /* never started: nothing to report */
    tv_ndjson_stream_free(st);
    return status;
  }
  *out = st;
  return TV_OK;
}

tv_ndjson_stream *tv_ndjson_stream_of(void *con_cls) {
  tv_call *base = con_cls;
  return base != NULL && base->ops == &ndjson_call_ops ? (tv_ndjson_stream *)con_cls : NULL;
}

enum MHD_Result tv_ndjson_stream_on_request(tv_ndjson_stream *st, struct MHD_Connection *conn,
                                            const char *upload_data, size_t *upload_data_size) {
  if (*upload_data_size > 0) {
    tv_ndjson_spool_write(st->spool, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (st->queued) {
    return MHD_YES;
  }
  return queue_answer(st, conn);
}

static void report_end(const tv_ndjson_stream *st) {
  if (st->service == NULL || st->service->on_call_end == NULL) {
    return;
  }
  tv_call_end end = {.code = st->ended ? (int)st->code : TV_CODE_CANCELLED, .handled = st->handled};
  tv_http_exchange_end(&st->ex, &end);
  st->service->on_call_end(st->service->on_call_end_ctx, &end);
}

void tv_ndjson_stream_free(tv_ndjson_stream *st) {
  if (st == NULL) {
    return;
  }
  report_end(st);
  tv_request_cleanup(&st->request);
  release_line(st);
  tv_ndjson_spool_free(st->spool);
  out_reset(st);
  pthread_cond_destroy(&st->answered);
  pthread_mutex_destroy(&st->lock);
  free(st);
}
