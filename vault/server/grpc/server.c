#include "vault/server/grpc/server.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>

#include "vault/server/common/admission.h"
#include "vault/server/grpc/call_internal.h"
#include "vault/server/grpc/grpc_status.h"
#include "vault/server/grpc/health.h"
#include "vault/service/limits.h"
#include "vault/service/log.h"
#include "vault/service/whoami.h"
#include "vault/server/common/wire_scan.h"
#include "vault/server/grpc/workers.h"

#define TV_NOT_WIRED "not implemented yet: engine not wired"

struct tv_server {
  grpc_server *server;
  grpc_completion_queue *cq;
  void *registered[TV_METHOD_COUNT];
  tv_service service;
  tv_health health;
  tv_workers *workers;
  tv_admission admission;
  int admission_ready;
  pthread_t poll_threads[TV_POLL_THREADS_MAX];
  size_t poll_threads_count;
  int port;
  atomic_int shutting_down;
  tv_tag shutdown_tag;

  pthread_mutex_t lock; /* guards the two below; signals |changed| */
  pthread_cond_t changed;
  int shutdown_notified;
  long live_calls;
};

/* ---- the polling threads ---- */

static void *poll_main(void *arg) {
  tv_server *s = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) {
      return NULL;
    }
    if (ev.type == GRPC_OP_COMPLETE) {
      tv_tag *tag = ev.tag;
      tag->fn(tag->owner, ev.success);
    }
  }
}

static void shutdown_notified(void *owner, int success) {
  tv_server *s = owner;
  (void)success;
  pthread_mutex_lock(&s->lock);
  s->shutdown_notified = 1;
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
}

/* ---- call accounting and logs ---- */

/* The code a call ended with: the one it was finished with, else
 * CANCELLED (the client went away or the server cancelled it). */
static int call_end_code(const tv_grpc_call *call) {
  return call->finish_started ? (int)call->finish_code : (int)GRPC_STATUS_CANCELLED;
}

static void report_call_end(tv_server *s, const tv_grpc_call *call) {
  if (s->service.on_call_end == NULL || call->method == NULL) {
    return; /* unknown methods have no row to count them under */
  }
  tv_call_end end = {.method = call->method->id, .code = call_end_code(call), .handled = call->handled,
                     .latency_us = tv_grpc_call_latency_us(call), .authenticated = call->identity.authenticated,
                     .principal = call->identity.principal, .peer = call->peer,
                     .admission_refused = call->admission_refused};
  s->service.on_call_end(s->service.on_call_end_ctx, &end);
}

/* Returns what the call (or a stream's current message) held in flight. */
static void admission_release(tv_server *s, tv_grpc_call *call) {
  if (call->admitted_items != 0 || call->admitted_bytes != 0) {
    tv_admission_leave(&s->admission, call->admitted_items, call->admitted_bytes);
    call->admitted_items = 0;
    call->admitted_bytes = 0;
  }
}

void tv_server_stream_answered(tv_server *s, tv_grpc_call *call) { admission_release(s, call); }

void tv_server_call_log(tv_server *s, tv_grpc_call *call) {
  admission_release(s, call); /* the last reference: the call is being freed */
  report_call_end(s, call);
  tv_log_line line;
  tv_log_begin(&line, "info", "call");
  tv_log_str(&line, "method", call->method != NULL ? call->method->name : "unknown");
  tv_log_str(&line, "principal", call->identity.principal);
  tv_log_str(&line, "peer", call->peer);
  tv_log_int(&line, "code", call->finish_started ? (int64_t)call->finish_code : -1);
  tv_log_int(&line, "cancelled", call->closed && call->close_cancelled);
  tv_log_int(&line, "latency_us", (int64_t)tv_grpc_call_latency_us(call));
  tv_log_end(&line);
}

static void call_accepted(tv_server *s) {
  pthread_mutex_lock(&s->lock);
  s->live_calls++;
  pthread_mutex_unlock(&s->lock);
}

