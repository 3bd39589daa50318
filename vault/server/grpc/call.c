#include "vault/server/grpc/call.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/support/alloc.h>

#include "vault/server/grpc/call_internal.h"
#include "vault/service/limits.h"
#include "vault/service/log.h"
#include "vault/server/grpc/grpc_status.h"

/* A batch refused by gRPC means this state machine broke its own rules
 * (two sends at once, an op after finish): crash loudly rather than leave
 * a call hanging with its references, in release builds too. */
#define TV_BATCH_OK(err)                                                   \
  do {                                                                     \
    if ((err) != GRPC_CALL_OK) {                                           \
      tv_log_message("error", "invariant", "grpc_call_start_batch refused"); \
      abort();                                                             \
    }                                                                      \
  } while (0)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void call_destroy(tv_grpc_call *call) {
  tv_server *server = call->server;
  tv_server_call_log(server, call);
  tv_request_cleanup(&call->request);
  if (call->payload != NULL) {
    grpc_byte_buffer_destroy(call->payload);
  }
  if (call->recv_buffer != NULL) {
    grpc_byte_buffer_destroy(call->recv_buffer);
  }
  grpc_metadata_array_destroy(&call->request_md);
  if (call->method == NULL) {
    grpc_call_details_destroy(&call->details);
  }
  if (call->finish_started) {
    grpc_slice_unref(call->finish_details);
  }
  if (call->call != NULL) {
    grpc_call_unref(call->call);
  }
  pthread_mutex_destroy(&call->lock);
  free(call);
  tv_server_call_released(server);
}

void tv_grpc_call_unref(tv_grpc_call *call) {
  int before = atomic_fetch_sub(&call->refs, 1);
  assert(before > 0);
  if (before == 1) {
    call_destroy(call);
  }
}

/* Packs |msg| into a byte buffer that owns its bytes, or NULL (too large
 * or out of memory). */
static grpc_byte_buffer *pack_message(const ProtobufCMessage *msg) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  if (len > TV_RESPONSE_BYTES_MAX) {
    return NULL;
  }
  uint8_t *bytes = malloc(len > 0 ? len : 1);
  if (bytes == NULL) {
    return NULL;
  }
  size_t packed = protobuf_c_message_pack(msg, bytes);
  assert(packed == len);
  grpc_slice slice = grpc_slice_new(bytes, packed, free);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  return bb;
}

static void finish_done(void *owner, int success) {
  tv_grpc_call *call = owner;
  (void)success; /* a failed status send means the client is gone: nothing to do */
  pthread_mutex_lock(&call->lock);
  if (call->finish_buffer != NULL) {
    grpc_byte_buffer_destroy(call->finish_buffer);
    call->finish_buffer = NULL;
  }
  pthread_mutex_unlock(&call->lock);
  tv_grpc_call_unref(call); /* the owner reference, handed to the finish batch */
}

static void post_finish_locked(tv_grpc_call *call) {
  grpc_op ops[3];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (!call->initial_md_sent) {
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    call->initial_md_sent = 1;
  }
  if (call->finish_buffer != NULL) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = call->finish_buffer;
  }
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = call->finish_code;
  ops[n].data.send_status_from_server.status_details =
      call->finish_code == GRPC_STATUS_OK ? NULL : &call->finish_details;
  n++;
  TV_BATCH_OK(grpc_call_start_batch(call->call, ops, n, &call->finish_tag, NULL));
}

void tv_grpc_call_finish(tv_grpc_call *call, grpc_status_code code, const char *detail,
                         const ProtobufCMessage *response) {
  pthread_mutex_lock(&call->lock);
  if (call->finish_started) {
    pthread_mutex_unlock(&call->lock);
    return;
  }
  call->finish_started = 1;
  call->finish_code = code;
  if (response != NULL) {
    call->finish_buffer = pack_message(response);
    if (call->finish_buffer == NULL) {
      call->finish_code = GRPC_STATUS_INTERNAL;
      detail = "response could not be encoded (larger than TV_RESPONSE_BYTES_MAX or out of memory)";
    }
  }
  call->finish_details = grpc_slice_from_copied_string(detail != NULL ? detail : "");
  if (call->send_in_flight) {
    call->finish_deferred = 1; /* one send-side batch at a time */
  } else {
    post_finish_locked(call);
  }
  pthread_mutex_unlock(&call->lock);
}

