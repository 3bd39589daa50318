#include "vault/server/svc_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/server/status_map.h"

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t svc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void svc_call_begin(svc_call *c, tv_call *call, tv_vault *vault, const char *ns, const char *request_id,
                    uint64_t items) {
  c->call = call;
  c->vault = vault;
  c->method = tv_call_method(call)->name;
  c->ns = ns;
  c->request_id = request_id;
  c->items = items;
  c->start_us = mono_us();
  c->status = TV_OK;
  c->detail[0] = '\0';
}

const char *svc_principal(const svc_call *c) {
  const tv_identity *id = tv_call_identity(c->call);
  if (id->authenticated && id->principal[0] != '\0') {
    return id->principal;
  }
  return c->vault->dev ? "dev" : NULL;
}

static void release(svc_call *c) {
  if (c->cleanup != NULL) {
    c->cleanup(c);
  } else {
    free(c);
  }
}

/* A stream reply was written (or the call failed): its buffers can go. */
static void stream_sent(tv_call *call, int success, void *arg) {
  (void)call;
  (void)success;
  release(arg);
}

/* Runs on the audit writer thread: the line is durable (or failed). */
static void audited(void *arg, tv_status status, uint64_t seq) {
  (void)seq;
  svc_call *c = arg;
  if (status == TV_OK && c->stream && c->grpc_override == 0 && c->status == TV_OK) {
    if (tv_call_send(c->call, c->response, stream_sent, c) != TV_OK) {
      tv_call_finish_grpc(c->call, GRPC_STATUS_INTERNAL, "could not send the reply", NULL);
      release(c);
    }
    return;
  }
  if (status != TV_OK) {
    tv_call_finish_grpc(c->call, GRPC_STATUS_UNAVAILABLE, "audit log unavailable: call refused", NULL);
  } else if (c->grpc_override != 0) {
    tv_call_finish_grpc(c->call, (grpc_status_code)c->grpc_override, c->detail, NULL);
  } else {
    tv_call_finish(c->call, c->status, c->detail[0] != '\0' ? c->detail : NULL,
                   c->status == TV_OK ? c->response : NULL);
  }
  release(c);
}

void svc_call_end(svc_call *c) {
  const tv_identity *id = tv_call_identity(c->call);
  tv_audit_entry e = {
      .type = TV_AUDIT_CALL,
      .principal = id->principal,
      .peer = tv_call_peer(c->call),
      .method = c->method,
      .ns = c->ns,
      .items = c->items,
      .request_id = c->request_id,
      .code = c->grpc_override != 0 ? (uint32_t)c->grpc_override : (uint32_t)tv_status_to_grpc(c->status),
      .outcome = c->grpc_override != 0 ? "REFUSED" : tv_status_name(c->status),
      .latency_us = mono_us() - c->start_us,
      .purpose = c->purpose,
  };
  tv_status st = tv_audit_append_async(c->vault->audit, &e, audited, c);
  if (st != TV_OK) {
    tv_call_finish_grpc(c->call, GRPC_STATUS_UNAVAILABLE, "audit log unavailable: call refused", NULL);
    release(c);
  }
}

void svc_call_fail(svc_call *c, tv_status status, const char *detail) {
  c->status = status;
  snprintf(c->detail, sizeof c->detail, "%s", detail != NULL ? detail : "");
  svc_call_end(c);
}

void svc_call_fail_grpc(svc_call *c, int grpc_code, const char *detail) {
  c->grpc_override = grpc_code;
  snprintf(c->detail, sizeof c->detail, "%s", detail != NULL ? detail : "");
  svc_call_end(c);
}
