#include "vault/service/refusal_audit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "vault/service/limits.h"
#include "vault/service/log.h"
#include "vault/service/status_map.h"
#include "vault/util/clock.h"

/* A refused call, copied out of the call (which is freed right after the
 * report): fixed-size so queueing never allocates. */
typedef struct refusal {
  const char *method; /* from the static method table */
  char principal[TV_PRINCIPAL_BYTES_MAX + 1];
  char peer[80];
  int code;
  uint64_t time_ms;
  uint64_t latency_us;
} refusal;

struct tv_refusal_audit {
  tv_audit_log *audit;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t work_cv;
  refusal ring[TV_REFUSAL_AUDIT_RING_MAX];
  uint64_t head, tail; /* ring[head % MAX] is the oldest queued */
  int stopping;
  uint64_t in_audit; /* lines handed to the audit log, not yet done */
  pthread_cond_t done_cv;
  atomic_uint_fast64_t dropped;      /* ring full: never written */
  atomic_uint_fast64_t failed;       /* the audit log refused the line */
  uint64_t dropped_logged;           /* writer thread only */
};

uint64_t tv_refusal_audit_dropped(tv_refusal_audit *ra) {
  return ra != NULL ? atomic_load(&ra->dropped) : 0;
}

/* The audit log reports each line's outcome; a refusal has no caller left
 * to tell, so a failure is only counted (and logged with the drops). */
static void line_done(void *arg, tv_status status, uint64_t seq) {
  (void)seq;
  tv_refusal_audit *ra = arg;
  if (status != TV_OK) {
    atomic_fetch_add(&ra->failed, 1);
  }
  /* stop waits for this: |ra| must outlive every callback. */
  pthread_mutex_lock(&ra->mu);
  ra->in_audit--;
  pthread_cond_broadcast(&ra->done_cv);
  pthread_mutex_unlock(&ra->mu);
}

static void write_one(tv_refusal_audit *ra, const refusal *r) {
  tv_audit_entry e = {
      .type = TV_AUDIT_CALL,
      .time_ms = r->time_ms,
      .principal = r->principal,
      .peer = r->peer,
      .method = r->method,
      .code = (uint32_t)r->code,
      .outcome = tv_code_name(r->code),
      .latency_us = r->latency_us,
  };
  pthread_mutex_lock(&ra->mu);
  ra->in_audit++;
  pthread_mutex_unlock(&ra->mu);
  if (tv_audit_append_async(ra->audit, &e, line_done, ra) != TV_OK) {
    atomic_fetch_add(&ra->failed, 1);
    pthread_mutex_lock(&ra->mu);
    ra->in_audit--; /* refused now: line_done will not run */
    pthread_mutex_unlock(&ra->mu);
  }
}

/* Says how many lines were lost since the last time it said so, so a flood
 * shows in the log once rather than once per call. */
static void log_losses(tv_refusal_audit *ra) {
  uint64_t dropped = atomic_load(&ra->dropped);
  uint64_t failed = atomic_load(&ra->failed);
  if (dropped + failed == ra->dropped_logged) {
    return;
  }
  ra->dropped_logged = dropped + failed;
  tv_log_line line;
  tv_log_begin(&line, "warn", "refusal_audit_lost");
  tv_log_int(&line, "dropped_total", (int64_t)dropped);
  tv_log_int(&line, "audit_failed_total", (int64_t)failed);
  tv_log_end(&line);
}

static void *writer_main(void *arg) {
  tv_refusal_audit *ra = arg;
  pthread_mutex_lock(&ra->mu);
  for (;;) {
    while (!ra->stopping && ra->head == ra->tail) {
      pthread_cond_wait(&ra->work_cv, &ra->mu);
    }
    if (ra->head == ra->tail) {
      break; /* stopping and drained */
    }
    /* Copied out so the lock is not held while the audit log may block. */
    refusal r = ra->ring[ra->head % TV_REFUSAL_AUDIT_RING_MAX];
    ra->head++;
    int idle = ra->head == ra->tail;
    pthread_mutex_unlock(&ra->mu);
    write_one(ra, &r);
    if (idle) {
      log_losses(ra);
    }
    pthread_mutex_lock(&ra->mu);
  }
  pthread_mutex_unlock(&ra->mu);
  log_losses(ra);
  return NULL;
}

tv_status tv_refusal_audit_start(tv_refusal_audit **out, tv_audit_log *audit) {
  TV_ENSURE(out != NULL && audit != NULL, TV_E_INVALID_ARGUMENT);
  *out = NULL;
  tv_refusal_audit *ra = calloc(1, sizeof *ra);
  TV_ENSURE(ra != NULL, TV_E_NO_MEMORY);
  ra->audit = audit;
  pthread_mutex_init(&ra->mu, NULL);
  pthread_cond_init(&ra->work_cv, NULL);
  pthread_cond_init(&ra->done_cv, NULL);
  if (pthread_create(&ra->thread, NULL, writer_main, ra) != 0) {
    pthread_cond_destroy(&ra->done_cv);
    pthread_cond_destroy(&ra->work_cv);
    pthread_mutex_destroy(&ra->mu);
    free(ra);
    return TV_E_INTERNAL;
  }
  *out = ra;
  return TV_OK;
}

int tv_refusal_audit_report(tv_refusal_audit *ra, const char *method, const char *principal, const char *peer,
                            int code, uint64_t latency_us) {
  if (ra == NULL) {
    return 0;
  }
  uint64_t time_ms = tv_unix_ms(); /* when refused, not when written */
  pthread_mutex_lock(&ra->mu);
  if (ra->stopping || ra->tail - ra->head >= TV_REFUSAL_AUDIT_RING_MAX) {
    pthread_mutex_unlock(&ra->mu);
    atomic_fetch_add(&ra->dropped, 1);
    return 0;
  }
  refusal *r = &ra->ring[ra->tail % TV_REFUSAL_AUDIT_RING_MAX];
  r->method = method;
  snprintf(r->principal, sizeof r->principal, "%s", principal != NULL ? principal : "");
  snprintf(r->peer, sizeof r->peer, "%s", peer != NULL ? peer : "");
  r->code = code;
  r->time_ms = time_ms;
  r->latency_us = latency_us;
  ra->tail++;
  pthread_cond_signal(&ra->work_cv);
  pthread_mutex_unlock(&ra->mu);
  return 1;
}

void tv_refusal_audit_stop(tv_refusal_audit *ra) {
  if (ra == NULL) {
    return;
  }
  pthread_mutex_lock(&ra->mu);
  ra->stopping = 1;
  pthread_cond_signal(&ra->work_cv);
  pthread_mutex_unlock(&ra->mu);
  pthread_join(ra->thread, NULL);
  pthread_mutex_lock(&ra->mu);
  while (ra->in_audit > 0) {
    pthread_cond_wait(&ra->done_cv, &ra->mu);
  }
  pthread_mutex_unlock(&ra->mu);
  pthread_cond_destroy(&ra->done_cv);
  pthread_cond_destroy(&ra->work_cv);
  pthread_mutex_destroy(&ra->mu);
  free(ra);
}
