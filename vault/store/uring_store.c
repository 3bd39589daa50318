/* The embedded store backend: open (io_uring check, directory lock,
 * recovery, writer start), close, and the small helpers its parts share. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/segment.h"
#include "vault/store/ustore.h"
#include "vault/util/dir_sync.h"

#define WRITE_RING_DEPTH 8u

int tv_ustore_seg_fd(tv_ustore *u, uint32_t id) {
  if (id >= TV_STORE_SEGMENTS_MAX) {
    return -1;
  }
  return atomic_load_explicit(&u->seg_fds[id], memory_order_acquire) - 1;
}

void tv_ustore_set_seg_fd(tv_ustore *u, uint32_t id, int fd) {
  atomic_store_explicit(&u->seg_fds[id], fd + 1, memory_order_release);
  if (u->seg_maps != NULL) {
    pthread_mutex_lock(&u->map_mu);
    uint8_t *m = atomic_exchange(&u->seg_maps[id], NULL);
    pthread_mutex_unlock(&u->map_mu);
    if (m != NULL) {
      munmap(m, u->map_len);
    }
  }
}

uint8_t *tv_ustore_seg_map(tv_ustore *u, uint32_t id) {
  if (u->seg_maps == NULL || id >= TV_STORE_SEGMENTS_MAX) {
    return NULL;
  }
  uint8_t *m = atomic_load_explicit(&u->seg_maps[id], memory_order_acquire);
  if (m != NULL) {
    return m;
  }
  pthread_mutex_lock(&u->map_mu);
  m = atomic_load(&u->seg_maps[id]);
  int fd = tv_ustore_seg_fd(u, id);
  if (m == NULL && fd >= 0) {
    void *p = mmap(NULL, u->map_len, PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      m = p;
      atomic_store_explicit(&u->seg_maps[id], m, memory_order_release);
    }
  }
  pthread_mutex_unlock(&u->map_mu);
  return m;
}

static void unmap_all(tv_ustore *u) {
  for (uint32_t id = 0; id < TV_STORE_SEGMENTS_MAX; id++) {
    uint8_t *m = atomic_load(&u->seg_maps[id]);
    if (m != NULL) {
      munmap(m, u->map_len);
    }
  }
  free(u->seg_maps);
  u->seg_maps = NULL;
  pthread_mutex_destroy(&u->map_mu);
}

int tv_key_equal(const uint8_t *ns_a, size_t ns_a_len, const uint8_t *tok_a, size_t tok_a_len, const uint8_t *ns_b,
                 size_t ns_b_len, const uint8_t *tok_b, size_t tok_b_len) {
  return ns_a_len == ns_b_len && tok_a_len == tok_b_len && memcmp(ns_a, ns_b, ns_a_len) == 0 &&
         memcmp(tok_a, tok_b, tok_a_len) == 0;
}

tv_status tv_ustore_read_loc(tv_ustore *u, tv_store_loc loc, uint8_t *buf, tv_record *out) {
  int fd = tv_ustore_seg_fd(u, tv_loc_segment(loc));
  TV_ENSURE(fd >= 0, TV_E_INTERNAL);
  uint32_t len = tv_loc_len(loc);
  TV_ENSURE(len <= TV_STORE_RECORD_LEN_MAX, TV_E_INTERNAL);
  ssize_t n = pread(fd, buf, len, (off_t)tv_loc_offset(loc));
  TV_ENSURE(n == (ssize_t)len, TV_E_IO);
  size_t dec_len;
  TV_TRY(tv_record_decode(buf, len, out, &dec_len));
  TV_ENSURE(dec_len == len, TV_E_STORE_RECORD_LENGTH);
  return TV_OK;
}

tv_status tv_ustore_find_live(tv_ustore *u, uint64_t hash, const uint8_t *ns, size_t ns_len, const uint8_t *token,
                              size_t token_len, tv_store_loc *out_loc, uint64_t *out_fp_hash) {
  *out_loc = 0;
  *out_fp_hash = 0;
  tv_store_loc locs[TV_STORE_CANDIDATES_MAX];
  size_t k = tv_index_token_find_w(u->index, hash, locs, TV_STORE_CANDIDATES_MAX);
  for (size_t i = 0; i < k && i < TV_STORE_CANDIDATES_MAX; i++) {
    tv_record r;
    TV_TRY(tv_ustore_read_loc(u, locs[i], u->scratch, &r));
    TV_ENSURE(r.header.type == TV_RECORD_PUT || r.header.type == TV_RECORD_REPUT, TV_E_STORE_RECORD_TYPE);
    const tv_record_put *p = &r.body.put;
    if (tv_key_equal(p->ns, p->ns_len, p->token, p->token_len, ns, ns_len, token, token_len)) {
      *out_loc = locs[i];
      *out_fp_hash = tv_index_fp_hash(u->index, p->ns, p->ns_len, p->fingerprint);
      return TV_OK;
    }
  }
  return TV_OK;
}

static void ustore_free(tv_ustore *u) {
  if (u->seg_maps != NULL) {
    unmap_all(u);
  }
  if (u->seg_fds != NULL) {
    for (uint32_t id = u->first_seg; id < TV_STORE_SEGMENTS_MAX; id++) {
      int fd = tv_ustore_seg_fd(u, id);
      if (fd < 0) {
        break;
      }
      close(fd);
    }
    free(u->seg_fds);
  }
  if (u->wring_ok) {
    io_uring_queue_exit(&u->wring);
  }
  if (u->direct_fd >= 0) {
    close(u->direct_fd);
  }
  free(u->dbuf);
  for (int i = 0; i < u->rrings_ok; i++) {
    io_uring_queue_exit(&u->rrings[i]);
    pthread_mutex_destroy(&u->rring_mu[i]);
  }
  if (u->lock_fd >= 0) {
    close(u->lock_fd); /* releases the flock */
  }
  if (u->dir_fd >= 0) {
    close(u->dir_fd);
  }
  tv_index_free(u->index);
  tv_opqueue_cleanup(&u->queue);
  pthread_mutex_destroy(&u->wake_mu);
  pthread_cond_destroy(&u->wake_cv);
  pthread_mutex_destroy(&u->space_mu);
  pthread_cond_destroy(&u->space_cv);
  pthread_mutex_destroy(&u->done_mu);
  pthread_cond_destroy(&u->done_cv);
  pthread_rwlock_destroy(&u->swap_lock);
  tv_ustore_maint_gate_destroy(u);
  pthread_mutex_destroy(&u->task_mu);
  pthread_cond_destroy(&u->task_cv);
  free(u->batch_buf);
  free(u->scratch);
  free(u->conflicts);
  free(u->conflict_gen);
  free(u->batch_ops);
  free(u);
}

