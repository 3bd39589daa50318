/* Bidirectional streams (TokenizeStream, DetokenizeStream) with a window
 * of requests in flight.
 *
 * gRPC core allows one pending send and one pending receive per call, so
 * "in flight" means: requests handed to the transport whose answers have
 * not been taken yet. They wait in HTTP/2 flow-control windows and the
 * server's read buffer, which keeps the server busy while the caller
 * writes the previous batch's rows; memory stays bounded by the window. */
#include <stdlib.h>
#include <string.h>

#include "client/c/lib/client_internal.h"
#include "tokenvault/v1/tokenvault.pb-c.h"

enum stream_tag { TAG_START, TAG_META, TAG_SEND, TAG_RECV, TAG_CLOSE, TAG_STATUS, TAG_COUNT };

struct tv_client_stream {
  tv_client *client;
  grpc_completion_queue *cq;
  grpc_call *call;
  int tokenize;
  char ns[TVC_STRING_BYTES_MAX + 1];
  char reason[TVC_STRING_BYTES_MAX + 1];
  tv_client_reveal reveal;
  size_t window;
  size_t counts[TVC_STREAM_WINDOW_MAX]; /* items per request in flight, oldest at head */
  size_t head;
  size_t in_flight;
  int pending[TAG_COUNT]; /* batches started and not completed, by tag */
  char tags[TAG_COUNT];   /* their addresses are the completion tags */
  int close_sent;
  int status_done;
  int recv_ready;
  grpc_byte_buffer *recv_buf;
  grpc_metadata_array initial;
  grpc_metadata_array trailing;
  grpc_status_code status;
  grpc_slice details;
};

static tv_client_code start(tv_client_stream *s, enum stream_tag tag, grpc_op *ops, size_t n,
                            tv_client_error *err) {
  if (grpc_call_start_batch(s->call, ops, n, &s->tags[tag], NULL) != GRPC_CALL_OK) {
    return tvc_fail(err, TV_CLIENT_INTERNAL, "the stream refused an operation");
  }
  s->pending[tag] = 1;
  return TV_CLIENT_OK;
}

/* Waits for one completion, at most the client's deadline: a server that
 * makes no progress for that long fails the stream. */
static tv_client_code pump(tv_client_stream *s, tv_client_error *err) {
  grpc_event ev = grpc_completion_queue_next(s->cq, tvc_deadline(s->client->deadline_ms), NULL);
  if (ev.type != GRPC_OP_COMPLETE) {
    grpc_call_cancel(s->call, NULL);
    return tvc_fail(err, TV_CLIENT_DEADLINE_EXCEEDED, "the stream made no progress for %u ms",
                    s->client->deadline_ms);
  }
  enum stream_tag tag = (enum stream_tag)((char *)ev.tag - s->tags);
  s->pending[tag] = 0;
  if (tag == TAG_RECV) {
    s->recv_ready = 1;
  } else if (tag == TAG_STATUS) {
    s->status_done = 1;
  }
  return TV_CLIENT_OK;
}

static tv_client_code open_ops(tv_client_stream *s, tv_client_error *err) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_INITIAL_METADATA;
  TVC_TRY(start(s, TAG_START, &op, 1, err));
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_INITIAL_METADATA;
  op.data.recv_initial_metadata.recv_initial_metadata = &s->initial;
  TVC_TRY(start(s, TAG_META, &op, 1, err));
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op.data.recv_status_on_client.trailing_metadata = &s->trailing;
  op.data.recv_status_on_client.status = &s->status;
  op.data.recv_status_on_client.status_details = &s->details;
  return start(s, TAG_STATUS, &op, 1, err);
}

static tv_client_code copy_arg(char *dst, const char *src, const char *what, tv_client_error *err) {
  size_t len = strlen(tvc_text(src));
  if (len > TVC_STRING_BYTES_MAX) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "%s is over %d bytes", what, TVC_STRING_BYTES_MAX);
  }
  memcpy(dst, tvc_text(src), len + 1);
  return TV_CLIENT_OK;
}

static tv_client_code stream_open(tv_client *c, tv_client_stream **out, int tokenize, const char *ns,
                                  tv_client_reveal reveal, const char *reason, tv_client_error *err) {
  if (c == NULL || out == NULL || ns == NULL || ns[0] == '\0') {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "client, stream and namespace are required");
  }
  *out = NULL;
  tv_client_stream *s = calloc(1, sizeof *s);
  if (s == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
  }
  s->client = c;
  s->tokenize = tokenize;
  s->reveal = reveal;
  s->window = c->stream_window;
  s->details = grpc_empty_slice();
  grpc_metadata_array_init(&s->initial);
  grpc_metadata_array_init(&s->trailing);
  s->cq = grpc_completion_queue_create_for_next(NULL);
  tv_client_code code = copy_arg(s->ns, ns, "namespace", err);
  if (code == TV_CLIENT_OK) code = copy_arg(s->reason, reason, "reason", err);
  if (code == TV_CLIENT_OK) {
    const char *method = tokenize ? TVC_SERVICE "TokenizeStream" : TVC_SERVICE "DetokenizeStream";
    s->call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq,
                                       grpc_slice_from_static_string(method), NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    code = open_ops(s, err);
  }
  if (code != TV_CLIENT_OK) {
    tv_client_stream_free(s);
    return code;
  }
  *out = s;
  return TV_CLIENT_OK;
}

