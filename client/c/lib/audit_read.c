/* ReadAudit: a server stream of audit entries gathered into one result
 * (bounded by the caller's limit). */
#include <stdlib.h>
#include <string.h>

#include "client/c/lib/client_internal.h"
#include "tokenvault/v1/tokenvault.pb-c.h"

typedef struct audit_call {
  grpc_completion_queue *cq;
  grpc_call *call;
  grpc_metadata_array initial;
  grpc_metadata_array trailing;
  grpc_status_code status;
  grpc_slice details;
} audit_call;

static int batch(audit_call *a, grpc_op *ops, size_t n) {
  int tag = 0;
  if (grpc_call_start_batch(a->call, ops, n, &tag, NULL) != GRPC_CALL_OK) {
    return 0;
  }
  grpc_event ev = grpc_completion_queue_pluck(a->cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static int send_request(audit_call *a, const ProtobufCMessage *req) {
  grpc_byte_buffer *bb = tvc_pack(req);
  if (bb == NULL) {
    return 0;
  }
  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = bb;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &a->initial;
  int ok = batch(a, ops, 4);
  grpc_byte_buffer_destroy(bb);
  return ok;
}

/* Receives entries until the end of the stream or |limit|; each is
 * adopted by |r|. */
static tv_client_code receive_entries(audit_call *a, tv_client_result *r, uint32_t limit,
                                      tv_client_error *err) {
  for (uint32_t n = 0; n < limit; n++) {
    grpc_byte_buffer *bb = NULL;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &bb;
    if (!batch(a, &op, 1) || bb == NULL) {
      return TV_CLIENT_OK; /* end of stream; the status says how it ended */
    }
    ProtobufCMessage *msg = NULL;
    tv_client_code code = tvc_unpack(bb, &tokenvault__v1__audit_entry__descriptor, &msg, err);
    grpc_byte_buffer_destroy(bb);
    TVC_TRY(code);
    TVC_TRY(tvc_result_adopt(r, msg, err));
  }
  /* The caller's limit is reached: the rest is not wanted. */
  grpc_call_cancel(a->call, NULL);
  return TV_CLIENT_OK;
}

static tv_client_code finish(audit_call *a, int cancelled, tv_client_error *err) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op.data.recv_status_on_client.trailing_metadata = &a->trailing;
  op.data.recv_status_on_client.status = &a->status;
  op.data.recv_status_on_client.status_details = &a->details;
  if (!batch(a, &op, 1) && !cancelled) {
    return tvc_fail(err, TV_CLIENT_INTERNAL, "ReadAudit did not finish");
  }
  if (cancelled && a->status == GRPC_STATUS_CANCELLED) {
    return TV_CLIENT_OK;
  }
  return tvc_status_code(a->call, a->status, a->details, TVC_SERVICE "ReadAudit", err);
}

static tv_client_code entries_views(tv_client_result *r, tv_client_error *err) {
  struct tv_client_result_owned *o = r->owned_;
  size_t n = o->messages_count;
  o->audit_entries = calloc(n > 0 ? n : 1, sizeof *o->audit_entries);
  if (o->audit_entries == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    const Tokenvault__V1__AuditEntry *e = (const void *)o->messages[i];
    tv_client_audit_entry *v = &o->audit_entries[i];
    v->seq = e->seq;
    v->time_unix_ms = e->time_unix_ms;
    v->principal = e->principal;
    v->method = e->method;
    v->namespace_name = e->namespace_;
    v->items = e->items;
    v->outcome_code = e->outcome != NULL ? e->outcome->code : 0;
    v->outcome_name = e->outcome != NULL ? e->outcome->name : "";
    v->request_id = e->request_id;
  }
  r->audit_entries = o->audit_entries;
  r->audit_entries_count = n;
  return TV_CLIENT_OK;
}

static tv_client_code read_into(tv_client *c, audit_call *a, tv_client_result *r,
                                const ProtobufCMessage *req, uint32_t limit, tv_client_error *err) {
  a->call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, a->cq,
                                     grpc_slice_from_static_string(TVC_SERVICE "ReadAudit"), NULL,
                                     tvc_deadline(c->deadline_ms), NULL);
  int sent = send_request(a, req);
  tv_client_code code = sent ? receive_entries(a, r, limit, err) : TV_CLIENT_OK;
  int cancelled = code == TV_CLIENT_OK && r->owned_->messages_count == limit;
  tv_client_code status = finish(a, cancelled, err);
  TVC_TRY(code);
  TVC_TRY(status);
  return entries_views(r, err);
}

tv_client_code tv_client_audit_read(tv_client *client, tv_client_result **out_result,
                                    uint64_t from_seq, uint32_t limit, const char *principal,
                                    const char *method, tv_client_error *err) {
  if (client == NULL || out_result == NULL || limit == 0 || limit > TVC_AUDIT_ENTRIES_MAX) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "client, result and a limit of 1..%d are required",
                    TVC_AUDIT_ENTRIES_MAX);
  }
  Tokenvault__V1__ReadAuditRequest req;
  tokenvault__v1__read_audit_request__init(&req);
  req.from_seq = from_seq;
  req.limit = limit;
  req.principal = tvc_mut(tvc_text(principal));
  req.method = tvc_mut(tvc_text(method));
  tv_client_result *r = tvc_result_new();
  if (r == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
  }
  audit_call a = {.cq = grpc_completion_queue_create_for_pluck(NULL), .details = grpc_empty_slice()};
  grpc_metadata_array_init(&a.initial);
  grpc_metadata_array_init(&a.trailing);
  tv_client_code code = read_into(client, &a, r, &req.base, limit, err);
  grpc_metadata_array_destroy(&a.initial);
  grpc_metadata_array_destroy(&a.trailing);
  grpc_slice_unref(a.details);
  grpc_call_unref(a.call);
  grpc_completion_queue_shutdown(a.cq);
  grpc_completion_queue_destroy(a.cq);
  return tvc_result_done(r, code, out_result);
}