static int io_uring_forced_off(const tv_store_options *opts) {
  const char *env = getenv("TV_STORE_FORCE_NO_IO_URING");
  return opts->force_no_io_uring || (env != NULL && strcmp(env, "1") == 0);
}

/* init_rings fails with a clear status when the kernel refuses io_uring
 * (ENOSYS: too old or compiled out; EPERM: io_uring_disabled sysctl or a
 * seccomp filter) instead of failing later on the first write. */
static tv_status init_rings(tv_ustore *u, const tv_store_options *opts, tv_store_diag *diag) {
  int ret = io_uring_forced_off(opts) ? -ENOSYS : io_uring_queue_init(WRITE_RING_DEPTH, &u->wring, 0);
  if (ret == 0) {
    u->wring_ok = 1;
    for (; u->rrings_ok < (int)TV_STORE_READ_RINGS; u->rrings_ok++) {
      ret = io_uring_queue_init(TV_STORE_READ_RING_DEPTH, &u->rrings[u->rrings_ok], 0);
      if (ret != 0) {
        break;
      }
      pthread_mutex_init(&u->rring_mu[u->rrings_ok], NULL);
    }
  }
  if (ret != 0) {
    snprintf(diag->message, sizeof diag->message, "io_uring_queue_init failed: %s%s", strerror(-ret),
             io_uring_forced_off(opts) ? " (forced off by option or TV_STORE_FORCE_NO_IO_URING)" : "");
    return TV_E_STORE_IO_URING_UNAVAILABLE;
  }
  return TV_OK;
}

