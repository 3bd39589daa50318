/* Opening (new or existing log) and closing the audit log. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "hsm/counter.h"
#include "hsm/dev_init.h"
#include "vault/audit/audit_internal.h"

static tv_status copy_config(tv_audit_log *log, const tv_audit_config *config) {
  TV_ENSURE(config != NULL && config->dir != NULL && config->hsm != NULL,
            TV_E_INVALID_ARGUMENT);
  const char *label = config->mac_label != NULL ? config->mac_label : TV_HSM_DEV_MAC_LABEL;
  size_t label_len = strlen(label);
  /* The label is written into checkpoints as is; the verifier accepts
   * plain labels only. */
  TV_ENSURE(label_len > 0 && label_len <= TV_HSM_LABEL_MAX && strpbrk(label, "\"\\") == NULL,
            TV_E_INVALID_ARGUMENT);
  memcpy(log->mac_label, label, label_len + 1);
  log->hsm = config->hsm;
  log->checkpoint_entries = config->checkpoint_entries != 0 ? config->checkpoint_entries
                                                            : AUDIT_CHECKPOINT_ENTRIES_DEFAULT;
  log->checkpoint_interval_ms = config->checkpoint_interval_ms != 0
                                    ? config->checkpoint_interval_ms
                                    : AUDIT_CHECKPOINT_INTERVAL_MS_DEFAULT;
  log->segment_bytes_max =
      config->segment_bytes_max != 0 ? config->segment_bytes_max : AUDIT_SEGMENT_BYTES_DEFAULT;
  TV_ENSURE(log->segment_bytes_max >= AUDIT_SEGMENT_BYTES_MIN, TV_E_INVALID_ARGUMENT);
  return TV_OK;
}

/* A new log: random id, its HSM counter at 0, segment 1 with its header. */
static tv_status create_log(tv_audit_log *log) {
  audit_file *file = &log->file;
  TV_ENSURE(RAND_bytes(file->log_id, AUDIT_LOG_ID_LEN) == 1, TV_E_CRYPTO_BACKEND);
  audit_counter_label(file->counter_label, file->log_id);
  /* The MAC key must be there before the log is: a log that could never
   * be sealed is refused at once rather than at its first checkpoint. */
  TV_TRY(tv_hsm_mac_key_ensure(log->hsm, log->mac_label, 0));
  TV_TRY(tv_hsm_counter_advance(log->hsm, file->counter_label, 0, 1));
  audit_chain_state chain = {.next_seq = 1};
  TV_TRY(audit_chain_genesis(chain.prev, file->log_id));
  size_t pos = 0;
  TV_TRY(audit_compose_segment(log->batch, &pos, &chain, file, 1));
  TV_TRY(audit_file_create(file, 1, log->batch, pos));
  log->chain = chain;
  return TV_OK;
}

/* An existing log: the newest segment must verify, and the HSM counter
 * must not be ahead of its last checkpoint (else it was cut). */
static tv_status reopen_log(tv_audit_log *log, uint64_t segment) {
  audit_file *file = &log->file;
  TV_TRY(audit_recover(file, &log->chain, segment));
  audit_counter_label(file->counter_label, file->log_id);
  uint64_t counter = 0;
  tv_status status = tv_hsm_counter_read(log->hsm, &counter, file->counter_label);
  TV_ENSURE(status != TV_E_HSM_KEY_NOT_FOUND, TV_E_AUDIT_COUNTER);
  TV_TRY(status);
  TV_ENSURE(counter <= log->chain.last_checkpoint_seq, TV_E_AUDIT_TRUNCATED);
  /* A checkpoint written while the counter could not be raised. */
  file->counter_pending =
      counter < log->chain.last_checkpoint_seq ? log->chain.last_checkpoint_seq : 0;
  return TV_OK;
}

static tv_status open_files(tv_audit_log *log, const char *dir) {
  TV_TRY(audit_file_lock(&log->file, dir));
  uint64_t latest = 0;
  TV_TRY(audit_file_latest(&log->file, &latest));
  return latest == 0 ? create_log(log) : reopen_log(log, latest);
}

static void log_free(tv_audit_log *log) {
  audit_file_close_all(&log->file);
  free(log->batch);
  free(log->ring);
  pthread_mutex_destroy(&log->mu);
  pthread_cond_destroy(&log->work_cv);
  pthread_cond_destroy(&log->space_cv);
  pthread_cond_destroy(&log->done_cv);
  free(log);
}

static tv_status init_sync(tv_audit_log *log) {
  pthread_condattr_t attr;
  TV_ENSURE(pthread_condattr_init(&attr) == 0, TV_E_INTERNAL);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* timed waits use it */
  pthread_mutex_init(&log->mu, NULL);
  pthread_cond_init(&log->work_cv, &attr);
  pthread_cond_init(&log->space_cv, NULL);
  pthread_cond_init(&log->done_cv, NULL);
  pthread_condattr_destroy(&attr);
  return TV_OK;
}

tv_status tv_audit_open(tv_audit_log **out_log, const tv_audit_config *config) {
  TV_ENSURE(out_log != NULL, TV_E_INVALID_ARGUMENT);
  *out_log = NULL;
  tv_audit_log *log = calloc(1, sizeof *log);
  TV_ENSURE(log != NULL, TV_E_NO_MEMORY);
  log->file.fd = log->file.lock_fd = log->file.dir_fd = -1;
  init_sync(log);
  tv_status status = copy_config(log, config);
  if (status == TV_OK) {
    log->ring = calloc(AUDIT_QUEUE_ENTRIES_MAX, sizeof *log->ring);
    log->batch = malloc(AUDIT_BATCH_BYTES_MAX);
    status = log->ring != NULL && log->batch != NULL ? TV_OK : TV_E_NO_MEMORY;
  }
  if (status == TV_OK) {
    status = open_files(log, config->dir);
  }
  if (status == TV_OK) {
    log->last_checkpoint_ms = audit_now_ms(0);
    log->wstats.segment = log->file.segment;
    log->wstats.last_seq = log->chain.next_seq - 1;
    log->stats = log->wstats;
    status = pthread_create(&log->thread, NULL, audit_writer_main, log) == 0 ? TV_OK
                                                                              : TV_E_INTERNAL;
  }
  if (status != TV_OK) {
    log_free(log);
    return status;
  }
  *out_log = log;
  return TV_OK;
}

tv_status tv_audit_close(tv_audit_log *log) {
  if (log == NULL) {
    return TV_OK;
  }
  pthread_mutex_lock(&log->mu);
  log->stopping = 1;
  pthread_cond_broadcast(&log->work_cv);
  pthread_cond_broadcast(&log->space_cv);
  pthread_mutex_unlock(&log->mu);
  pthread_join(log->thread, NULL);
  /* The writer drained the queue; the tail is sealed here, by this thread. */
  tv_status status = audit_write_batch(log, log->head, 0, 1);
  log_free(log);
  return status;
}