void tv_server_call_released(tv_server *s) {
  pthread_mutex_lock(&s->lock);
  assert(s->live_calls > 0);
  if (--s->live_calls == 0) {
    pthread_cond_broadcast(&s->changed);
  }
  pthread_mutex_unlock(&s->lock);
}

/* ---- requests for new calls ---- */

static void registered_accepted(void *owner, int success);
static void generic_accepted(void *owner, int success);

static void request_registered(tv_server *s, const tv_method *method) {
  tv_grpc_call *call = tv_grpc_call_new(s, method, registered_accepted);
  if (call == NULL) {
    tv_log_message("error", "request_call", "out of memory: one fewer outstanding request for a method");
    return;
  }
  /* READ_INITIAL_BYTE_BUFFER methods need a payload pointer; NONE methods
   * must pass NULL (GRPC_CALL_ERROR_PAYLOAD_TYPE_MISMATCH otherwise). */
  grpc_byte_buffer **payload = method->kind == TV_METHOD_BIDI_STREAMING ? NULL : &call->payload;
  grpc_call_error err = grpc_server_request_registered_call(s->server, s->registered[method->id], &call->call,
                                                            &call->deadline, &call->request_md, payload, s->cq,
                                                            s->cq, &call->accept_tag);
  if (err != GRPC_CALL_OK) {
    tv_grpc_call_free_unaccepted(call); /* the server is shutting down */
  }
}

static void request_generic(tv_server *s) {
  tv_grpc_call *call = tv_grpc_call_new(s, NULL, generic_accepted);
  if (call == NULL) {
    tv_log_message("error", "request_call", "out of memory: unknown methods will wait for their deadline");
    return;
  }
  grpc_call_error err =
      grpc_server_request_call(s->server, &call->call, &call->details, &call->request_md, s->cq, s->cq,
                               &call->accept_tag);
  if (err != GRPC_CALL_OK) {
    tv_grpc_call_free_unaccepted(call);
  }
}

/* Unknown method: answered on the polling thread, it costs nothing. */
static void generic_accepted(void *owner, int success) {
  tv_grpc_call *call = owner;
  tv_server *s = call->server;
  if (!success) {
    tv_grpc_call_free_unaccepted(call);
    return;
  }
  call_accepted(s);
  if (!atomic_load(&s->shutting_down)) {
    request_generic(s);
  }
  call->deadline = call->details.deadline;
  tv_grpc_call_start(call);
  char detail[TV_ERROR_TEXT_BYTES_MAX];
  grpc_slice m = call->details.method;
  snprintf(detail, sizeof detail, "unknown method %.*s", (int)(GRPC_SLICE_LENGTH(m) < 128 ? GRPC_SLICE_LENGTH(m) : 128),
           (const char *)GRPC_SLICE_START_PTR(m));
  tv_grpc_call_finish(call, GRPC_STATUS_UNIMPLEMENTED, detail, NULL);
}

/* Copies the received payload out of gRPC's byte buffer and decodes it. */
static tv_status decode_payload(tv_grpc_call *call, char *out_err, size_t out_err_len) {
  if (call->payload == NULL) { /* the client sent no message */
    return tv_request_decode(&call->request, call->method, NULL, 0, out_err, out_err_len);
  }
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, call->payload)) {
    snprintf(out_err, out_err_len, "%s could not be decompressed", call->method->request->short_name);
    return TV_E_SERVER_REQUEST_MALFORMED;
  }
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  tv_status st = tv_request_decode(&call->request, call->method, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all),
                                   out_err, out_err_len);
  grpc_slice_unref(all);
  grpc_byte_buffer_reader_destroy(&reader);
  grpc_byte_buffer_destroy(call->payload);
  call->payload = NULL;
  return st;
}

/* Worker thread: decode, validate, hand to the method's handler. For a
 * bidi stream this runs once per received message (|end_of_stream| when the
 * client half-closed: the handler gets NULL). */