tv_client_code tv_client_detokenize_stream_open(tv_client *client, tv_client_stream **out_stream,
                                                const char *namespace_name,
                                                tv_client_reveal reveal, const char *reason,
                                                tv_client_error *err) {
  if (reveal != TV_CLIENT_REVEAL_FULL && reveal != TV_CLIENT_REVEAL_MASKED &&
      reveal != TV_CLIENT_REVEAL_NONE) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "reveal must be full, masked or none");
  }
  return stream_open(client, out_stream, 0, namespace_name, reveal, reason, err);
}

tv_client_code tv_client_tokenize_stream_open(tv_client *client, tv_client_stream **out_stream,
                                              const char *namespace_name, tv_client_error *err) {
  return stream_open(client, out_stream, 1, namespace_name, TV_CLIENT_REVEAL_NONE, NULL, err);
}

int tv_client_stream_can_send(const tv_client_stream *stream) {
  return stream != NULL && !stream->close_sent && !stream->status_done &&
         stream->in_flight < stream->window;
}

size_t tv_client_stream_in_flight(const tv_client_stream *stream) {
  return stream != NULL ? stream->in_flight : 0;
}

/* The stream ended (or was refused) before we were done: its status says
 * why. */
static tv_client_code ended_early(tv_client_stream *s, tv_client_error *err) {
  while (!s->status_done) {
    TVC_TRY(pump(s, err));
  }
  tv_client_code code = tvc_status_code(s->call, s->status, s->details, "stream", err);
  return code != TV_CLIENT_OK ? code
                              : tvc_fail(err, TV_CLIENT_E_PROTOCOL, "the server ended the stream early");
}

/* Copies the items into a request packed in memory gRPC will wipe. */
static grpc_byte_buffer *pack_batch(const tv_client_stream *s, char **items, size_t count) {
  if (s->tokenize) {
    Tokenvault__V1__TokenizeRequest req;
    tokenvault__v1__tokenize_request__init(&req);
    req.namespace_ = tvc_mut(s->ns);
    req.n_values = count;
    req.values = items;
    return tvc_pack(&req.base);
  }
  Tokenvault__V1__DetokenizeRequest req;
  tokenvault__v1__detokenize_request__init(&req);
  req.namespace_ = tvc_mut(s->ns);
  req.n_tokens = count;
  req.tokens = items;
  req.reveal = (Tokenvault__V1__Reveal)s->reveal;
  req.reason = tvc_mut(s->reason);
  return tvc_pack(&req.base);
}

/* protobuf-c packs NUL-terminated strings; |lens| lets callers pass spans
 * of a larger buffer (CSV fields), so those are copied once here. */
static grpc_byte_buffer *pack_items(const tv_client_stream *s, const char *const *items,
                                    const size_t *lens, size_t count) {
  if (lens == NULL) {
    return pack_batch(s, tvc_strv(items), count);
  }
  size_t total = 0;
  for (size_t i = 0; i < count; i++) total += lens[i] + 1;
  char **ptrs = malloc(count * sizeof *ptrs);
  char *text = malloc(total > 0 ? total : 1);
  grpc_byte_buffer *bb = NULL;
  if (ptrs != NULL && text != NULL) {
    char *p = text;
    for (size_t i = 0; i < count; i++) {
      memcpy(p, items[i], lens[i]);
      p[lens[i]] = '\0';
      ptrs[i] = p;
      p += lens[i] + 1;
    }
    bb = pack_batch(s, ptrs, count);
    tv_client_wipe(text, total);
  }
  free(text);
  free(ptrs);
  return bb;
}

/* Keeps one receive posted while answers are owed, so they are pulled off
 * the transport as soon as they arrive. */
static tv_client_code post_recv(tv_client_stream *s, tv_client_error *err) {
  if (s->in_flight == 0 || s->pending[TAG_RECV] || s->recv_ready || s->status_done) {
    return TV_CLIENT_OK;
  }
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &s->recv_buf;
  return start(s, TAG_RECV, &op, 1, err);
}