static tv_status open_dir(tv_ustore *u, tv_store_diag *diag) {
  snprintf(diag->path, sizeof diag->path, "%s", u->dir);
  /* A new directory's own name must be durable too (fsync of its parent):
   * else a power cut after the first start loses the whole store. */
  int err = tv_mkdir_durable(u->dir);
  if (err != 0 && err != EEXIST) {
    snprintf(diag->message, sizeof diag->message, "cannot create store directory (mkdir, fsync of its parent): %s "
             "(errno %d)", strerror(err), err);
    return TV_E_IO;
  }
  u->dir_fd = open(u->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (u->dir_fd < 0) {
    snprintf(diag->message, sizeof diag->message, "cannot open store directory: %s (errno %d)", strerror(errno),
             errno);
    return TV_E_IO;
  }
  u->lock_fd = openat(u->dir_fd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (u->lock_fd < 0) {
    snprintf(diag->message, sizeof diag->message, "cannot create LOCK: %s (errno %d)", strerror(errno), errno);
    return TV_E_IO;
  }
  if (flock(u->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    snprintf(diag->message, sizeof diag->message, "store directory is locked by another process");
    return errno == EWOULDBLOCK ? TV_E_STORE_LOCKED : TV_E_IO;
  }
  diag->path[0] = '\0';
  return TV_OK;
}

static tv_status alloc_state(tv_ustore *u, const tv_store_options *opts) {
  uint64_t seed;
  TV_ENSURE(getrandom(&seed, sizeof seed, 0) == (ssize_t)sizeof seed, TV_E_IO);
  TV_TRY(tv_index_new(opts->tokens_hint, seed, &u->index));
  TV_TRY(tv_opqueue_init(&u->queue, TV_STORE_QUEUE_ITEMS_MAX));
  u->seg_fds = calloc(TV_STORE_SEGMENTS_MAX, sizeof *u->seg_fds);
  u->batch_buf = malloc(TV_STORE_BATCH_BYTES_MAX);
  u->scratch = malloc(TV_STORE_RECORD_LEN_MAX);
  u->conflicts = calloc(TV_CONFLICT_SLOTS, sizeof *u->conflicts);
  u->conflict_gen = calloc(TV_CONFLICT_SLOTS, sizeof *u->conflict_gen);
  u->batch_gen = 1;
  u->batch_ops = calloc(TV_STORE_BATCH_RECORDS_MAX, sizeof *u->batch_ops);
  TV_ENSURE(u->seg_fds && u->batch_buf && u->scratch && u->conflicts && u->conflict_gen && u->batch_ops, TV_E_NO_MEMORY);
  return TV_OK;
}

/* init_direct sets up the O_DIRECT experiment: the aligned buffer, and
 * its registration (fixed-buffer writes skip pinning pages per write);
 * without registration the writes still go direct, unregistered. */
static tv_status init_direct(tv_ustore *u) {
  void *p = NULL;
  size_t len = TV_STORE_BATCH_BYTES_MAX + 2 * TV_STORE_DIRECT_BLOCK;
  TV_ENSURE(posix_memalign(&p, TV_STORE_DIRECT_BLOCK, len) == 0, TV_E_NO_MEMORY);
  u->dbuf = p;
  u->dbuf_base = UINT64_MAX;
  u->direct = 1;
  struct iovec iov = {.iov_base = p, .iov_len = len};
  u->dbuf_registered = io_uring_register_buffers(&u->wring, &iov, 1) == 0;
  return TV_OK;
}

/* init_maps makes room for the segment maps (made on demand). After
 * recovery, which installs every segment before any reader exists. */
static tv_status init_maps(tv_ustore *u) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t len = (size_t)u->segment_bytes + TV_STORE_RECORD_LEN_MAX;
  u->map_len = (len + page - 1) / page * page;
  pthread_mutex_init(&u->map_mu, NULL);
  u->seg_maps = calloc(TV_STORE_SEGMENTS_MAX, sizeof *u->seg_maps);
  if (u->seg_maps == NULL) {
    pthread_mutex_destroy(&u->map_mu);
    return TV_E_NO_MEMORY;
  }
  return TV_OK;
}

static tv_status ustore_open_steps(tv_ustore *u, const tv_store_options *opts, tv_store_diag *diag) {
  TV_TRY(init_rings(u, opts, diag));
  TV_TRY(alloc_state(u, opts));
  if (opts->direct_io) {
    TV_TRY(init_direct(u));
  }
  TV_TRY(open_dir(u, diag));
  tv_store_io_error_clear();
  tv_status st = tv_ustore_recover(u, diag);
  if (st != TV_OK && diag->message[0] == '\0' && tv_store_io_error()[0] != '\0') {
    /* a write at open (first segment, torn tail) failed: say which */
    snprintf(diag->path, sizeof diag->path, "%s", u->dir);
    snprintf(diag->message, sizeof diag->message, "%s", tv_store_io_error());
    diag->io_failure = 1;
  }
  TV_TRY(st);
  /* A long replayed tail counts as unsaved work: the writer then writes a
   * checkpoint at close (or sooner, with the records written after), so
   * a clean stop after a crash recovery spares the next start the same
   * replay even if nothing new was written. A discarded checkpoint is
   * replaced the same way, so it is not met (and logged) at every start. */
  if (u->st_recovered >= TV_STORE_CKPT_REPLAYED_MIN || u->open_report.checkpoint == TV_STORE_CKPT_DISCARDED) {
    u->ckpt_since = u->st_recovered > 0 ? u->st_recovered : 1;
  }
  if (!opts->uring_reads) {
    TV_TRY(init_maps(u));
  }
  return tv_ustore_writer_start(u);
}

/* See ustore.h: the swap must not wait behind an endless stream of
 * overlapping point reads, so writers are preferred on swap_lock (no
 * point read nests another). Scans may nest (a scan callback can scan),
 * so maint_lock keeps the default, reader-preferring kind, with a gate
 * (maint_gate.c) that holds new outermost scans off a waiting swap. */
static void init_compaction_locks(tv_ustore *u) {
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&u->swap_lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  tv_ustore_maint_gate_init(u);
  pthread_mutex_init(&u->task_mu, NULL);
  pthread_cond_init(&u->task_cv, NULL);
}

static tv_status ustore_open(const tv_store_options *opts, tv_store_diag *diag, void **out_impl) {
  uint64_t seg = opts->segment_bytes ? opts->segment_bytes : TV_STORE_SEGMENT_BYTES_DEFAULT;
  TV_ENSURE(seg >= TV_STORE_SEGMENT_BYTES_MIN && seg <= TV_STORE_SEGMENT_BYTES_MAX && seg % 8 == 0,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE(strlen(opts->dir) + 32 < TV_STORE_PATH_LEN_MAX, TV_E_INVALID_ARGUMENT);
  tv_ustore *u = calloc(1, sizeof *u);
  TV_ENSURE(u != NULL, TV_E_NO_MEMORY);
  snprintf(u->dir, sizeof u->dir, "%s", opts->dir);
  u->dir_fd = -1;
  u->lock_fd = -1;
  u->direct_fd = -1;
  u->segment_bytes = seg;
  u->fault = opts->fault;
  u->ckpt_every = opts->checkpoint_records;
  u->fault_ctx = opts->fault_ctx;
  pthread_mutex_init(&u->wake_mu, NULL);
  pthread_cond_init(&u->wake_cv, NULL);
  pthread_mutex_init(&u->space_mu, NULL);
  pthread_cond_init(&u->space_cv, NULL);
  pthread_mutex_init(&u->done_mu, NULL);
  pthread_cond_init(&u->done_cv, NULL);
  init_compaction_locks(u);
  tv_status st = ustore_open_steps(u, opts, diag);
  if (st != TV_OK) {
    tv_ustore_writer_stop(u); /* if only one of the threads had started */
    ustore_free(u);
    return st;
  }
  *out_impl = u;
  return TV_OK;
}

static void ustore_close(void *impl) {
  tv_ustore *u = impl;
  tv_ustore_writer_stop(u);
  ustore_free(u);
}

static void ustore_get_stats(void *impl, tv_store_stats *out) {
  tv_ustore *u = impl;
  out->batches = atomic_load(&u->st_batches);
  out->records = atomic_load(&u->st_records);
  out->bytes = atomic_load(&u->st_bytes);
  out->failed_batches = atomic_load(&u->st_failed);
  out->recovered_records = u->st_recovered;
  out->torn_bytes_cut = u->st_torn_cut;
  out->checkpoint_tokens = u->st_ckpt_tokens;
  out->checked_records = u->st_checked;
  out->log_records = u->st_recovered + u->st_covered_data;
  out->checkpoints_written = atomic_load(&u->st_ckpt_written);
  out->direct_io = u->direct ? 1 + u->dbuf_registered : 0;
  tv_index_get_stats(u->index, &out->index);
  out->fsyncs = atomic_load(&u->st_fsyncs);
  out->fsync_us_sum = atomic_load(&u->st_fsync_us_sum);
  out->fsync_us_max = atomic_load(&u->st_fsync_us_max);
  for (size_t b = 0; b <= TV_LATENCY_BUCKETS_COUNT; b++) {
    out->fsync_buckets[b] = atomic_load(&u->st_fsync_buckets[b]);
  }
}

static void ustore_get_open_report(void *impl, tv_store_open_report *out) {
  const tv_ustore *u = impl;
  *out = u->open_report;
  out->replayed_records = u->st_recovered;
}

const tv_store_backend tv_store_backend_uring = {
    .name = "io_uring-log",
    .open = ustore_open,
    .close = ustore_close,
    .submit = tv_ustore_submit,
    .submit_wait = tv_ustore_submit_wait,
    .get_batch = tv_ustore_get_batch,
    .read_locations = tv_ustore_read_locations,
    .find_fingerprint = tv_ustore_find_fingerprint,
    .find_fingerprints = tv_ustore_find_fingerprints,
    .scan = tv_ustore_scan,
    .snapshot = tv_ustore_snapshot,
    .compact = tv_ustore_compact,
    .get_stats = ustore_get_stats,
    .get_open_report = ustore_get_open_report,
};