static void handle_request(tv_grpc_call *call, int end_of_stream) {
  const tv_handler *handler = &call->server->service.handlers[call->method->id];
  if (tv_grpc_call_deadline_ms(call) <= 0) {
    tv_grpc_call_finish(call, GRPC_STATUS_DEADLINE_EXCEEDED, "deadline passed before the call was handled", NULL);
    return;
  }
  if (end_of_stream) {
    call->handled = 1;
    handler->fn(handler->impl, &call->base, NULL);
    return;
  }
  char err[TV_ERROR_TEXT_BYTES_MAX];
  tv_status st = decode_payload(call, err, sizeof err);
  if (st != TV_OK) {
    tv_call_finish(&call->base, st, err, NULL);
  } else if (handler->fn == NULL) {
    tv_call_finish(&call->base, TV_E_SERVER_UNIMPLEMENTED, TV_NOT_WIRED, NULL);
  } else {
    call->handled = 1;
    handler->fn(handler->impl, &call->base, call->request.msg);
  }
}

static void dispatch_job(void *arg) { handle_request(arg, 0); }

static void end_of_stream_job(void *arg) { handle_request(arg, 1); }

/* Polling thread: counts the request's items on the wire (a copy of at
 * most TV_MESSAGE_BYTES_MAX bytes) and reserves them and its bytes. */
