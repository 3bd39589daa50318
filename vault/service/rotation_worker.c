/* The rotation worker's thread, queue and progress (see rotation_worker.h).
 *
 * tv_engine_complete_rotation is not called as one piece: it re-encrypts
 * a whole namespace in one call, which reports nothing until it returns
 * and cannot be stopped. The worker runs the same two steps itself:
 * tv_engine_reencrypt in bounded chunks (resumable by construction, so a
 * stop between chunks loses nothing and each chunk updates the progress),
 * then tv_store_compact with a live progress block. */
#include "vault/service/rotation_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

#include "vault/service/log.h"
#include "vault/service/status_map.h"
#include "vault/store/segment.h"
#include "vault/util/clock.h"

#define NONE SIZE_MAX
#define RETRY_MS_DEFAULT 1000u

typedef struct slot {
  tv_rotation_status st;
  uint64_t queued_seq; /* 0: not queued; else its place in the queue */
  uint64_t retry_at;   /* monotonic ms before which it must not run */
  int pending;         /* named in the pending file */
  int reported;        /* queued at least once since start */
  /* Records under older versions when this rotation started (its first
   * run's first chunk), kept in the pending file with the name so a
   * resumed or retried run still counts the whole rotation; 0: unknown. */
  uint64_t rotation_total;
  int elsewhere; /* fleet: the last ask found the lease held by another node */
  /* Fleet: queued because the shared keyring shows a rotation started
   * through another node, not asked for here (see observe_fleet). */
  int observed;
} slot;

struct tv_rotation_worker {
  tv_rotation_worker_options o;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* queue changed or stop asked (CLOCK_MONOTONIC) */
  atomic_int stop;
  uint64_t next_seq;
  size_t current; /* slot being run, or NONE */
  tv_store_compact_progress compact; /* the current compaction's counters */
  char holder[TV_STORE_LEASE_HOLDER_LEN_MAX + 1]; /* this node, as lease holder */
  uint32_t lease_ttl_ms;
  int lease_shared; /* the store's leases are among processes (a fleet) */
  uint64_t next_poll_ms; /* fleet: monotonic ms of the next observe_fleet */
  slot slots[TV_ENGINE_NAMESPACES_MAX];
};

static size_t find_slot(const tv_rotation_worker *w, const char *ns) {
  for (size_t i = 0; i < w->o.num_namespaces; i++) {
    if (strcmp(w->slots[i].st.ns, ns) == 0) {
      return i;
    }
  }
  return NONE;
}

/* ---- the pending file ------------------------------------------------- */

static tv_status sync_dir_of(const char *path) {
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  TV_ENSURE(fd >= 0, TV_E_IO);
  int rc = fsync(fd);
  close(fd);
  return rc == 0 ? TV_OK : TV_E_IO;
}

/* Rewrites the pending file from the slots (caller holds the lock):
 * temp file, fsync, rename, fsync of the directory, so a crash leaves the
 * old list or the new one. No namespace pending: the file is removed. */
static tv_status pending_write(tv_rotation_worker *w) {
  const char *path = w->o.pending_path;
  if (path == NULL) {
    return TV_OK;
  }
  char text[TV_ENGINE_NAMESPACES_MAX * (TV_KEYRING_NAMESPACE_LEN_MAX + 22) + 1];
  size_t len = 0;
  for (size_t i = 0; i < w->o.num_namespaces; i++) {
    if (w->slots[i].pending) {
      int n = snprintf(text + len, sizeof text - len, "%s\t%llu\n", w->slots[i].st.ns,
                       (unsigned long long)w->slots[i].rotation_total);
      TV_ENSURE(n > 0 && (size_t)n < sizeof text - len, TV_E_INVALID_ARGUMENT);
      len += (size_t)n;
    }
  }
  if (len == 0) {
    TV_ENSURE(unlink(path) == 0 || errno == ENOENT, TV_E_IO);
    return sync_dir_of(path);
  }
  char tmp[PATH_MAX];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
  TV_ENSURE(n > 0 && n < PATH_MAX, TV_E_INVALID_ARGUMENT);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  TV_ENSURE(fd >= 0, TV_E_IO);
  int ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  TV_ENSURE(ok && rename(tmp, path) == 0, TV_E_IO);
  return sync_dir_of(path);
}

