#include "vault/service/readiness.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "vault/service/log.h"
#include "vault/util/clock.h"

#define READINESS_PRINCIPAL "system:health"
#define READINESS_METHOD "Readiness"

struct tv_readiness {
  pthread_mutex_t lock;
  pthread_cond_t cond; /* CLOCK_MONOTONIC; signalled on stop */
  pthread_t thread;
  int stop;
  atomic_int ready; /* the hot path reads only this */
  tv_status reason; /* TV_OK when ready */
  uint64_t since_ms;  /* monotonic: when the current fault began */
  uint64_t refused;   /* calls refused since then */
  uint64_t last_log_ms;
  uint64_t last_remind_ms;
  uint64_t suppressed; /* changes not logged (rate limit) */
  tv_status last_logged; /* the reason the last line gave */
  tv_audit_log *audit;
  char audit_dir[PATH_MAX];
  char store_dir[PATH_MAX]; /* "" : not checked */
  tv_store *store;          /* NULL: not asked */
  uint32_t probe_ms;
};

/* ---- logging (caller holds the lock) ----------------------------------- */

static void log_state(tv_readiness *r, const char *event, tv_status cause, uint64_t now) {
  tv_log_line line;
  tv_log_begin(&line, r->reason == TV_OK ? "info" : "error", event);
  tv_log_str(&line, "reason", tv_status_name(r->reason));
  if (r->reason != TV_OK) {
    tv_log_str(&line, "msg", tv_status_message(r->reason));
    tv_log_str(&line, "health", "NOT_SERVING");
  } else {
    tv_log_str(&line, "was", tv_status_name(cause));
    tv_log_str(&line, "health", "SERVING");
  }
  tv_log_int(&line, "duration_ms", (int64_t)(now - r->since_ms));
  tv_log_int(&line, "calls_refused", (int64_t)r->refused);
  if (r->suppressed != 0) {
    tv_log_int(&line, "changes_not_logged", (int64_t)r->suppressed);
  }
  tv_log_end(&line);
  r->suppressed = 0;
  r->last_logged = r->reason;
  r->last_log_ms = now;
  r->last_remind_ms = now;
}

/* Logs a change of state unless one was logged less than
 * TV_READINESS_LOG_MS ago; the probe logs the state it settled in. */
static void log_change(tv_readiness *r, tv_status cause, uint64_t now) {
  if (r->last_log_ms != 0 && now - r->last_log_ms < TV_READINESS_LOG_MS) {
    r->suppressed++;
    return;
  }
  log_state(r, r->reason == TV_OK ? "vault_ready" : "vault_not_ready", cause, now);
}

/* ---- state (caller holds the lock) ------------------------------------- */

static void set_failed(tv_readiness *r, tv_status status, int refused_call) {
  uint64_t now = tv_mono_ms();
  r->refused += refused_call != 0;
  if (r->reason == status) {
    return;
  }
  if (r->reason == TV_OK) {
    r->since_ms = now;
    r->refused = refused_call != 0;
  }
  tv_status was = r->reason;
  r->reason = status;
  atomic_store(&r->ready, 0);
  log_change(r, was, now);
}

static void set_ok(tv_readiness *r) {
  if (r->reason == TV_OK) {
    return;
  }
  tv_status was = r->reason;
  r->reason = TV_OK;
  atomic_store(&r->ready, 1);
  log_change(r, was, tv_mono_ms());
}

/* The store's faults: they need no audit line to clear (the probe
 * clears them when the store answers again). */
static int is_store_reason(tv_status status) {
  return status == TV_E_STORE_NO_SPACE || status == TV_E_STORE_UNAVAILABLE || status == TV_E_STORE_TIMEOUT;
}

/* Statuses that say nothing about whether the log can take lines: one
 * entry with a bad field (that call's problem), a log closing at stop
 * (health is already draining). */
static int says_nothing(tv_status status) {
  return status == TV_E_AUDIT_ENTRY_INVALID || status == TV_E_AUDIT_CLOSED;
}

void tv_readiness_audit(tv_readiness *r, tv_status status) {
  if (r == NULL || (status == TV_OK && atomic_load(&r->ready)) || says_nothing(status)) {
    return;
  }
  pthread_mutex_lock(&r->lock);
  if (status != TV_OK) {
    set_failed(r, status, 1);
  } else if (!is_store_reason(r->reason)) { /* a line says nothing of the store */
    set_ok(r);
  }
  pthread_mutex_unlock(&r->lock);
}

tv_status tv_readiness_reason(tv_readiness *r) {
  if (r == NULL || atomic_load(&r->ready)) {
    return TV_OK;
  }
  pthread_mutex_lock(&r->lock);
  tv_status reason = r->reason;
  pthread_mutex_unlock(&r->lock);
  return reason;
}

/* ---- the probe ----------------------------------------------------------- */

static int space_low(const char *dir, uint64_t min_bytes) {
  struct statvfs v;
  if (dir[0] == '\0' || statvfs(dir, &v) != 0) {
    return 0; /* not knowable here; the writes will tell */
  }
  return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize < min_bytes;
}