static tv_status admit(tv_grpc_call *call, int force) {
  grpc_byte_buffer *bb = call->payload;
  size_t items = 1;
  size_t bytes = bb != NULL ? grpc_byte_buffer_length(bb) : 0;
  grpc_byte_buffer_reader reader;
  if (bb != NULL && grpc_byte_buffer_reader_init(&reader, bb)) {
    grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
    size_t n = tv_wire_count_items(call->method->request, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
    items = n > 0 ? n : 1;
    bytes = GRPC_SLICE_LENGTH(all) > bytes ? GRPC_SLICE_LENGTH(all) : bytes; /* decompressed */
    grpc_slice_unref(all);
    grpc_byte_buffer_reader_destroy(&reader);
  }
  char err[TV_ERROR_TEXT_BYTES_MAX];
  tv_status st = tv_admission_enter(&call->server->admission, items, bytes, force, err, sizeof err);
  if (st != TV_OK) {
    call->admission_refused = 1;
    tv_call_finish(&call->base, st, err, NULL);
    return st;
  }
  call->admitted_items = items;
  call->admitted_bytes = bytes;
  return TV_OK;
}

/* Polling thread: a bidi stream's next message (or its end) arrived. The
 * previous request was answered before this receive was posted, so its
 * memory goes now: one request per stream is alive at a time. */
static void stream_received(void *owner, int success) {
  tv_grpc_call *call = owner;
  grpc_byte_buffer *bb = call->recv_buffer;
  call->recv_buffer = NULL;
  tv_request_cleanup(&call->request);
  admission_release(call->server, call); /* normally done when its reply was sent */
  if (tv_grpc_call_finish_started(call)) {
    if (bb != NULL) {
      grpc_byte_buffer_destroy(bb);
    }
  } else if (!success) {
    tv_grpc_call_finish(call, GRPC_STATUS_CANCELLED, "stream failed while reading", NULL);
  } else {
    call->payload = bb;
    if (bb != NULL) { /* counted, never refused mid-stream (admission.h) */
      (void)admit(call, 1);
    }
    tv_status st = tv_workers_submit(call->server->workers, bb != NULL ? dispatch_job : end_of_stream_job, call);
    if (st != TV_OK) {
      tv_call_finish(&call->base, st, NULL, NULL);
    }
  }
  tv_grpc_call_unref(call);
}

/* A bidi call: read its first message, if anyone handles the method. */
static tv_status start_stream(tv_grpc_call *call) {
  if (call->server->service.handlers[call->method->id].fn == NULL) {
    return TV_E_SERVER_UNIMPLEMENTED;
  }
  call->streaming = 1;
  call->recv_tag = (tv_tag){stream_received, call};
  tv_grpc_call_post_recv(call);
  return TV_OK;
}

/* Starts serving an accepted call. Once this posts a batch for the call (a
 * stream's first read, admit's busy answer, a worker's job) another polling
 * thread may finish and free it, so on TV_OK or TV_E_SERVER_BUSY the caller
 * must not touch the call again; any other status leaves it to be finished. */
static tv_status begin_registered(tv_server *s, tv_grpc_call *call, const tv_method *method) {
  if (atomic_load(&s->shutting_down)) {
    return TV_E_SERVER_SHUTTING_DOWN;
  }
  if (method->kind == TV_METHOD_BIDI_STREAMING) {
    return start_stream(call);
  }
  tv_status st = tv_admission_exempt(method->id) ? TV_OK : admit(call, 0);
  if (st != TV_OK) {
    return st; /* TV_E_SERVER_BUSY: admit answered it */
  }
  return tv_workers_submit(s->workers, dispatch_job, call);
}

static void registered_accepted(void *owner, int success) {
  tv_grpc_call *call = owner;
  tv_server *s = call->server;
  const tv_method *method = call->method;
  if (!success) {
    tv_grpc_call_free_unaccepted(call);
    return;
  }
  call_accepted(s);
  if (!atomic_load(&s->shutting_down)) {
    request_registered(s, method);
  }
  tv_grpc_call_start(call);
  tv_status st = begin_registered(s, call, method);
  if (st == TV_OK || st == TV_E_SERVER_BUSY) {
    return; /* the call is someone else's now */
  }
  tv_call_finish(&call->base, st, st == TV_E_SERVER_UNIMPLEMENTED ? TV_NOT_WIRED : NULL, NULL);
}

/* ---- start ---- */

static size_t clamp_size(long v, size_t lo, size_t hi) {
  size_t n = v > 0 ? (size_t)v : lo;
  return n < lo ? lo : (n > hi ? hi : n);
}

static grpc_arg int_arg(const char *key, int value) {
  grpc_arg a;
  memset(&a, 0, sizeof a);
  a.type = GRPC_ARG_INTEGER;
  a.key = (char *)(uintptr_t)key; /* the API takes char * but only reads it */
  a.value.integer = value;
  return a;
}

static grpc_server_credentials *make_credentials(const tv_server_config *config) {
  if (config->tls_reloader != NULL) {
    return tv_tls_reloader_credentials(config->tls_reloader);
  }
  if (config->tls_cert_pem == NULL) {
    return grpc_insecure_server_credentials_create();
  }
  grpc_ssl_pem_key_cert_pair pair = {config->tls_key_pem, config->tls_cert_pem};
  /* gRPC's TLS stack negotiates TLS 1.2 or 1.3 only. */
  return grpc_ssl_server_credentials_create_ex(config->tls_ca_pem, &pair, 1,
                                               GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
}

static tv_status server_bind(tv_server *s, const tv_server_config *config, char *out_err, size_t out_err_len) {
  grpc_arg args[] = {int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, TV_MESSAGE_BYTES_MAX),
                     int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, TV_RESPONSE_BYTES_MAX),
                     int_arg(GRPC_ARG_MAX_CONCURRENT_STREAMS, TV_STREAMS_PER_CONNECTION_MAX),
                     /* A connection that never finishes its TLS handshake
                      * is closed after this (gRPC's default: 120 s). */
                     int_arg(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             config->handshake_timeout_ms != 0 ? (int)config->handshake_timeout_ms
                                                               : TV_HANDSHAKE_TIMEOUT_MS_DEFAULT),
                     /* gRPC sets SO_REUSEPORT by default: a second tokenvaultd
                      * would then bind the same port and silently take half
                      * of the connections. One port, one vault. */
                     int_arg(GRPC_ARG_ALLOW_REUSEPORT, 0)};
  grpc_channel_args channel_args = {sizeof args / sizeof args[0], args};
  s->server = grpc_server_create(&channel_args, NULL);
  s->cq = grpc_completion_queue_create_for_next(NULL);
  TV_ENSURE(s->server != NULL && s->cq != NULL, TV_E_NO_MEMORY);
  grpc_server_register_completion_queue(s->server, s->cq, NULL);
  for (size_t i = 0; i < TV_METHOD_COUNT; i++) {
    const tv_method *m = tv_method_get((tv_method_id)i);
    grpc_server_register_method_payload_handling mode = m->kind == TV_METHOD_BIDI_STREAMING
                                                            ? GRPC_SRM_PAYLOAD_NONE
                                                            : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER;
    s->registered[i] = grpc_server_register_method(s->server, m->path, NULL, mode, 0);
    TV_ENSURE(s->registered[i] != NULL, TV_E_INTERNAL);
  }
  grpc_server_credentials *creds = make_credentials(config);
  if (creds == NULL) {
    snprintf(out_err, out_err_len, "TLS credentials rejected (check the certificate, key and CA files)");
    return TV_E_SERVER_CONFIG;
  }
  s->port = grpc_server_add_http2_port(s->server, config->listen, creds);
  grpc_server_credentials_release(creds);
  if (s->port == 0) {
    snprintf(out_err, out_err_len, "cannot listen on %s (address in use, not local, or malformed)", config->listen);
    return TV_E_SERVER_CONFIG;
  }
  return TV_OK;
}