static void pending_save(tv_rotation_worker *w) {
  tv_status st = pending_write(w);
  if (st != TV_OK) {
    tv_log_line line;
    tv_log_begin(&line, "warn", "rotation_pending_file");
    tv_log_str(&line, "error", tv_status_name(st));
    tv_log_str(&line, "effect", "an interrupted compaction may not resume after a restart");
    tv_log_end(&line);
  }
}

/* Marks the namespaces named in the pending file, one "name<TAB>total" a
 * line (a line with the name alone, from an older version: total
 * unknown); a name that is no longer configured is dropped (its data is
 * not served any more). */
static void pending_read(tv_rotation_worker *w) {
  if (w->o.pending_path == NULL) {
    return;
  }
  FILE *f = fopen(w->o.pending_path, "re");
  if (f == NULL) {
    return;
  }
  char name[TV_KEYRING_NAMESPACE_LEN_MAX + 24];
  while (fgets(name, sizeof name, f) != NULL) {
    name[strcspn(name, "\n")] = '\0';
    char *tab = strchr(name, '\t');
    uint64_t total = 0;
    if (tab != NULL) {
      *tab = '\0';
      total = strtoull(tab + 1, NULL, 10);
    }
    size_t i = find_slot(w, name);
    if (i != NONE) {
      w->slots[i].pending = 1;
      w->slots[i].rotation_total = total;
    }
  }
  fclose(f);
}

/* ---- the queue -------------------------------------------------------- */

/* Queues slot |i| (caller holds the lock). */
static void queue_slot(tv_rotation_worker *w, size_t i) {
  slot *s = &w->slots[i];
  s->reported = 1;
  if (s->queued_seq == 0) {
    s->queued_seq = ++w->next_seq;
  }
  if (w->current != i) {
    s->st.phase = TV_ROTATION_QUEUED;
  }
  pthread_cond_broadcast(&w->cond);
}

/* 1 if |ns| has a DECRYPT_ONLY version: its re-encryption never finished
 * (the engine retires a version as soon as no record uses it). */
static int has_decrypt_only(tv_keyring *keyring, const char *ns) {
  tv_keyring_version_info *infos = calloc(TV_KEYRING_VERSIONS_MAX, sizeof *infos);
  size_t count = 0;
  int found = 0;
  if (infos != NULL && tv_keyring_list_versions(keyring, infos, &count, TV_KEYRING_VERSIONS_MAX, ns) == TV_OK) {
    for (size_t v = 0; v < count && v < TV_KEYRING_VERSIONS_MAX; v++) {
      found |= infos[v].state == TV_KEY_DECRYPT_ONLY;
    }
  }
  free(infos);
  return found;
}

/* The oldest queued slot whose backoff is over, or NONE; |*out_wake| gets
 * the earliest backoff end among the others (0: none). */
static size_t pick(const tv_rotation_worker *w, uint64_t now, uint64_t *out_wake) {
  size_t best = NONE;
  *out_wake = 0;
  for (size_t i = 0; i < w->o.num_namespaces; i++) {
    const slot *s = &w->slots[i];
    if (s->queued_seq == 0) {
      continue;
    }
    if (s->retry_at > now) {
      *out_wake = *out_wake == 0 || s->retry_at < *out_wake ? s->retry_at : *out_wake;
    } else if (best == NONE || s->queued_seq < w->slots[best].queued_seq) {
      best = i;
    }
  }
  return best;
}

static void wait_until(tv_rotation_worker *w, uint64_t wake_ms) {
  if (wake_ms == 0) {
    pthread_cond_wait(&w->cond, &w->lock);
    return;
  }
  struct timespec ts = {(time_t)(wake_ms / 1000u), (long)(wake_ms % 1000u) * 1000000L};
  pthread_cond_timedwait(&w->cond, &w->lock, &ts);
}

/* ---- the fleet's lease --------------------------------------------------- */

/* What a holder publishes with its lease: the version records go to, the
 * rotation's records in all and those moved so far (big-endian). */
