/* The interface between a transport (vault/server/grpc/) and the code that
 * implements the API. The engine adapter (engine_service.h) fills a
 * tv_service; the transport registers every method of
 * vault/service/methods.h and dispatches each call to its handler as a
 * tv_call (vault/service/call_iface.h).
 *
 * A handler runs on a worker thread with the call's decoded, validated
 * request (valid until the call is finished) and must end the call exactly
 * once with tv_call_finish/tv_call_finish_code (vault/service/call_iface.h), now or
 * later from any thread. It must not block for long on anything but its own
 * work; a handler that waits for storage should finish the call from the
 * storage writer's completion instead of blocking the worker.
 *
 * Bidirectional streams (TokenizeStream, DetokenizeStream): the handler
 * runs once per request message and answers it with exactly one
 * tv_call_send (or ends the call with tv_call_finish); the server reads the
 * next message only after that reply was written, so each stream holds at
 * most one request and one reply in memory and a slow reader slows the
 * writer (HTTP/2 flow control does the rest). The request must not be
 * used once its reply is sent (the next one replaces it). When the client half-closes,
 * the handler runs once more with request == NULL and must finish the call.
 *
 * Methods whose handler is NULL answer UNIMPLEMENTED ("not implemented yet:
 * engine not wired"). Health and WhoAmI have built-in handlers that the
 * service may replace. */
#ifndef TV_SERVICE_SERVICE_H
#define TV_SERVICE_SERVICE_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "vault/service/call_iface.h"
#include "vault/service/methods.h"

typedef void (*tv_handler_fn)(void *impl, tv_call *call, const ProtobufCMessage *request);

typedef struct tv_handler {
  tv_handler_fn fn; /* NULL: UNIMPLEMENTED */
  void *impl;       /* passed back as the first argument */
} tv_handler;

/* How one call of a known method ended, for the service's accounting. */
typedef struct tv_call_end {
  tv_method_id method;
  int code;            /* the tv_code it was answered with; CANCELLED if none */
  int handled;         /* 1: its handler ran (for a stream: at least once) */
  uint64_t latency_us; /* from the call's start to its end */
  int authenticated;   /* 1: |principal| comes from a verified certificate */
  const char *principal; /* "" when unauthenticated; valid during the callback */
  const char *peer;      /* network peer; valid during the callback */
  int admission_refused; /* 1: refused by admission control (server busy) */
} tv_call_end;

/* Called once per call of a known method when the server releases it, on
 * whichever thread that happens (keep it short, never block). Calls the
 * server answers without the service's handlers — malformed requests,
 * deadlines passed, a full queue, a draining server, and the built-in
 * Health and WhoAmI — are seen only here. */
typedef void (*tv_call_end_fn)(void *ctx, const tv_call_end *end);

typedef struct tv_service {
  tv_handler handlers[TV_METHOD_COUNT]; /* indexed by tv_method_id */
  tv_call_end_fn on_call_end;           /* NULL: not told */
  void *on_call_end_ctx;
  /* Why a data call cannot be answered now, TV_OK if it can: Health is
   * NOT_SERVING while it is not TV_OK. Called on Health calls (keep it
   * cheap, never block). NULL: ready whenever not shutting down. */
  tv_status (*readiness)(void *ctx);
  void *readiness_ctx;
} tv_service;

#endif
