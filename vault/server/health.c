#include "vault/server/health.h"

#include <assert.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "vault/server/methods.h"

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

static int service_known(const char *name) {
  return name[0] == '\0' || strcmp(name, TV_SERVICE_NAME_TOKENVAULT) == 0 ||
         strcmp(name, TV_SERVICE_NAME_HEALTH) == 0;
}

/* Status of a known service; caller holds the lock. */
static serving_status status_locked(const tv_health *h) {
  return h->shutting_down ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                          : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
}

void tv_health_init(tv_health *h) {
  memset(h, 0, sizeof *h);
  pthread_mutex_init(&h->lock, NULL);
}

void tv_health_cleanup(tv_health *h) {
  assert(h->watchers_count == 0);
  pthread_mutex_destroy(&h->lock);
}

void tv_health_check(void *impl, tv_call *call, const ProtobufCMessage *request) {
  tv_health *h = impl;
  const Grpc__Health__V1__HealthCheckRequest *req = (const Grpc__Health__V1__HealthCheckRequest *)request;
  if (!service_known(req->service)) {
    tv_call_finish_grpc(call, GRPC_STATUS_NOT_FOUND, "unknown service name", NULL);
    return;
  }
  Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  pthread_mutex_lock(&h->lock);
  resp.status = status_locked(h);
  pthread_mutex_unlock(&h->lock);
  tv_call_finish(call, TV_OK, NULL, &resp.base);
}

/* The watcher went away: whoever removes it from the list ends the call. */
static void watch_closed(tv_call *call, void *arg) {
  tv_health *h = arg;
  int found = 0;
  pthread_mutex_lock(&h->lock);
  for (size_t i = 0; i < h->watchers_count; i++) {
    if (h->watchers[i] == call) {
      h->watchers[i] = h->watchers[--h->watchers_count];
      found = 1;
      break;
    }
  }
  if (found) {
    tv_call_finish_grpc(call, GRPC_STATUS_CANCELLED, "watch ended by the client", NULL);
  }
  pthread_mutex_unlock(&h->lock);
}

void tv_health_watch(void *impl, tv_call *call, const ProtobufCMessage *request) {
  tv_health *h = impl;
  const Grpc__Health__V1__HealthCheckRequest *req = (const Grpc__Health__V1__HealthCheckRequest *)request;
  Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  pthread_mutex_lock(&h->lock);
  resp.status = service_known(req->service) ? status_locked(h)
                                            : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
  if (h->shutting_down) {
    tv_call_finish(call, TV_OK, NULL, &resp.base); /* last status, then the end */
  } else if (h->watchers_count == TV_HEALTH_WATCHERS_MAX) {
    tv_call_finish_grpc(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                        "too many health watchers (TV_HEALTH_WATCHERS_MAX); poll with Check", NULL);
  } else if (tv_call_on_close(call, watch_closed, h) != 0) {
    tv_call_finish_grpc(call, GRPC_STATUS_CANCELLED, "watch ended by the client", NULL);
  } else if (tv_call_send(call, &resp.base, NULL, NULL) != TV_OK) {
    tv_call_finish_grpc(call, GRPC_STATUS_INTERNAL, "could not send the health status", NULL);
  } else {
    h->watchers[h->watchers_count++] = call;
  }
  pthread_mutex_unlock(&h->lock);
}

void tv_health_shutdown(tv_health *h) {
  Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  resp.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
  pthread_mutex_lock(&h->lock);
  h->shutting_down = 1;
  for (size_t i = 0; i < h->watchers_count; i++) {
    tv_call_finish(h->watchers[i], TV_OK, NULL, &resp.base);
  }
  h->watchers_count = 0;
  pthread_mutex_unlock(&h->lock);
}