static void send_done(void *owner, int success) {
  tv_grpc_call *call = owner;
  pthread_mutex_lock(&call->lock);
  grpc_byte_buffer_destroy(call->send_buffer);
  call->send_buffer = NULL;
  call->send_in_flight = 0;
  tv_sent_fn fn = call->on_sent; /* always, so the sender can free its state */
  void *arg = call->on_sent_arg;
  if (call->finish_deferred) {
    call->finish_deferred = 0;
    post_finish_locked(call);
  }
  int stream_on = call->streaming && !call->finish_started;
  pthread_mutex_unlock(&call->lock);
  if (fn != NULL) {
    fn(&call->base, success, arg);
  }
  if (stream_on && success) {
    tv_server_stream_answered(call->server, call); /* its items leave the admission budget */
    tv_grpc_call_post_recv(call); /* the reply is out: now read the next request */
  } else if (stream_on) {
    tv_grpc_call_finish(call, GRPC_STATUS_CANCELLED, "stream ended: the reply could not be sent", NULL);
  }
  tv_grpc_call_unref(call);
}

tv_status tv_grpc_call_send(tv_grpc_call *call, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg) {
  pthread_mutex_lock(&call->lock);
  assert(!call->send_in_flight); /* the contract: wait for on_sent */
  tv_status st = TV_OK;
  if (call->finish_started || call->send_in_flight) {
    st = TV_E_INTERNAL;
  } else if ((call->send_buffer = pack_message(msg)) == NULL) {
    st = TV_E_SERVER_REQUEST_TOO_LARGE;
  } else {
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (!call->initial_md_sent) {
      ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
      call->initial_md_sent = 1;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = call->send_buffer;
    call->on_sent = on_sent;
    call->on_sent_arg = arg;
    call->send_in_flight = 1;
    atomic_fetch_add(&call->refs, 1);
    TV_BATCH_OK(grpc_call_start_batch(call->call, ops, n, &call->send_tag, NULL));
  }
  pthread_mutex_unlock(&call->lock);
  return st;
}

void tv_grpc_call_post_recv(tv_grpc_call *call) {
  pthread_mutex_lock(&call->lock);
  assert(call->recv_buffer == NULL);
  atomic_fetch_add(&call->refs, 1);
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &call->recv_buffer;
  TV_BATCH_OK(grpc_call_start_batch(call->call, &op, 1, &call->recv_tag, NULL));
  pthread_mutex_unlock(&call->lock);
}

int tv_grpc_call_finish_started(tv_grpc_call *call) {
  pthread_mutex_lock(&call->lock);
  int started = call->finish_started;
  pthread_mutex_unlock(&call->lock);
  return started;
}

static void close_done(void *owner, int success) {
  tv_grpc_call *call = owner;
  (void)success;
  pthread_mutex_lock(&call->lock);
  call->closed = 1;
  tv_close_fn fn = call->on_close;
  void *arg = call->on_close_arg;
  pthread_mutex_unlock(&call->lock);
  if (fn != NULL) {
    fn(&call->base, arg);
  }
  tv_grpc_call_unref(call);
}

int tv_grpc_call_on_close(tv_grpc_call *call, tv_close_fn fn, void *arg) {
  pthread_mutex_lock(&call->lock);
  int closed = call->closed;
  if (!closed) {
    call->on_close = fn;
    call->on_close_arg = arg;
  }
  pthread_mutex_unlock(&call->lock);
  return closed;
}

int tv_grpc_call_is_cancelled(tv_grpc_call *call) {
  pthread_mutex_lock(&call->lock);
  int cancelled = call->closed && call->close_cancelled;
  pthread_mutex_unlock(&call->lock);
  return cancelled;
}

int64_t tv_grpc_call_deadline_ms(const tv_grpc_call *call) {
  if (gpr_time_cmp(call->deadline, gpr_inf_future(call->deadline.clock_type)) == 0) {
    return INT64_MAX;
  }
  gpr_timespec left = gpr_time_sub(call->deadline, gpr_now(call->deadline.clock_type));
  return (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

/* The service's view of a gRPC call (vault/service/call_iface.h): the
 * tv_call it gets is the first member of a tv_grpc_call. */
static tv_grpc_call *grpc_call_of(tv_call *base) { return (tv_grpc_call *)(void *)base; }

static const tv_grpc_call *grpc_call_of_const(const tv_call *base) { return (const tv_grpc_call *)(const void *)base; }

static const tv_identity *op_identity(const tv_call *base) { return &grpc_call_of_const(base)->identity; }

static const tv_method *op_method(const tv_call *base) { return grpc_call_of_const(base)->method; }

static const char *op_peer(const tv_call *base) { return grpc_call_of_const(base)->peer; }

static int op_is_cancelled(tv_call *base) { return tv_grpc_call_is_cancelled(grpc_call_of(base)); }

static int64_t op_deadline_ms(const tv_call *base) { return tv_grpc_call_deadline_ms(grpc_call_of_const(base)); }

static void op_finish(tv_call *base, tv_code code, const char *details, const ProtobufCMessage *response) {
  tv_grpc_call_finish(grpc_call_of(base), tv_code_to_grpc(code), details, response);
}

static tv_status op_send(tv_call *base, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg) {
  return tv_grpc_call_send(grpc_call_of(base), msg, on_sent, arg);
}

static int op_on_close(tv_call *base, tv_close_fn fn, void *arg) {
  return tv_grpc_call_on_close(grpc_call_of(base), fn, arg);
}

static const tv_call_ops grpc_call_ops = {
    .identity = op_identity,
    .method = op_method,
    .peer = op_peer,
    .is_cancelled = op_is_cancelled,
    .deadline_ms = op_deadline_ms,
    .finish = op_finish,
    .send = op_send,
    .on_close = op_on_close,
};

tv_grpc_call *tv_grpc_call_new(tv_server *server, const tv_method *method, void (*accept_fn)(void *, int)) {
  tv_grpc_call *call = calloc(1, sizeof *call);
  if (call == NULL) {
    return NULL;
  }
  call->server = server;
  call->method = method;
  grpc_metadata_array_init(&call->request_md);
  if (method == NULL) {
    grpc_call_details_init(&call->details);
  }
  pthread_mutex_init(&call->lock, NULL);
  call->base.ops = &grpc_call_ops;
  call->accept_tag = (tv_tag){accept_fn, call};
  call->close_tag = (tv_tag){close_done, call};
  call->send_tag = (tv_tag){send_done, call};
  call->finish_tag = (tv_tag){finish_done, call};
  atomic_init(&call->refs, 0);
  return call;
}

void tv_grpc_call_free_unaccepted(tv_grpc_call *call) {
  assert(atomic_load(&call->refs) == 0);
  grpc_metadata_array_destroy(&call->request_md);
  if (call->method == NULL) {
    grpc_call_details_destroy(&call->details);
  }
  if (call->payload != NULL) {
    grpc_byte_buffer_destroy(call->payload);
  }
  if (call->call != NULL) {
    grpc_call_unref(call->call);
  }
  pthread_mutex_destroy(&call->lock);
  free(call);
}

void tv_grpc_call_start(tv_grpc_call *call) {
  call->start_ns = now_ns();
  tv_identity_from_call(call->call, &call->identity);
  char *peer = grpc_call_get_peer(call->call);
  snprintf(call->peer, sizeof call->peer, "%s", peer != NULL ? peer : "");
  gpr_free(peer);
  atomic_store(&call->refs, 2); /* the owner, and the close batch below */
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &call->close_cancelled;
  TV_BATCH_OK(grpc_call_start_batch(call->call, &op, 1, &call->close_tag, NULL));
}

uint64_t tv_grpc_call_latency_us(const tv_grpc_call *call) { return (now_ns() - call->start_ns) / 1000u; }
