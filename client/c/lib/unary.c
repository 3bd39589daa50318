/* One request, one response: the call, its status, and retries with
 * exponential backoff for idempotent methods on UNAVAILABLE. */
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/c/lib/client_internal.h"
#include "vault/util/secure_mem.h"

/* Slice destructor: a packed request may hold values, so its bytes are
 * wiped when gRPC is done with them. */
static void wipe_and_free(void *p, size_t len) {
  tv_wipe(p, len);
  free(p);
}

grpc_byte_buffer *tvc_pack(const ProtobufCMessage *msg) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  uint8_t *bytes = malloc(len > 0 ? len : 1);
  if (bytes == NULL) {
    return NULL;
  }
  size_t packed = protobuf_c_message_pack(msg, bytes);
  grpc_slice slice = grpc_slice_new_with_len(bytes, packed, wipe_and_free);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  return bb;
}

/* |allocator| NULL: protobuf-c's default (malloc per field). */
static tv_client_code unpack_with(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                                  tvc_arena *arena, ProtobufCMessage **out_msg, tv_client_error *err) {
  *out_msg = NULL;
  grpc_byte_buffer_reader reader;
  if (bb == NULL || !grpc_byte_buffer_reader_init(&reader, bb)) {
    return tvc_fail(err, TV_CLIENT_E_PROTOCOL, "the server sent no response message");
  }
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  size_t len = GRPC_SLICE_LENGTH(all);
  *out_msg = protobuf_c_message_unpack(desc, arena != NULL ? &arena->allocator : NULL, len,
                                       GRPC_SLICE_START_PTR(all));
  /* The flat copy may hold detokenized values: wipe it before release. */
  tv_wipe(GRPC_SLICE_START_PTR(all), len);
  grpc_slice_unref(all);
  if (*out_msg == NULL) {
    return tvc_fail(err, TV_CLIENT_E_PROTOCOL, "the server's %s could not be decoded", desc->short_name);
  }
  return TV_CLIENT_OK;
}

tv_client_code tvc_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                          ProtobufCMessage **out_msg, tv_client_error *err) {
  return unpack_with(bb, desc, NULL, out_msg, err);
}

tv_client_code tvc_unpack_into(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                               tvc_arena *arena, ProtobufCMessage **out_msg, tv_client_error *err) {
  tvc_arena_init(arena, 0);
  return unpack_with(bb, desc, arena, out_msg, err);
}

/* 1 if |call| reached a server: gRPC core names the connected peer by
 * address ("ipv4:...", "ipv6:...", "unix:..."); a call that never
 * connected reports the channel's target (or "unknown") instead. */
static int reached_server(grpc_call *call) {
  char *peer = grpc_call_get_peer(call);
  if (peer == NULL) {
    return 0;
  }
  int reached = strncmp(peer, "ipv4:", 5) == 0 || strncmp(peer, "ipv6:", 5) == 0 || strncmp(peer, "unix:", 5) == 0;
  gpr_free(peer);
  return reached;
}

tv_client_code tvc_status_code(grpc_call *call, grpc_status_code status, grpc_slice details, const char *method,
                               tv_client_error *err) {
  if (status == GRPC_STATUS_OK) {
    return TV_CLIENT_OK;
  }
  tv_client_code code = (status > 0 && status <= 16) ? (tv_client_code)status : TV_CLIENT_UNKNOWN;
  int len = (int)GRPC_SLICE_LENGTH(details);
  if (len > 200) {
    len = 200;
  }
  const char *short_name = strrchr(method, '/');
  tvc_fail(err, code, "%s: %s: %.*s", short_name != NULL ? short_name + 1 : method, tv_client_code_name(code), len,
           (const char *)GRPC_SLICE_START_PTR(details));
  if (err != NULL) {
    err->from_server = reached_server(call);
  }
  return code;
}

/* The ops of a unary call, in one batch. */
static void unary_ops(grpc_op ops[6], grpc_byte_buffer *send, grpc_metadata_array *initial,
                      grpc_byte_buffer **recv, grpc_metadata_array *trailing,
                      grpc_status_code *status, grpc_slice *details) {
  memset(ops, 0, 6 * sizeof ops[0]);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = recv;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = trailing;
  ops[5].data.recv_status_on_client.status = status;
  ops[5].data.recv_status_on_client.status_details = details;
}

static tv_client_code call_once(tv_client *c, const char *method, grpc_byte_buffer *send,
                                const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                                tv_client_error *err) {
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  grpc_slice path = grpc_slice_from_static_string(method);
  grpc_call *call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL,
                                             tvc_deadline(c->deadline_ms), NULL);
  grpc_metadata_array initial, trailing;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailing);
  grpc_byte_buffer *recv = NULL;
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  grpc_op ops[6];
  unary_ops(ops, send, &initial, &recv, &trailing, &status, &details);
  int tag = 0;
  tv_client_code code = TV_CLIENT_INTERNAL;
  if (grpc_call_start_batch(call, ops, 6, &tag, NULL) == GRPC_CALL_OK) {
    grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    code = ev.type == GRPC_OP_COMPLETE ? tvc_status_code(call, status, details, method, err)
                                       : tvc_fail(err, TV_CLIENT_INTERNAL, "the call did not complete");
  } else {
    tvc_fail(err, code, "the call could not be started");
  }
  if (code == TV_CLIENT_OK) {
    code = tvc_unpack(recv, desc, out, err);
  }
  if (recv != NULL) grpc_byte_buffer_destroy(recv);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailing);
  grpc_call_unref(call);
  grpc_completion_queue_shutdown(cq);
  grpc_completion_queue_destroy(cq);
  return code;
}

static void sleep_ms(uint32_t ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

tv_client_code tvc_unary(tv_client *client, const char *method, int idempotent,
                         const ProtobufCMessage *request,
                         const ProtobufCMessageDescriptor *response_desc,
                         ProtobufCMessage **out_response, tv_client_error *err) {
  *out_response = NULL;
  /* Packed once into memory we own, so every attempt sends the same bytes
   * (gRPC consumes a sent byte buffer) and they can be wiped at the end:
   * a tokenize request holds values. */
  size_t len = protobuf_c_message_get_packed_size(request);
  uint8_t *bytes = malloc(len > 0 ? len : 1);
  if (bytes == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory packing the request");
  }
  len = protobuf_c_message_pack(request, bytes);
  uint32_t attempts = 1 + (idempotent ? client->retries_max : 0);
  uint32_t backoff_ms = client->backoff_initial_ms;
  tv_client_code code = TV_CLIENT_UNKNOWN;
  for (uint32_t attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) {
      /* Exponential backoff, capped, so a restarting server is not
       * hammered and the retry budget spans its restart time. */
      sleep_ms(backoff_ms);
      backoff_ms = backoff_ms * 2 > client->backoff_max_ms ? client->backoff_max_ms : backoff_ms * 2;
    }
    grpc_slice slice = grpc_slice_from_static_buffer(bytes, len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&slice, 1);
    code = call_once(client, method, send, response_desc, out_response, err);
    grpc_byte_buffer_destroy(send);
    if (code != TV_CLIENT_UNAVAILABLE) {
      break;
    }
  }
  tv_wipe(bytes, len);
  free(bytes);
  return code;
}