tv_client_code tv_client_stream_send(tv_client_stream *stream, const char *const *items,
                                     const size_t *lens, size_t count, tv_client_error *err) {
  tv_client_stream *s = stream;
  if (s == NULL || s->close_sent) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "the stream is closed for sending");
  }
  TVC_TRY(tvc_check_items(items, count, err));
  if (s->in_flight >= s->window) {
    return tvc_fail(err, TV_CLIENT_E_STREAM_FULL, "%zu batches in flight: take a result first", s->in_flight);
  }
  while (s->pending[TAG_SEND] && !s->status_done) {
    TVC_TRY(pump(s, err));
  }
  if (s->status_done) {
    return ended_early(s, err);
  }
  grpc_byte_buffer *bb = pack_items(s, items, lens, count);
  if (bb == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory packing a batch");
  }
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_MESSAGE;
  op.data.send_message.send_message = bb;
  tv_client_code code = start(s, TAG_SEND, &op, 1, err);
  /* gRPC took the slices; the byte buffer shell is still ours to destroy. */
  grpc_byte_buffer_destroy(bb);
  TVC_TRY(code);
  s->counts[(s->head + s->in_flight) % TVC_STREAM_WINDOW_MAX] = count;
  s->in_flight++;
  return post_recv(s, err);
}

tv_client_code tv_client_stream_close_send(tv_client_stream *stream, tv_client_error *err) {
  tv_client_stream *s = stream;
  if (s == NULL || s->close_sent) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "the stream is already closed for sending");
  }
  while (s->pending[TAG_SEND] && !s->status_done) {
    TVC_TRY(pump(s, err));
  }
  s->close_sent = 1;
  if (s->status_done) {
    return TV_CLIENT_OK; /* the failure is reported by next */
  }
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  return start(s, TAG_CLOSE, &op, 1, err);
}

static tv_client_code take_result(tv_client_stream *s, tv_client_result **out, tv_client_error *err) {
  grpc_byte_buffer *bb = s->recv_buf;
  s->recv_buf = NULL;
  s->recv_ready = 0;
  size_t expected = s->counts[s->head];
  s->head = (s->head + 1) % TVC_STREAM_WINDOW_MAX;
  s->in_flight--;
  ProtobufCMessage *msg = NULL;
  const ProtobufCMessageDescriptor *desc = s->tokenize ? &tokenvault__v1__tokenize_response__descriptor
                                                       : &tokenvault__v1__detokenize_response__descriptor;
  tv_client_result *r = tvc_result_new();
  tvc_arena *arena = r != NULL ? malloc(sizeof *arena) : NULL;
  if (arena == NULL) {
    grpc_byte_buffer_destroy(bb);
    tv_client_result_free(r);
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
  }
  r->owned_->arena = arena; /* the answer's memory: freed with r */
  tv_client_code code = tvc_unpack_into(bb, desc, arena, &msg, err);
  grpc_byte_buffer_destroy(bb);
  if (code != TV_CLIENT_OK) {
    tv_client_result_free(r);
    return code;
  }
  code = tvc_items_from_response(r, msg, expected, err);
  TVC_TRY(tvc_result_done(r, code, out));
  return post_recv(s, err);
}

tv_client_code tv_client_stream_next(tv_client_stream *stream, tv_client_result **out_result,
                                     tv_client_error *err) {
  tv_client_stream *s = stream;
  if (s == NULL || out_result == NULL) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "stream and result are required");
  }
  *out_result = NULL;
  if (s->in_flight == 0) {
    if (!s->close_sent) {
      return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "nothing in flight: send a batch or close first");
    }
    while (!s->status_done) {
      TVC_TRY(pump(s, err));
    }
    tv_client_code code = tvc_status_code(s->call, s->status, s->details, "stream", err);
    return code != TV_CLIENT_OK ? code : TV_CLIENT_E_STREAM_DONE;
  }
  TVC_TRY(post_recv(s, err));
  while (!s->recv_ready && !s->status_done) {
    TVC_TRY(pump(s, err));
  }
  while (!s->recv_ready && s->pending[TAG_RECV]) {
    TVC_TRY(pump(s, err));
  }
  if (!s->recv_ready || s->recv_buf == NULL) {
    return ended_early(s, err);
  }
  return take_result(s, out_result, err);
}

static int any_pending(const tv_client_stream *s) {
  for (int i = 0; i < TAG_COUNT; i++) {
    if (s->pending[i]) return 1;
  }
  return 0;
}

void tv_client_stream_free(tv_client_stream *stream) {
  tv_client_stream *s = stream;
  if (s == NULL) {
    return;
  }
  if (s->call != NULL) {
    if (!s->status_done) {
      grpc_call_cancel(s->call, NULL);
    }
    /* After a cancel every started batch completes promptly; their
     * buffers must not be freed before. */
    while (any_pending(s)) {
      grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
      s->pending[(enum stream_tag)((char *)ev.tag - s->tags)] = 0;
    }
    grpc_call_unref(s->call);
  }
  if (s->recv_buf != NULL) grpc_byte_buffer_destroy(s->recv_buf);
  grpc_metadata_array_destroy(&s->initial);
  grpc_metadata_array_destroy(&s->trailing);
  grpc_slice_unref(s->details);
  grpc_completion_queue_shutdown(s->cq);
  while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(s->cq);
  free(s);
}
