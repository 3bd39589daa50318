/* The audit log's queue and writer thread: producers format their entry in
 * their own thread and queue it; one thread takes everything queued (up to
 * a batch), writes it with one fdatasync and completes every entry in it. */
#include <string.h>
#include <time.h>

#include "vault/audit/audit_internal.h"

/* How long the writer sleeps when nothing is queued: until the next
 * checkpoint is due by time, or this long when none is pending. */
#define AUDIT_IDLE_WAIT_MS 1000u
/* After a failed checkpoint with nothing queued, the next try waits this
 * long (a producer's batch still tries at once, and fails closed). */
#define AUDIT_IDLE_RETRY_MS 500u

static void deadline_after(struct timespec *ts, uint64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)(ms / 1000u);
  ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static uint64_t idle_wait_ms(const tv_audit_log *log) {
  if (log->chain.since_checkpoint == 0) {
    return AUDIT_IDLE_WAIT_MS;
  }
  uint64_t now = audit_now_ms(0);
  if (now < log->idle_retry_ms) {
    return log->idle_retry_ms - now; /* a timed checkpoint failed: no busy loop */
  }
  uint64_t elapsed = now - log->last_checkpoint_ms;
  return elapsed >= log->checkpoint_interval_ms ? 0 : log->checkpoint_interval_ms - elapsed;
}

/* Completes the |count| entries from |first|: blocking waiters under |mu|,
 * callbacks after it is released (they may take their own locks). */
static void complete_batch(tv_audit_log *log, uint64_t first, size_t count) {
  tv_audit_done_fn done[AUDIT_BATCH_ENTRIES_MAX];
  void *args[AUDIT_BATCH_ENTRIES_MAX];
  pthread_mutex_lock(&log->mu);
  for (size_t i = 0; i < count; i++) {
    audit_slot *slot = &log->ring[(first + i) % AUDIT_QUEUE_ENTRIES_MAX];
    done[i] = slot->done;
    args[i] = slot->arg;
    if (slot->waiter != NULL) {
      slot->waiter->status = log->batch_results[i];
      slot->waiter->seq = log->batch_results[i] == TV_OK ? log->batch_seqs[i] : 0;
      slot->waiter->done = 1;
    }
  }
  log->head = first + count;
  log->stats = log->wstats;
  pthread_cond_broadcast(&log->done_cv);
  pthread_cond_broadcast(&log->space_cv);
  pthread_mutex_unlock(&log->mu);
  for (size_t i = 0; i < count; i++) {
    if (done[i] != NULL) {
      done[i](args[i], log->batch_results[i],
              log->batch_results[i] == TV_OK ? log->batch_seqs[i] : 0);
    }
  }
}

/* Serves explicit checkpoint requests (tv_audit_checkpoint, close). */
static void serve_checkpoint(tv_audit_log *log, uint64_t asked) {
  tv_status status = audit_write_batch(log, log->head, 0, 1);
  pthread_mutex_lock(&log->mu);
  log->checkpoints_done = asked;
  log->checkpoint_status = status;
  log->stats = log->wstats;
  pthread_cond_broadcast(&log->done_cv);
  pthread_mutex_unlock(&log->mu);
}

void *audit_writer_main(void *arg) {
  tv_audit_log *log = arg;
  pthread_mutex_lock(&log->mu);
  for (;;) {
    uint64_t queued = log->tail - log->head;
    if (queued == 0 && log->checkpoints_asked == log->checkpoints_done) {
      if (log->stopping) {
        break;
      }
      uint64_t wait_ms = idle_wait_ms(log);
      if (wait_ms > 0) {
        struct timespec deadline;
        deadline_after(&deadline, wait_ms);
        pthread_cond_timedwait(&log->work_cv, &log->mu, &deadline);
        continue;
      }
    }
    uint64_t first = log->head;
    size_t count = queued < AUDIT_BATCH_ENTRIES_MAX ? (size_t)queued : AUDIT_BATCH_ENTRIES_MAX;
    uint64_t asked = log->checkpoints_asked;
    int want_checkpoint = count == 0 && asked != log->checkpoints_done;
    pthread_mutex_unlock(&log->mu);
    if (want_checkpoint) {
      serve_checkpoint(log, asked);
    } else {
      /* count == 0 here is a checkpoint due by time alone. */
      if (audit_write_batch(log, first, count, 0) != TV_OK && count == 0) {
        log->idle_retry_ms = audit_now_ms(0) + AUDIT_IDLE_RETRY_MS;
      }
      complete_batch(log, first, count);
    }
    pthread_mutex_lock(&log->mu);
  }
  pthread_mutex_unlock(&log->mu);
  return NULL;
}

/* Claims a queue slot (waiting for room) and fills it; |waiter| or |done|
 * learns the outcome. */
static tv_status enqueue(tv_audit_log *log, const tv_audit_entry *entry, audit_waiter *waiter,
                         tv_audit_done_fn done, void *arg) {
  TV_ENSURE(log != NULL, TV_E_INVALID_ARGUMENT);
  char body[AUDIT_BODY_BYTES_MAX];
  size_t body_len = 0;
  TV_TRY(audit_body_format(body, &body_len, entry));
  pthread_mutex_lock(&log->mu);
  while (!log->stopping && log->tail - log->head >= AUDIT_QUEUE_ENTRIES_MAX) {
    pthread_cond_wait(&log->space_cv, &log->mu);
  }
  if (log->stopping) {
    pthread_mutex_unlock(&log->mu);
    return TV_E_AUDIT_CLOSED;
  }
  audit_slot *slot = &log->ring[log->tail % AUDIT_QUEUE_ENTRIES_MAX];
  memcpy(slot->body, body, body_len);
  slot->body_len = body_len;
  slot->waiter = waiter;
  slot->done = done;
  slot->arg = arg;
  log->tail++;
  pthread_cond_signal(&log->work_cv);
  pthread_mutex_unlock(&log->mu);
  return TV_OK;
}

tv_status tv_audit_append(tv_audit_log *log, uint64_t *out_seq, const tv_audit_entry *entry) {
  audit_waiter waiter = {0, TV_E_INTERNAL, 0};
  if (out_seq != NULL) {
    *out_seq = 0;
  }
  TV_TRY(enqueue(log, entry, &waiter, NULL, NULL));
  pthread_mutex_lock(&log->mu);
  while (!waiter.done) {
    pthread_cond_wait(&log->done_cv, &log->mu);
  }
  pthread_mutex_unlock(&log->mu);
  if (out_seq != NULL) {
    *out_seq = waiter.seq;
  }
  return waiter.status;
}

tv_status tv_audit_append_async(tv_audit_log *log, const tv_audit_entry *entry,
                                tv_audit_done_fn done, void *arg) {
  TV_ENSURE(done != NULL, TV_E_INVALID_ARGUMENT);
  return enqueue(log, entry, NULL, done, arg);
}

tv_status tv_audit_checkpoint(tv_audit_log *log) {
  TV_ENSURE(log != NULL, TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&log->mu);
  uint64_t ticket = ++log->checkpoints_asked;
  pthread_cond_signal(&log->work_cv);
  while (log->checkpoints_done < ticket) {
    pthread_cond_wait(&log->done_cv, &log->mu);
  }
  tv_status status = log->checkpoint_status;
  pthread_mutex_unlock(&log->mu);
  return status;
}

void tv_audit_stats_get(tv_audit_log *log, tv_audit_stats *out_stats) {
  pthread_mutex_lock(&log->mu);
  *out_stats = log->stats;
  pthread_mutex_unlock(&log->mu);
}