#define LEASE_PROGRESS_LEN 20u

static void put_be(uint8_t *p, uint64_t v, int n) {
  for (int k = 0; k < n; k++) {
    p[k] = (uint8_t)(v >> (8 * (n - 1 - k)));
  }
}

static uint64_t get_be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; k++) {
    v = v << 8 | p[k];
  }
  return v;
}

static uint64_t records_moved(const slot *s);

/* The operator's record of a rotation moving to this node: the node it
 * was running on stopped renewing its lease (it died or stopped). */
static void log_takeover(const char *ns, const char *from, const char *holder) {
  tv_log_line line;
  tv_log_begin(&line, "warn", "rotation_lease_taken_over");
  tv_log_str(&line, "namespace", ns);
  tv_log_str(&line, "from", from);
  tv_log_str(&line, "lease_holder", holder);
  tv_log_end(&line);
}

/* lease_step takes or renews the lease of slot |i|'s rotation, publishing
 * its progress; |*out_held| says whether this node holds it. When
 * another node does, the slot shows that node's progress: the fleet's. */
static tv_status lease_step(tv_rotation_worker *w, size_t i, int *out_held) {
  slot *s = &w->slots[i];
  char name[TV_STORE_LEASE_NAME_LEN_MAX + 1];
  snprintf(name, sizeof name, "rotation/%s", s->st.ns);
  uint8_t mine[LEASE_PROGRESS_LEN];
  pthread_mutex_lock(&w->lock);
  uint64_t total = s->rotation_total > s->st.records_total ? s->rotation_total : s->st.records_total;
  put_be(mine, s->st.active_version, 4);
  put_be(mine + 4, total, 8);
  put_be(mine + 12, records_moved(s), 8);
  pthread_mutex_unlock(&w->lock);
  tv_store_lease_info li;
  TV_TRY(tv_store_lease(w->o.store, name, w->holder, w->lease_ttl_ms, mine, sizeof mine, &li));
  pthread_mutex_lock(&w->lock);
  w->lease_shared = li.shared;
  char before[TV_STORE_LEASE_HOLDER_LEN_MAX + 1];
  snprintf(before, sizeof before, "%s", s->st.lease_holder);
  int took_over = li.held && li.shared && s->elsewhere;
  s->elsewhere = !li.held;
  snprintf(s->st.lease_holder, sizeof s->st.lease_holder, "%s", li.shared ? li.holder : "");
  s->st.lease_held = li.held;
  if (!li.held && li.progress_len == LEASE_PROGRESS_LEN) {
    s->st.active_version = (uint32_t)get_be(li.progress, 4);
    s->st.records_total = get_be(li.progress + 4, 8);
    s->st.records_done = get_be(li.progress + 12, 8);
    /* Taking over later, this node counts the whole rotation. */
    s->rotation_total = s->st.records_total > s->rotation_total ? s->st.records_total : s->rotation_total;
  }
  pthread_mutex_unlock(&w->lock);
  if (took_over) {
    log_takeover(s->st.ns, before, w->holder);
  }
  *out_held = li.held;
  return TV_OK;
}

static void lease_release(tv_rotation_worker *w, size_t i) {
  char name[TV_STORE_LEASE_NAME_LEN_MAX + 1];
  snprintf(name, sizeof name, "rotation/%s", w->slots[i].st.ns);
  (void)tv_store_lease_release(w->o.store, name, w->holder); /* else it expires */
}

/* Slot |i|'s rotation runs on another node: ask again in a third of the
 * lease's time, showing that node's progress meanwhile (caller holds the
 * lock). */
static void requeue_elsewhere(tv_rotation_worker *w, size_t i) {
  slot *s = &w->slots[i];
  w->current = NONE;
  s->retry_at = tv_mono_ms() + w->lease_ttl_ms / 3u + 1u;
  queue_slot(w, i);
  s->st.phase = TV_ROTATION_REENCRYPTING;
}

/* ---- one run ---------------------------------------------------------- */

/* Re-encrypts |ns| in chunks until nothing is left under older versions,
 * publishing the progress after each (and renewing the fleet's lease:
 * |*out_lost| set and TV_OK when another node took it over).
 * TV_E_SERVER_SHUTTING_DOWN if asked to stop. */
