#include "vault/server/grpc/health.h"

#include <assert.h>
#include <string.h>
#include <time.h>

#include "grpc/health/v1/health.pb-c.h"
#include "vault/service/methods.h"

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

static int service_known(const char *name) {
  return name[0] == '\0' || strcmp(name, TV_SERVICE_NAME_TOKENVAULT) == 0 ||
         strcmp(name, TV_SERVICE_NAME_HEALTH) == 0;
}

/* Status of a known service; caller holds the lock. Not serving while
 * data calls would be refused (readiness.h): the audit log cannot take
 * a line, the HSM cannot seal a due checkpoint. */
static serving_status status_locked(const tv_health *h) {
  int ready = !h->shutting_down && (h->readiness == NULL || h->readiness(h->readiness_ctx) == TV_OK);
  return ready ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
               : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
}

void tv_health_init(tv_health *h) {
  memset(h, 0, sizeof *h);
  pthread_mutex_init(&h->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&h->cond, &attr);
  pthread_condattr_destroy(&attr);
}

static void stop_poller(tv_health *h) {
  pthread_mutex_lock(&h->lock);
  int running = h->poller_running;
  h->poller_running = 0;
  pthread_cond_signal(&h->cond);
  pthread_mutex_unlock(&h->lock);
  if (running) {
    pthread_join(h->poller, NULL);
  }
}

void tv_health_cleanup(tv_health *h) {
  stop_poller(h);
  assert(h->watchers_count == 0);
  pthread_cond_destroy(&h->cond);
  pthread_mutex_destroy(&h->lock);
}

/* A status sent to a watcher was written (or its call ended). */
static void watch_sent(tv_call *call, int success, void *arg) {
  (void)success;
  tv_health *h = arg;
  pthread_mutex_lock(&h->lock);
  for (size_t i = 0; i < h->watchers_count; i++) {
    if (h->watchers[i].call == call) {
      h->watchers[i].sending = 0;
    }
  }
  pthread_mutex_unlock(&h->lock);
}

/* Sends |status| to watcher |w| (caller holds the lock); 0 on success. */
static int watch_send(tv_health *h, tv_health_watcher *w, serving_status status) {
  Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  resp.status = status;
  w->sending = 1;
  if (tv_call_send(w->call, &resp.base, watch_sent, h) != TV_OK) {
    w->sending = 0;
    return 1;
  }
  w->sent = (int)status;
  return 0;
}

void tv_health_poll(tv_health *h) {
  pthread_mutex_lock(&h->lock);
  if (!h->shutting_down) {
    serving_status now = status_locked(h);
    for (size_t i = 0; i < h->watchers_count; i++) {
      tv_health_watcher *w = &h->watchers[i];
      if (w->sent != (int)now && !w->sending) {
        (void)watch_send(h, w, now); /* a failed send: the call is ending (watch_closed) */
      }
    }
  }
  pthread_mutex_unlock(&h->lock);
}

static void *poller_main(void *arg) {
  tv_health *h = arg;
  pthread_mutex_lock(&h->lock);
  while (h->poller_running && !h->shutting_down) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ns = ts.tv_nsec + (long)TV_HEALTH_WATCH_POLL_MS * 1000000L;
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_cond_timedwait(&h->cond, &h->lock, &ts);
    if (h->poller_running && !h->shutting_down) {
      pthread_mutex_unlock(&h->lock);
      tv_health_poll(h);
      pthread_mutex_lock(&h->lock);
    }
  }
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

tv_status tv_health_set_readiness(tv_health *h, tv_status (*readiness)(void *ctx), void *ctx) {
  assert(!h->poller_running);
  h->readiness = readiness;
  h->readiness_ctx = ctx;
  if (readiness == NULL) {
    return TV_OK;
  }
  h->poller_running = 1;
  if (pthread_create(&h->poller, NULL, poller_main, h) != 0) {
    h->poller_running = 0;
    return TV_E_INTERNAL;
  }
  return TV_OK;
}

void tv_health_check(void *impl, tv_call *call, const ProtobufCMessage *request) {
  tv_health *h = impl;
  const Grpc__Health__V1__HealthCheckRequest *req = (const Grpc__Health__V1__HealthCheckRequest *)request;
  if (!service_known(req->service)) {
    tv_call_finish_code(call, TV_CODE_NOT_FOUND, "unknown service name", NULL);
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
    if (h->watchers[i].call == call) {
      h->watchers[i] = h->watchers[--h->watchers_count];
      found = 1;
      break;
    }
  }
  if (found) {
    tv_call_finish_code(call, TV_CODE_CANCELLED, "watch ended by the client", NULL);
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
    tv_call_finish_code(call, TV_CODE_RESOURCE_EXHAUSTED,
                        "too many health watchers (TV_HEALTH_WATCHERS_MAX); poll with Check", NULL);
  } else if (tv_call_on_close(call, watch_closed, h) != 0) {
    tv_call_finish_code(call, TV_CODE_CANCELLED, "watch ended by the client", NULL);
  } else {
    tv_health_watcher *w = &h->watchers[h->watchers_count];
    *w = (tv_health_watcher){.call = call};
    if (watch_send(h, w, resp.status) != 0) {
      tv_call_finish_code(call, TV_CODE_INTERNAL, "could not send the health status", NULL);
    } else {
      h->watchers_count++;
    }
  }
  pthread_mutex_unlock(&h->lock);
}

void tv_health_shutdown(tv_health *h) {
  Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  resp.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
  pthread_mutex_lock(&h->lock);
  h->shutting_down = 1;
  for (size_t i = 0; i < h->watchers_count; i++) {
    tv_call_finish(h->watchers[i].call, TV_OK, NULL, &resp.base);
  }
  h->watchers_count = 0;
  pthread_mutex_unlock(&h->lock);
  stop_poller(h);
}