/* Appends the entry that says the audit log works again (and for how long
 * it did not); durable means every call can be answered again. */
static tv_status append_resumed(tv_readiness *r, tv_status reason, uint64_t since_ms, uint64_t refused) {
  char detail[160];
  snprintf(detail, sizeof detail, "%s for %llu ms, %llu calls refused", tv_status_name(reason),
           (unsigned long long)(tv_mono_ms() - since_ms), (unsigned long long)refused);
  tv_audit_entry e = {
      .type = TV_AUDIT_ALERT,
      .principal = READINESS_PRINCIPAL,
      .peer = "local",
      .method = READINESS_METHOD,
      .alert = "audit_resumed",
      .items = refused,
      .detail = detail,
  };
  return tv_audit_append(r->audit, NULL, &e);
}

/* Logs the state the vault settled in if changes were suppressed, and
 * reminds while it is not ready (caller holds the lock). */
static void log_pending(tv_readiness *r, tv_status was, uint64_t now) {
  if (r->suppressed != 0 && now - r->last_log_ms >= TV_READINESS_LOG_MS) {
    log_state(r, r->reason == TV_OK ? "vault_ready" : "vault_not_ready", was, now);
  } else if (r->reason != TV_OK && now - r->last_remind_ms >= TV_READINESS_REMIND_MS) {
    log_state(r, "vault_still_not_ready", was, now);
  }
}

static void probe_once(tv_readiness *r) {
  pthread_mutex_lock(&r->lock);
  tv_status reason = r->reason;
  uint64_t since = r->since_ms;
  uint64_t refused = r->refused;
  tv_status was = r->suppressed != 0 ? r->last_logged : reason;
  pthread_mutex_unlock(&r->lock);
  tv_status st = TV_OK;
  /* Free space first: an append on a full disk only fails again. */
  if (space_low(r->audit_dir, TV_READINESS_AUDIT_FREE_BYTES_MIN)) {
    st = TV_E_AUDIT_NO_SPACE;
  } else if (reason != TV_OK && !is_store_reason(reason)) {
    st = append_resumed(r, reason, since, refused);
  }
  /* The store's faults need no audit line to clear. */
  if (st == TV_OK && space_low(r->store_dir, TV_READINESS_STORE_FREE_BYTES_MIN)) {
    st = TV_E_STORE_NO_SPACE;
  }
  if (st == TV_OK && r->store != NULL) {
    st = tv_store_health(r->store);
  }
  pthread_mutex_lock(&r->lock);
  if (st == TV_OK) {
    set_ok(r);
  } else {
    set_failed(r, st, 0);
  }
  log_pending(r, was, tv_mono_ms());
  pthread_mutex_unlock(&r->lock);
}

static void *probe_main(void *arg) {
  tv_readiness *r = arg;
  pthread_mutex_lock(&r->lock);
  while (!r->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)r->probe_ms * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    if (!r->stop) {
      pthread_mutex_unlock(&r->lock);
      probe_once(r);
      pthread_mutex_lock(&r->lock);
    }
  }
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

tv_status tv_readiness_start(tv_readiness **out, const tv_readiness_config *config) {
  TV_ENSURE(out != NULL && config != NULL && config->audit != NULL && config->audit_dir != NULL,
            TV_E_INVALID_ARGUMENT);
  tv_readiness *r = calloc(1, sizeof *r);
  TV_ENSURE(r != NULL, TV_E_NO_MEMORY);
  int n = snprintf(r->audit_dir, sizeof r->audit_dir, "%s", config->audit_dir);
  if (n < 0 || (size_t)n >= sizeof r->audit_dir) {
    free(r);
    return TV_E_INVALID_ARGUMENT;
  }
  n = snprintf(r->store_dir, sizeof r->store_dir, "%s", config->store_dir != NULL ? config->store_dir : "");
  if (n < 0 || (size_t)n >= sizeof r->store_dir) {
    free(r);
    return TV_E_INVALID_ARGUMENT;
  }
  r->audit = config->audit;
  r->store = config->store;
  r->probe_ms = config->probe_ms != 0 ? config->probe_ms : TV_READINESS_PROBE_MS;
  atomic_init(&r->ready, 1);
  pthread_mutex_init(&r->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cond, &attr);
  pthread_condattr_destroy(&attr);
  if (pthread_create(&r->thread, NULL, probe_main, r) != 0) {
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return TV_E_INTERNAL;
  }
  *out = r;
  return TV_OK;
}

void tv_readiness_stop(tv_readiness *r) {
  if (r == NULL) {
    return;
  }
  pthread_mutex_lock(&r->lock);
  r->stop = 1;
  pthread_cond_signal(&r->cond);
  pthread_mutex_unlock(&r->lock);
  pthread_join(r->thread, NULL);
  pthread_cond_destroy(&r->cond);
  pthread_mutex_destroy(&r->lock);
  free(r);
}