static tv_status reencrypt_all(tv_rotation_worker *w, size_t i, int *out_lost) {
  slot *s = &w->slots[i];
  /* Rate-limited: about two seconds of work per call, so a stop is never
   * kept waiting longer than that. */
  uint64_t chunk = TV_ROTATION_CHUNK_RECORDS_MIN;
  if (w->o.records_per_s != 0 && w->o.records_per_s * 2u < chunk) {
    chunk = w->o.records_per_s * 2u > 256u ? w->o.records_per_s * 2u : 256u;
  }
  for (int first = 1;; first = 0) {
    if (atomic_load(&w->stop)) {
      return TV_E_SERVER_SHUTTING_DOWN;
    }
    int held = 1;
    if (!first && w->lease_shared) {
      TV_TRY(lease_step(w, i, &held));
    }
    if (!held) {
      *out_lost = 1;
      return TV_OK;
    }
    tv_reencrypt_options ro = {.records_per_s = w->o.records_per_s, .records_max = chunk};
    tv_reencrypt_progress p = {0};
    tv_status st = tv_engine_reencrypt(w->o.engine, &p, s->st.ns, &ro);
    /* A failed call (store disk full, ...) still moved some records and
     * knows the version: both are published with its status. */
    pthread_mutex_lock(&w->lock);
    s->st.active_version = p.active_version != 0 ? p.active_version : s->st.active_version;
    s->st.records_done += p.reencrypted;
    if (st == TV_OK || p.remaining != 0) {
      s->st.records_total = s->st.records_done + p.remaining;
    }
    if (s->rotation_total == 0 && s->st.records_total > 0) {
      s->rotation_total = s->st.records_total; /* the rotation's first chunk */
      pending_save(w);
    }
    pthread_mutex_unlock(&w->lock);
    TV_TRY(st);
    if (p.remaining == 0) {
      return TV_OK;
    }
    /* Records left that this call could not move (they fail
     * authentication): running again would not move them either. */
    TV_ENSURE(p.reencrypted > 0, TV_E_ENGINE_DECRYPT);
    /* Each call scans the whole store once: unlimited, bigger chunks on
     * big namespaces keep the scans to a few dozen per rotation (a stop
     * then waits for one chunk, ~1/16 of the work). Not on a fleet store:
     * the lease is renewed between chunks, so a chunk stays short. */
    if (w->o.records_per_s == 0 && p.remaining / 16u > chunk && !w->lease_shared) {
      chunk = p.remaining / 16u;
    }
  }
}

static tv_status compact_store(tv_rotation_worker *w, size_t i) {
  pthread_mutex_lock(&w->lock);
  w->slots[i].st.phase = TV_ROTATION_COMPACTING;
  tv_store_compact_progress_init(&w->compact);
  pthread_mutex_unlock(&w->lock);
  uint64_t rate = w->o.compact_bytes_per_s != 0 ? w->o.compact_bytes_per_s : TV_ROTATION_COMPACT_BYTES_PER_S_DEFAULT;
  /* Expired values lose their ciphertext here too, as in
   * tv_engine_complete_rotation (the engine uses the real clock). */
  /* The stop flag cancels the compaction between records (SIGTERM does
   * not wait for it); the old segments stay, and the pending file makes
   * the next start run it again, as after a stop during re-encryption. */
  tv_store_compact_options co = {.bytes_per_s = rate, .now_ms = tv_unix_ms(), .cancel = &w->stop};
  tv_status st = tv_store_compact(w->o.store, &co, &w->compact);
  return st == TV_E_STORE_COMPACT_CANCELLED ? TV_E_SERVER_SHUTTING_DOWN : st;
}

/* The whole rotation's count, over every run (a resume after a restart, a
 * retry): what was under older versions when it started, less what this
 * run found still there, plus what this run moved. Without the start's
 * figure (an older pending file), this run's alone. */
static uint64_t records_moved(const slot *s) {
  if (s->rotation_total >= s->st.records_total) {
    return s->rotation_total - s->st.records_total + s->st.records_done;
  }
  return s->st.records_done;
}

