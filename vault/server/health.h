/* grpc.health.v1.Health: Check and Watch. The server is SERVING from start
 * until shutdown begins, then NOT_SERVING; watchers get the change and
 * their stream ends, so load balancers stop sending before the drain. */
#ifndef TV_SERVER_HEALTH_H
#define TV_SERVER_HEALTH_H

#include <pthread.h>
#include <stddef.h>

#include "vault/server/call.h"

/* Watch streams held open at once; beyond it Watch answers
 * RESOURCE_EXHAUSTED (probes poll with Check; Watch is for a few LBs). */
#define TV_HEALTH_WATCHERS_MAX 256

typedef struct tv_health {
  pthread_mutex_t lock;
  int shutting_down;
  tv_call *watchers[TV_HEALTH_WATCHERS_MAX];
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

/* tv_health_shutdown turns the status to NOT_SERVING, sends it to every
 * watcher and ends their streams with OK. */
void tv_health_shutdown(tv_health *health);

#endif
