#include "vault/daemon/backup_worker.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "vault/service/log.h"
#include "vault/service/status_map.h"
#include "vault/store/segment.h"
#include "vault/util/clock.h"

struct tv_backup_worker {
  tv_vault *vault;
  char data_dir[PATH_MAX];
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int asked;    /* a backup is wanted */
  int running;  /* one is being taken */
  int stopping;
};

/* <data_dir>/backups/<UTC time>: the directory a backup goes to, created
 * 0700 (a backup holds every encrypted value and the wrapped keys). */
static tv_status make_dest(const char *data_dir, char out[PATH_MAX]) {
  char parent[PATH_MAX];
  TV_ENSURE(snprintf(parent, sizeof parent, "%s/backups", data_dir) < (int)sizeof parent, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(mkdir(parent, 0700) == 0 || errno == EEXIST,
            (tv_store_io_failed("mkdir", parent, errno), TV_E_STORE_BACKUP_TARGET));
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  char stamp[32];
  gmtime_r(&now.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  /* Milliseconds: backups asked one after another get distinct names. */
  TV_ENSURE(snprintf(out, PATH_MAX, "%s/%s.%03ldZ", parent, stamp, now.tv_nsec / 1000000L) < PATH_MAX,
            TV_E_INVALID_ARGUMENT);
  /* An existing directory is never reused. */
  TV_ENSURE(mkdir(out, 0700) == 0, (tv_store_io_failed("mkdir", out, errno), TV_E_STORE_BACKUP_TARGET));
  return TV_OK;
}

static void log_outcome(tv_status st, const char *dest, const tv_store_snapshot_info *info) {
  tv_log_line line;
  tv_log_begin(&line, st == TV_OK ? "info" : "error", st == TV_OK ? "backup_done" : "backup_failed");
  tv_log_str(&line, "path", dest);
  if (st == TV_OK) {
    tv_log_int(&line, "records", (int64_t)info->records);
    tv_log_int(&line, "bytes", (int64_t)info->bytes);
    tv_log_int(&line, "last_seq", (int64_t)info->last_seq);
  } else {
    tv_log_str(&line, "error", tv_status_name(st));
    tv_log_str(&line, "message", tv_status_message(st));
    if (tv_store_io_error()[0] != '\0') { /* the failed call and errno */
      tv_log_str(&line, "detail", tv_store_io_error());
    }
  }
  tv_log_end(&line);
}

/* An operator's action on the vault's data is audited like a call. */
static void audit_outcome(tv_backup_worker *w, tv_status st, const tv_store_snapshot_info *info,
                          uint64_t latency_us) {
  tv_audit_entry e = {
      .type = TV_AUDIT_CALL,
      .principal = TV_BACKUP_PRINCIPAL,
      .peer = "signal",
      .method = "Backup",
      .items = info->records,
      .code = (uint32_t)tv_status_to_code(st),
      .outcome = tv_status_name(st),
      .latency_us = latency_us,
  };
  tv_status ast = tv_audit_append(w->vault->audit, NULL, &e);
  if (ast != TV_OK) {
    tv_log_message("error", "backup_audit_failed", tv_status_name(ast));
  }
}

static void take_backup(tv_backup_worker *w) {
  uint64_t start = tv_mono_us();
  char dest[PATH_MAX] = "";
  char keyring[PATH_MAX];
  tv_store_snapshot_info info = {0};
  tv_store_io_error_clear();
  tv_status st = make_dest(w->data_dir, dest);
  if (st == TV_OK) {
    /* The keyring goes with the store: its wrapped keys decrypt it. */
    int n = snprintf(keyring, sizeof keyring, "%s/keyring", w->data_dir);
    const char *extra[1] = {keyring};
    st = n < (int)sizeof keyring ? tv_store_snapshot(w->vault->store, dest, extra, 1, &info) : TV_E_INVALID_ARGUMENT;
  }
  log_outcome(st, dest, &info);
  audit_outcome(w, st, &info, tv_mono_us() - start);
}

static void *worker_main(void *arg) {
  tv_backup_worker *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->asked && !w->stopping) {
      pthread_cond_wait(&w->cv, &w->mu);
    }
    if (w->stopping) {
      break;
    }
    w->asked = 0;
    w->running = 1;
    pthread_mutex_unlock(&w->mu);
    take_backup(w);
    pthread_mutex_lock(&w->mu);
    w->running = 0;
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

tv_status tv_backup_worker_start(tv_backup_worker **out, tv_vault *vault, const char *data_dir) {
  TV_ENSURE(out != NULL && vault != NULL && data_dir != NULL, TV_E_INVALID_ARGUMENT);
  *out = NULL;
  tv_backup_worker *w = calloc(1, sizeof *w);
  TV_ENSURE(w != NULL, TV_E_NO_MEMORY);
  if (snprintf(w->data_dir, sizeof w->data_dir, "%s", data_dir) >= (int)sizeof w->data_dir) {
    free(w);
    return TV_E_INVALID_ARGUMENT;
  }
  w->vault = vault;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return TV_E_INTERNAL;
  }
  *out = w;
  return TV_OK;
}

void tv_backup_worker_request(tv_backup_worker *w) {
  if (w == NULL) {
    return;
  }
  pthread_mutex_lock(&w->mu);
  int busy = w->running || w->asked;
  if (!busy) {
    w->asked = 1;
    pthread_cond_signal(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  if (busy) {
    tv_log_message("warn", "backup_busy", "a backup is already running: this request is ignored");
  } else {
    tv_log_message("info", "backup_started", "SIGUSR1: taking an online backup");
  }
}

void tv_backup_worker_free(tv_backup_worker *w) {
  if (w == NULL) {
    return;
  }
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL); /* a running backup finishes first */
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