static void audit_run(tv_rotation_worker *w, const slot *s, tv_status st, uint64_t start_ms) {
  char request_id[64];
  snprintf(request_id, sizeof request_id, "rotation-v%u", s->st.active_version);
  tv_audit_entry e = {
      .type = TV_AUDIT_CALL,
      .principal = TV_ROTATION_PRINCIPAL,
      .peer = "local",
      .method = TV_ROTATION_METHOD,
      .ns = s->st.ns,
      .items = records_moved(s),
      .request_id = request_id,
      .code = (uint32_t)tv_status_to_code(st),
      .outcome = tv_status_name(st),
      .latency_us = (tv_mono_ms() - start_ms) * 1000u,
  };
  tv_status ast = tv_audit_append(w->o.audit, NULL, &e);
  if (ast != TV_OK) {
    tv_log_line line;
    tv_log_begin(&line, "error", "rotation_audit_failed");
    tv_log_str(&line, "namespace", s->st.ns);
    tv_log_str(&line, "error", tv_status_name(ast));
    tv_log_end(&line);
  }
}

/* |holder|: this node's lease holder name on a fleet store, else NULL. */
static void log_run(const slot *s, tv_status st, const char *holder) {
  tv_log_line line;
  tv_log_begin(&line, st == TV_OK ? "info" : "error", st == TV_OK ? "rotation_completed" : "rotation_failed");
  tv_log_str(&line, "namespace", s->st.ns);
  if (holder != NULL) {
    tv_log_str(&line, "lease_holder", holder);
  }
  tv_log_int(&line, "active_version", (int64_t)s->st.active_version);
  tv_log_int(&line, "records_moved", (int64_t)records_moved(s));
  if (st != TV_OK) {
    tv_log_str(&line, "error", tv_status_name(st));
    tv_log_int(&line, "attempts", (int64_t)s->st.attempts);
    if (tv_store_io_error()[0] != '\0') { /* compaction's failed call and errno */
      tv_log_str(&line, "detail", tv_store_io_error());
    }
  }
  tv_log_end(&line);
}

/* 1 if slot |i| was only observed (fleet) and, now that this node holds
 * its lease, nothing is left under older versions: the node that ran it
 * finished (its retirement is taken in first). Not a run of this node's:
 * no audit entry, no purge, so a rotation completes on one node. */
static int finished_elsewhere(tv_rotation_worker *w, size_t i) {
  pthread_mutex_lock(&w->lock);
  int observed = w->slots[i].observed;
  pthread_mutex_unlock(&w->lock);
  if (!observed) {
    return 0;
  }
  (void)tv_keyring_refresh(w->o.keyring); /* else the 0.5 s poll's view */
  return !has_decrypt_only(w->o.keyring, w->slots[i].st.ns);
}

/* Clears slot |i|'s progress for a run of this node's own (until now it
 * may show another node's). A rotation taken over from another node is
 * this node's to finish: it goes into the pending file. */
static void reset_progress(tv_rotation_worker *w, size_t i) {
  pthread_mutex_lock(&w->lock);
  slot *s = &w->slots[i];
  s->st.records_done = 0;
  s->st.records_total = 0;
  if (s->observed) {
    s->observed = 0;
    s->pending = 1;
    pending_save(w);
  }
  pthread_mutex_unlock(&w->lock);
}

/* Runs slot |i| once under the fleet's lease: re-encryption, then
 * compaction (on a database store: the purge of expired values).
 * |*out_elsewhere|: another node holds the lease (nothing was done, or
 * it took over); |*out_skipped|: another node finished it (see
 * finished_elsewhere). */
static tv_status run_one(tv_rotation_worker *w, size_t i, int *out_elsewhere, int *out_skipped) {
  tv_store_io_error_clear();
  int held = 0;
  TV_TRY(lease_step(w, i, &held));
  if (!held) {
    *out_elsewhere = 1;
    return TV_OK;
  }
  if (finished_elsewhere(w, i)) {
    *out_skipped = 1;
    return TV_OK;
  }
  reset_progress(w, i);
  tv_status st = reencrypt_all(w, i, out_elsewhere);
  if (st == TV_OK && !*out_elsewhere) {
    st = compact_store(w, i);
  }
  return st;
}

