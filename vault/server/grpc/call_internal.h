/* The call object as the server core sees it (not for handlers). */
#ifndef TV_SERVER_GRPC_CALL_INTERNAL_H
#define TV_SERVER_GRPC_CALL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "vault/server/grpc/call.h"
#include "vault/server/grpc/identity.h"
#include "vault/server/common/request_decode.h"

typedef struct tv_server tv_server;

/* Every batch's completion-queue tag: the function to run and its owner. */
typedef struct tv_tag {
  void (*fn)(void *owner, int success);
  void *owner;
} tv_tag;

struct tv_grpc_call {
  tv_call base; /* first: what handlers get (vault/service/call_iface.h) */
  tv_server *server;
  const tv_method *method; /* NULL for the generic (unknown method) request */
  grpc_call *call;
  gpr_timespec deadline;
  grpc_call_details details; /* generic requests only */
  grpc_metadata_array request_md;
  grpc_byte_buffer *payload; /* unary and server-streaming requests */
  tv_request request;
  tv_identity identity;
  char peer[80]; /* for logs: an address, never an identity */
  uint64_t start_ns;

  tv_tag accept_tag;
  tv_tag close_tag;
  tv_tag send_tag;
  tv_tag finish_tag;
  tv_tag recv_tag; /* bidi streams: fn set by the server */
  grpc_byte_buffer *recv_buffer;
  int streaming;   /* bidi: read the next request after each reply is sent */
  int handled;     /* the handler ran (read once the last reference went) */
  /* Admission (admission.h): what this call (or the stream's current
   * message) holds in flight, released when the last reference goes. */
  uint64_t admitted_items;
  uint64_t admitted_bytes;
  int admission_refused; /* answered RESOURCE_EXHAUSTED: server busy */
  atomic_int refs; /* owner (until finish) + one per batch in flight */

  pthread_mutex_t lock; /* guards everything below */
  int close_cancelled;  /* written by RECV_CLOSE_ON_SERVER */
  int closed;
  int initial_md_sent;
  int send_in_flight;
  grpc_byte_buffer *send_buffer;
  tv_sent_fn on_sent;
  void *on_sent_arg;
  int finish_started;
  int finish_deferred; /* waiting for the send in flight */
  grpc_status_code finish_code;
  grpc_slice finish_details;
  grpc_byte_buffer *finish_buffer;
  tv_close_fn on_close;
  void *on_close_arg;
};

/* tv_grpc_call_new allocates a call object for one request of |method| (NULL:
 * generic) with |accept_fn| as its accept tag. NULL if out of memory. */
tv_grpc_call *tv_grpc_call_new(tv_server *server, const tv_method *method, void (*accept_fn)(void *, int));

/* tv_grpc_call_free_unaccepted frees a call whose request never matched a call. */
void tv_grpc_call_free_unaccepted(tv_grpc_call *call);

/* tv_grpc_call_start runs once the request matched: records identity and start
 * time, takes the owner reference and posts RECV_CLOSE_ON_SERVER. */
void tv_grpc_call_start(tv_grpc_call *call);

/* tv_grpc_call_post_recv posts RECV_MESSAGE into |call->recv_buffer| with
 * |call->recv_tag| (bidi streams; one receive in flight at a time). */
void tv_grpc_call_post_recv(tv_grpc_call *call);

/* tv_grpc_call_unref drops one reference (e.g. of a completed receive). */
void tv_grpc_call_unref(tv_grpc_call *call);

/* tv_grpc_call_finish_started returns 1 once the call is being finished. */
int tv_grpc_call_finish_started(tv_grpc_call *call);

/* tv_grpc_call_latency_us returns the microseconds since tv_grpc_call_start. */
uint64_t tv_grpc_call_latency_us(const tv_grpc_call *call);

/* tv_server_call_log writes the call's log line and tells the service's
 * on_call_end when its last reference goes; tv_server_call_released then
 * tells shutdown one call fewer is alive (both in server.c). */
void tv_server_call_log(tv_server *server, tv_grpc_call *call);
void tv_server_call_released(tv_server *server);

/* tv_server_stream_answered returns a stream message's admission
 * reservation once its reply is sent (an idle stream holds none). */
void tv_server_stream_answered(tv_server *server, tv_grpc_call *call);

#endif