static uint64_t physical_bytes(void) {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

static void admission_start(tv_server *s, const tv_server_config *config, size_t workers) {
  tv_admission_limits l = tv_admission_limits_derive(config->items_in_flight_max,
                                                     config->request_bytes_in_flight_max, workers, physical_bytes());
  tv_admission_init(&s->admission, l);
  s->admission_ready = 1;
  tv_log_line line;
  tv_log_begin(&line, "info", "admission");
  tv_log_int(&line, "items_in_flight_max", (int64_t)l.items_max);
  tv_log_int(&line, "request_bytes_in_flight_max", (int64_t)l.bytes_max);
  tv_log_int(&line, "handshake_timeout_ms", config->handshake_timeout_ms != 0 ? (int64_t)config->handshake_timeout_ms
                                                                              : TV_HANDSHAKE_TIMEOUT_MS_DEFAULT);
  tv_log_end(&line);
}

static tv_status server_run(tv_server *s) {
  grpc_server_start(s->server);
  assert(s->admission_ready); /* calls may arrive from now on */
  for (size_t i = 0; i < TV_METHOD_COUNT; i++) {
    for (size_t k = 0; k < TV_CALLS_REQUESTED_PER_METHOD; k++) {
      request_registered(s, tv_method_get((tv_method_id)i));
    }
  }
  request_generic(s);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  TV_TRY(tv_workers_new(&s->workers, clamp_size(cores * 2, 2, TV_WORKER_THREADS_MAX), TV_JOBS_QUEUED_MAX));
  size_t polls = clamp_size(cores, 1, TV_POLL_THREADS_MAX);
  for (size_t i = 0; i < polls; i++) {
    TV_ENSURE(pthread_create(&s->poll_threads[i], NULL, poll_main, s) == 0, TV_E_INTERNAL);
    s->poll_threads_count++;
  }
  return TV_OK;
}

static void server_free(tv_server *s) {
  tv_workers_free(s->workers);
  if (s->cq != NULL) {
    grpc_completion_queue_shutdown(s->cq);
  }
  for (size_t i = 0; i < s->poll_threads_count; i++) {
    pthread_join(s->poll_threads[i], NULL);
  }
  if (s->cq != NULL && s->poll_threads_count == 0) {
    /* Never polled: drain the shutdown here. */
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
    }
  }
  if (s->server != NULL) {
    grpc_server_destroy(s->server);
  }
  if (s->cq != NULL) {
    grpc_completion_queue_destroy(s->cq);
  }
  tv_health_cleanup(&s->health);
  if (s->admission_ready) {
    tv_admission_cleanup(&s->admission);
  }
  pthread_cond_destroy(&s->changed);
  pthread_mutex_destroy(&s->lock);
  free(s);
  grpc_shutdown();
}