/* Records the outcome of a run of slot |i| (caller holds the lock). A
 * stop leaves the namespace to the next start (keyring state or pending
 * file); a failure is queued again after a backoff that doubles. */
static void finish(tv_rotation_worker *w, size_t i, tv_status st) {
  slot *s = &w->slots[i];
  tv_store_compact_report r;
  tv_store_compact_progress_get(&w->compact, &r);
  s->st.bytes_done = r.bytes_done;
  s->st.bytes_total = r.bytes_total;
  s->st.last_error = st;
  s->st.finished_ms = tv_unix_ms();
  w->current = NONE;
  if (st == TV_OK) {
    s->st.attempts = 0;
    s->retry_at = 0;
    s->observed = 0;
    s->st.phase = s->queued_seq != 0 ? TV_ROTATION_QUEUED : TV_ROTATION_DONE;
    s->pending = s->queued_seq != 0;
    s->rotation_total = 0; /* a rotation queued meanwhile counts afresh */
    pending_save(w);
    return;
  }
  if (st == TV_E_SERVER_SHUTTING_DOWN) {
    s->st.phase = TV_ROTATION_QUEUED;
    return;
  }
  s->st.attempts++;
  uint64_t backoff = w->o.retry_ms_initial != 0 ? w->o.retry_ms_initial : RETRY_MS_DEFAULT;
  for (uint32_t a = 1; a < s->st.attempts && backoff < TV_ROTATION_RETRY_MS_MAX; a++) {
    backoff *= 2u;
  }
  s->retry_at = tv_mono_ms() + (backoff < TV_ROTATION_RETRY_MS_MAX ? backoff : TV_ROTATION_RETRY_MS_MAX);
  queue_slot(w, i);
  s->st.phase = TV_ROTATION_RETRYING;
}

/* Takes slot |i| off the queue for a new run (caller holds the lock).
 * Its records' progress is reset once the run is this node's own
 * (reset_progress): until then it shows the last the fleet published. */
static void begin(tv_rotation_worker *w, size_t i) {
  slot *s = &w->slots[i];
  s->queued_seq = 0;
  s->st.phase = TV_ROTATION_REENCRYPTING;
  s->st.bytes_done = 0;
  s->st.bytes_total = 0;
  w->current = i;
  tv_store_compact_progress_init(&w->compact);
}

/* Fleet: queues the rotations started through other nodes, seen as a
 * DECRYPT_ONLY version in the shared keyring (caller holds the lock),
 * at most every fleet_poll_ms. One queued or running here is left alone. */
static void observe_fleet(tv_rotation_worker *w, uint64_t now) {
  if (w->o.fleet_poll_ms == 0 || now < w->next_poll_ms) {
    return;
  }
  w->next_poll_ms = now + w->o.fleet_poll_ms;
  for (size_t i = 0; i < w->o.num_namespaces; i++) {
    slot *s = &w->slots[i];
    if (s->queued_seq == 0 && w->current != i && has_decrypt_only(w->o.keyring, s->st.ns)) {
      s->observed = !s->pending;
      queue_slot(w, i);
    }
  }
}

/* The next wake: the earliest backoff end or fleet poll (0: none). */
static uint64_t next_wake(const tv_rotation_worker *w, uint64_t wake) {
  if (w->o.fleet_poll_ms != 0 && (wake == 0 || w->next_poll_ms < wake)) {
    return w->next_poll_ms;
  }
  return wake;
}

