/* grpc.health.v1.Health: Check and Watch. The server is SERVING from start
 * until shutdown begins, then NOT_SERVING; watchers get the change and
 * their stream ends, so load balancers stop sending before the drain.
 * In between it is NOT_SERVING while the service's readiness says data
 * calls cannot be answered (tv_health_set_readiness): Check asks it each
 * time; each Watch stream is sent the new status when it changes (looked
 * at every TV_HEALTH_WATCH_POLL_MS by a thread running tv_health_poll). */
#ifndef TV_SERVER_GRPC_HEALTH_H
#define TV_SERVER_GRPC_HEALTH_H

#include <pthread.h>
#include <stddef.h>

#include "vault/service/call_iface.h"
#include "vault/util/status.h"

/* Watch streams held open at once; beyond it Watch answers
 * RESOURCE_EXHAUSTED (probes poll with Check; Watch is for a few LBs). */
#define TV_HEALTH_WATCHERS_MAX 256

/* How often Watch streams are checked for a readiness change. */
#define TV_HEALTH_WATCH_POLL_MS 500

/* A Watch stream: the status it was last sent, and whether that send is
 * still in flight (one at a time). */
typedef struct tv_health_watcher {
  tv_call *call;
  int sent;
  int sending;
} tv_health_watcher;

typedef struct tv_health {
  pthread_mutex_t lock;
  pthread_cond_t cond; /* CLOCK_MONOTONIC; wakes the poller at shutdown */
  int shutting_down;
  tv_status (*readiness)(void *ctx); /* NULL: always ready */
  void *readiness_ctx;
  pthread_t poller; /* runs tv_health_poll while readiness is set */
  int poller_running;
  tv_health_watcher watchers[TV_HEALTH_WATCHERS_MAX];
  size_t watchers_count;
} tv_health;

/* tv_health_init prepares |health| (SERVING); tv_health_cleanup frees it
 * after tv_health_shutdown and once no call is left. */
void tv_health_init(tv_health *health);
void tv_health_cleanup(tv_health *health);

/* tv_health_check and tv_health_watch are tv_handler_fn handlers; |impl| is
 * the tv_health. */
void tv_health_check(void *impl, tv_call *call, const ProtobufCMessage *request);
void tv_health_watch(void *impl, tv_call *call, const ProtobufCMessage *request);

/* tv_health_set_readiness makes the status follow |readiness| (NULL:
 * nothing to follow) and starts the thread that tells watchers of its
 * changes (tv_health_poll); call it once, before serving. TV_OK or
 * TV_E_INTERNAL (thread). */
tv_status tv_health_set_readiness(tv_health *health, tv_status (*readiness)(void *ctx), void *ctx);

/* tv_health_poll sends every watcher the status if it changed since they
 * were last sent it (and their last send is done). */
void tv_health_poll(tv_health *health);

/* tv_health_shutdown turns the status to NOT_SERVING, sends it to every
 * watcher and ends their streams with OK. */
void tv_health_shutdown(tv_health *health);

#endif