static void install_handlers(tv_server *s, const tv_service *service) {
  s->service = *service;
  tv_handler *h = s->service.handlers;
  if (h[TV_METHOD_HEALTH_CHECK].fn == NULL) {
    h[TV_METHOD_HEALTH_CHECK] = (tv_handler){tv_health_check, &s->health};
  }
  if (h[TV_METHOD_HEALTH_WATCH].fn == NULL) {
    h[TV_METHOD_HEALTH_WATCH] = (tv_handler){tv_health_watch, &s->health};
  }
  if (h[TV_METHOD_WHO_AM_I].fn == NULL) {
    h[TV_METHOD_WHO_AM_I] = (tv_handler){tv_whoami, NULL};
  }
}

tv_status tv_server_start(tv_server **out_server, const tv_server_config *config, const tv_service *service,
                          char *out_err, size_t out_err_len) {
  TV_ENSURE(out_server != NULL && config != NULL && config->listen != NULL && service != NULL,
            TV_E_INVALID_ARGUMENT);
  snprintf(out_err, out_err_len, "%s", "");
  tv_server *s = calloc(1, sizeof *s);
  TV_ENSURE(s != NULL, TV_E_NO_MEMORY);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&s->changed, &attr);
  pthread_condattr_destroy(&attr);
  pthread_mutex_init(&s->lock, NULL);
  tv_health_init(&s->health);
  install_handlers(s, service);
  s->shutdown_tag = (tv_tag){shutdown_notified, s};
  grpc_init();
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  admission_start(s, config, clamp_size(cores * 2, 2, TV_WORKER_THREADS_MAX));
  tv_status st = tv_health_set_readiness(&s->health, service->readiness, service->readiness_ctx);
  if (st == TV_OK) {
    st = server_bind(s, config, out_err, out_err_len);
  }
  if (st == TV_OK) {
    st = server_run(s);
  }
  if (st != TV_OK) {
    if (s->server != NULL) {
      atomic_store(&s->shutting_down, 1);
      grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
      grpc_server_cancel_all_calls(s->server);
    }
    server_free(s);
    return st;
  }
  *out_server = s;
  return TV_OK;
}

int tv_server_port(const tv_server *s) { return s->port; }

tv_admission *tv_server_admission(tv_server *s) { return &s->admission; }

/* ---- stop ---- */

/* Waits until |done(s)| holds or |ms| pass; returns whether it holds. */
static int wait_for(tv_server *s, int (*done)(const tv_server *), long ms) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&s->lock);
  int rc = 0;
  while (!done(s) && rc != ETIMEDOUT) {
    rc = pthread_cond_timedwait(&s->changed, &s->lock, &until);
  }
  int ok = done(s);
  pthread_mutex_unlock(&s->lock);
  return ok;
}

static int drained(const tv_server *s) { return s->shutdown_notified && s->live_calls == 0; }

tv_status tv_server_stop(tv_server *s) {
  if (s == NULL) {
    return TV_OK;
  }
  atomic_store(&s->shutting_down, 1);
  tv_health_shutdown(&s->health);
  grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
  if (!wait_for(s, drained, TV_SHUTDOWN_GRACE_MS)) {
    tv_log_message("warn", "shutdown", "grace period over: cancelling the calls still in flight");
    grpc_server_cancel_all_calls(s->server);
    if (!wait_for(s, drained, TV_SHUTDOWN_CANCEL_WAIT_MS)) {
      tv_log_message("error", "shutdown", "calls still alive after cancel; leaving the server allocated");
      return TV_E_INTERNAL;
    }
  }
  server_free(s);
  return TV_OK;
}