static void *worker_main(void *arg) {
  tv_rotation_worker *w = arg;
  pthread_mutex_lock(&w->lock);
  while (!atomic_load(&w->stop)) {
    uint64_t now = tv_mono_ms();
    observe_fleet(w, now);
    uint64_t wake = 0;
    size_t i = pick(w, now, &wake);
    if (i == NONE) {
      wait_until(w, next_wake(w, wake));
      continue;
    }
    begin(w, i);
    pthread_mutex_unlock(&w->lock);
    uint64_t start = tv_mono_ms();
    int elsewhere = 0;
    int skipped = 0;
    tv_status st = run_one(w, i, &elsewhere, &skipped);
    if (elsewhere) {
      pthread_mutex_lock(&w->lock);
      requeue_elsewhere(w, i);
      continue;
    }
    if (skipped) {
      lease_release(w, i);
      pthread_mutex_lock(&w->lock);
      finish(w, i, TV_OK);
      continue;
    }
    /* A stopped run keeps its lease until it expires (as a node that
     * died would); another node then resumes it. */
    if (st != TV_E_SERVER_SHUTTING_DOWN && w->lease_shared) {
      lease_release(w, i);
    }
    if (st != TV_E_SERVER_SHUTTING_DOWN) {
      /* Audited before the outcome is published, so a client that saw
       * DONE finds the entry in the log. */
      pthread_mutex_lock(&w->lock);
      slot copy = w->slots[i];
      pthread_mutex_unlock(&w->lock);
      log_run(&copy, st, w->lease_shared ? w->holder : NULL);
      audit_run(w, &copy, st, start);
    }
    pthread_mutex_lock(&w->lock);
    finish(w, i, st);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* ---- public calls ----------------------------------------------------- */

/* The lease holder: "<node_id>/<instance>" (node_id, else the host
 * name), the instance 32 random bits drawn at each start. The node_id
 * says to an operator which node runs the work; the instance keeps two
 * processes apart, which neither the node_id (two nodes misconfigured
 * with one node_id would both hold the lease and both run) nor the pid
 * (every container's process is pid 1) does. A restarted node is
 * therefore not its dead predecessor: it waits for that lease to expire
 * (at most the lease time) rather than assume the old holder is gone. */
static void holder_name(tv_rotation_worker *w, const char *node_id) {
  char host[65] = "node";
  const char *name = node_id;
  if (name == NULL || name[0] == '\0') {
    if (gethostname(host, sizeof host) != 0 || host[0] == '\0') {
      snprintf(host, sizeof host, "node");
    }
    host[sizeof host - 1] = '\0';
    name = host;
  }
  uint32_t instance = 0;
  if (getrandom(&instance, sizeof instance, 0) != (ssize_t)sizeof instance) {
    instance = ((uint32_t)getpid() << 16) ^ (uint32_t)tv_mono_ms(); /* still per start */
  }
  snprintf(w->holder, sizeof w->holder, "%.64s/%08x", name, (unsigned)instance);
}

static tv_status init_sync(tv_rotation_worker *w) {
  pthread_condattr_t attr;
  TV_ENSURE(pthread_condattr_init(&attr) == 0, TV_E_NO_MEMORY);
  int ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&w->cond, &attr) == 0;
  pthread_condattr_destroy(&attr);
  TV_ENSURE(ok, TV_E_NO_MEMORY);
  if (pthread_mutex_init(&w->lock, NULL) != 0) {
    pthread_cond_destroy(&w->cond);
    return TV_E_NO_MEMORY;
  }
  return TV_OK;
}

/* Queues what the last process left unfinished, and writes the pending
 * file for it: re-encryption retires the versions the keyring resumed
 * from, so after that only the file remembers the compaction. */
static void queue_unfinished(tv_rotation_worker *w) {
  pending_read(w);
  int any = 0;
  for (size_t i = 0; i < w->o.num_namespaces; i++) {
    if (w->slots[i].pending || has_decrypt_only(w->o.keyring, w->slots[i].st.ns)) {
      any = 1;
      w->slots[i].pending = 1;
      /* Fleet: another node may have finished it meanwhile (it took the
       * lease over); then there is nothing to run here. */
      w->slots[i].observed = w->o.fleet_poll_ms != 0;
      queue_slot(w, i);
      tv_log_line line;
      tv_log_begin(&line, "info", "rotation_resumed");
      tv_log_str(&line, "namespace", w->slots[i].st.ns);
      tv_log_end(&line);
    }
  }
  if (any) {
    pending_save(w);
  }
}

tv_status tv_rotation_worker_start(tv_rotation_worker **out, const tv_rotation_worker_options *options) {
  TV_ENSURE(out != NULL && options != NULL, TV_E_INVALID_ARGUMENT);
  *out = NULL;
  TV_ENSURE(options->engine != NULL && options->store != NULL && options->keyring != NULL &&
                options->audit != NULL && options->num_namespaces <= TV_ENGINE_NAMESPACES_MAX,
            TV_E_INVALID_ARGUMENT);
  tv_rotation_worker *w = calloc(1, sizeof *w);
  TV_ENSURE(w != NULL, TV_E_NO_MEMORY);
  w->o = *options;
  w->current = NONE;
  w->lease_ttl_ms = options->lease_ttl_ms != 0 ? options->lease_ttl_ms : TV_ROTATION_LEASE_TTL_MS_DEFAULT;
  holder_name(w, options->node_id);
  for (size_t i = 0; i < options->num_namespaces; i++) {
    w->slots[i].st.ns = options->namespaces[i];
  }
  tv_status st = init_sync(w);
  if (st != TV_OK) {
    free(w);
    return st;
  }
  queue_unfinished(w);
  if (options->fleet_poll_ms != 0) {
    tv_log_line line;
    tv_log_begin(&line, "info", "rotation_worker_started");
    tv_log_str(&line, "lease_holder", w->holder);
    tv_log_int(&line, "lease_ms", (int64_t)w->lease_ttl_ms);
    tv_log_end(&line);
  }
  if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return TV_E_NO_MEMORY;
  }
  *out = w;
  return TV_OK;
}

tv_status tv_rotation_worker_enqueue(tv_rotation_worker *w, const char *ns) {
  TV_ENSURE(w != NULL && ns != NULL, TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&w->lock);
  size_t i = find_slot(w, ns);
  if (i == NONE) {
    pthread_mutex_unlock(&w->lock);
    return TV_E_ENGINE_NAMESPACE;
  }
  /* A fresh rotation is worth trying at once, whatever failed before. */
  w->slots[i].retry_at = 0;
  w->slots[i].observed = 0; /* asked for here */
  w->slots[i].st.attempts = 0;
  if (!w->slots[i].pending) {
    w->slots[i].pending = 1;
    w->slots[i].rotation_total = 0; /* a new rotation */
    pending_save(w);
  }
  queue_slot(w, i);
  pthread_mutex_unlock(&w->lock);
  return TV_OK;
}

size_t tv_rotation_worker_status(tv_rotation_worker *w, tv_rotation_status *out, size_t out_max) {
  if (w == NULL) {
    return 0;
  }
  size_t n = 0;
  pthread_mutex_lock(&w->lock);
  for (size_t i = 0; i < w->o.num_namespaces; i++) {
    if (!w->slots[i].reported) {
      continue;
    }
    if (n < out_max) {
      out[n] = w->slots[i].st;
      if (i == w->current && out[n].phase == TV_ROTATION_COMPACTING) {
        tv_store_compact_report r;
        tv_store_compact_progress_get(&w->compact, &r);
        out[n].bytes_done = r.bytes_done;
        out[n].bytes_total = r.bytes_total;
      }
    }
    n++;
  }
  pthread_mutex_unlock(&w->lock);
  return n;
}

void tv_rotation_worker_stop(tv_rotation_worker *w) {
  if (w == NULL) {
    return;
  }
  pthread_mutex_lock(&w->lock);
  atomic_store(&w->stop, 1);
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

void tv_rotation_worker_free(tv_rotation_worker *w) {
  if (w == NULL) {
    return;
  }
  tv_rotation_worker_stop(w);
  pthread_join(w->thread, NULL);
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->lock);
  free(w);
}

const char *tv_rotation_worker_holder(const tv_rotation_worker *w) { return w->holder; }

const char *tv_rotation_phase_name(tv_rotation_phase phase) {
  switch (phase) {
    case TV_ROTATION_IDLE:
      return "idle";
    case TV_ROTATION_QUEUED:
      return "queued";
    case TV_ROTATION_REENCRYPTING:
      return "reencrypting";
    case TV_ROTATION_COMPACTING:
      return "compacting";
    case TV_ROTATION_DONE:
      return "done";
    case TV_ROTATION_RETRYING:
      return "retrying";
  }
  return "unknown";
}
