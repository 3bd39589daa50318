#include "vault/store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tv_store {
  const tv_store_backend *backend;
  void *impl;
};

void tv_store_buf_cleanup(tv_store_buf *buf) {
  free(buf->data);
  buf->data = NULL;
  buf->cap = 0;
}

tv_status tv_store_open(const tv_store_backend *backend, const tv_store_options *opts, tv_store **out,
                        tv_store_diag *diag) {
  TV_ENSURE(opts != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  /* Only the log lives in a directory; a database backend checks its own options. */
  TV_ENSURE(opts->dir != NULL || (backend != NULL && backend != &tv_store_backend_uring), TV_E_INVALID_ARGUMENT);
  tv_store_diag scratch;
  if (diag == NULL) {
    diag = &scratch;
  }
  memset(diag, 0, sizeof *diag);
  if (backend == NULL) {
    backend = &tv_store_backend_uring;
  }
  tv_store *s = calloc(1, sizeof *s);
  TV_ENSURE(s != NULL, TV_E_NO_MEMORY);
  s->backend = backend;
  tv_status st = backend->open(opts, diag, &s->impl);
  if (st != TV_OK) {
    free(s);
    return st;
  }
  *out = s;
  return TV_OK;
}

void *tv_store_backend_impl(tv_store *s, const tv_store_backend *backend) {
  return s != NULL && s->backend == backend ? s->impl : NULL;
}

void tv_store_close(tv_store *s) {
  if (s == NULL) {
    return;
  }
  s->backend->close(s->impl);
  free(s);
}

tv_status tv_store_submit(tv_store *s, tv_store_op *op) {
  TV_ENSURE(s != NULL && op != NULL && op->done != NULL, TV_E_INVALID_ARGUMENT);
  return s->backend->submit(s->impl, op);
}

/* poll_submit retries BUSY with a growing sleep, for a backend without
 * submit_wait: the queue drains at the speed of the disk, so spinning
 * would only steal the writer's CPU. */
static tv_status poll_submit(tv_store *s, tv_store_op *op) {
  tv_status st;
  long nap_ns = 20000;
  while ((st = tv_store_submit(s, op)) == TV_E_STORE_BUSY) {
    struct timespec ts = {0, nap_ns};
    nanosleep(&ts, NULL);
    nap_ns = nap_ns < 2000000 ? nap_ns * 2 : nap_ns;
  }
  return st;
}

tv_status tv_store_submit_wait(tv_store *s, tv_store_op *op) {
  TV_ENSURE(s != NULL && op != NULL && op->done != NULL, TV_E_INVALID_ARGUMENT);
  if (s->backend->submit_wait == NULL) {
    return poll_submit(s, op);
  }
  return s->backend->submit_wait(s->impl, op);
}

/* A blocking call's rendezvous with the writer thread. */
typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  tv_status status;
} waiter;

static void waiter_done(tv_store_op *op, tv_status status) {
  waiter *w = op->user;
  pthread_mutex_lock(&w->mu);
  w->status = status;
  w->done = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

tv_status tv_store_submit_sync(tv_store *s, tv_store_op *op) {
  waiter w = {.done = 0, .status = TV_OK};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  op->done = waiter_done;
  op->user = &w;
  tv_status st = tv_store_submit_wait(s, op);
  if (st == TV_OK) {
    pthread_mutex_lock(&w.mu);
    while (!w.done) {
      pthread_cond_wait(&w.cv, &w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    st = w.status;
  }
  pthread_cond_destroy(&w.cv);
  pthread_mutex_destroy(&w.mu);
  return st;
}

static tv_status put_common(tv_store *s, tv_store_op_kind kind, const tv_record_put *put, tv_store_loc *out_loc) {
  TV_ENSURE(put != NULL, TV_E_INVALID_ARGUMENT);
  tv_store_op op;
  memset(&op, 0, sizeof op);
  op.kind = kind;
  op.put = *put;
  TV_TRY(tv_store_submit_sync(s, &op));
  if (out_loc != NULL) {
    *out_loc = op.loc;
  }
  return TV_OK;
}

tv_status tv_store_put(tv_store *s, const tv_record_put *put, tv_store_loc *out_loc) {
  return put_common(s, TV_STORE_OP_PUT, put, out_loc);
}

tv_status tv_store_reput(tv_store *s, const tv_record_put *put, tv_store_loc *out_loc) {
  return put_common(s, TV_STORE_OP_REPUT, put, out_loc);
}

tv_status tv_store_delete(tv_store *s, const tv_store_key *key, uint64_t deleted_ms) {
  TV_ENSURE(key != NULL, TV_E_INVALID_ARGUMENT);
  tv_store_op op;
  memset(&op, 0, sizeof op);
  op.kind = TV_STORE_OP_DELETE;
  op.put.ns = key->ns;
  op.put.ns_len = key->ns_len;
  op.put.token = key->token;
  op.put.token_len = key->token_len;
  op.put.created_ms = deleted_ms;
  return tv_store_submit_sync(s, &op);
}

tv_status tv_store_get_batch(tv_store *s, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                             tv_store_buf *buf) {
  TV_ENSURE(s != NULL && buf != NULL && (num_keys == 0 || (keys != NULL && out_items != NULL)),
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE(num_keys <= TV_STORE_GET_ITEMS_MAX, TV_E_INVALID_ARGUMENT);
  return s->backend->get_batch(s->impl, keys, num_keys, out_items, buf);
}

tv_status tv_store_get_batch_replica(tv_store *s, const tv_store_key *keys, size_t num_keys,
                                     tv_store_item *out_items, tv_store_buf *buf) {
  TV_ENSURE(s != NULL && buf != NULL && (num_keys == 0 || (keys != NULL && out_items != NULL)),
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE(num_keys <= TV_STORE_GET_ITEMS_MAX, TV_E_INVALID_ARGUMENT);
  if (s->backend->get_batch_replica == NULL) {
    return s->backend->get_batch(s->impl, keys, num_keys, out_items, buf);
  }
  return s->backend->get_batch_replica(s->impl, keys, num_keys, out_items, buf);
}

tv_status tv_store_read_locations(tv_store *s, const tv_store_loc *locs, size_t num, tv_store_item *out_items,
                                  tv_store_buf *buf) {
  TV_ENSURE(s != NULL && buf != NULL && (num == 0 || (locs != NULL && out_items != NULL)), TV_E_INVALID_ARGUMENT);
  TV_ENSURE(num <= TV_STORE_GET_ITEMS_MAX, TV_E_INVALID_ARGUMENT);
  return s->backend->read_locations(s->impl, locs, num, out_items, buf);
}

tv_status tv_store_find_fingerprint(tv_store *s, const uint8_t *ns, size_t ns_len, const uint8_t fp[16],
                                    tv_store_item *out_items, size_t items_max, size_t *out_num,
                                    tv_store_buf *buf) {
  TV_ENSURE(s != NULL && ns != NULL && fp != NULL && out_num != NULL && buf != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(items_max == 0 || out_items != NULL, TV_E_INVALID_ARGUMENT);
  return s->backend->find_fingerprint(s->impl, ns, ns_len, fp, out_items, items_max, out_num, buf);
}

tv_status tv_store_find_fingerprints(tv_store *s, const uint8_t *ns, size_t ns_len, const uint8_t *fps,
                                     size_t num_fps, size_t per_fp_max, tv_store_item *out_items,
                                     size_t *out_counts, tv_store_buf *buf) {
  TV_ENSURE(s != NULL && ns != NULL && buf != NULL && per_fp_max >= 1, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(num_fps == 0 || (fps != NULL && out_items != NULL && out_counts != NULL), TV_E_INVALID_ARGUMENT);
  TV_ENSURE(num_fps <= TV_STORE_GET_ITEMS_MAX && per_fp_max <= TV_STORE_GET_ITEMS_MAX, TV_E_INVALID_ARGUMENT);
  if (num_fps == 0) {
    return TV_OK;
  }
  return s->backend->find_fingerprints(s->impl, ns, ns_len, fps, num_fps, per_fp_max, out_items, out_counts, buf);
}

tv_status tv_store_scan(tv_store *s, tv_store_scan_fn fn, void *ctx) {
  TV_ENSURE(s != NULL && fn != NULL, TV_E_INVALID_ARGUMENT);
  return s->backend->scan(s->impl, fn, ctx);
}

void tv_store_get_open_report(tv_store *s, tv_store_open_report *out) {
  memset(out, 0, sizeof *out);
  if (s->backend->get_open_report != NULL) {
    s->backend->get_open_report(s->impl, out);
  }
}

tv_status tv_store_health(tv_store *s) {
  TV_ENSURE(s != NULL, TV_E_INVALID_ARGUMENT);
  return s->backend->health != NULL ? s->backend->health(s->impl) : TV_OK;
}

static int lease_args_ok(const char *name, const char *holder) {
  return name != NULL && holder != NULL && name[0] != '\0' && holder[0] != '\0' &&
         strlen(name) <= TV_STORE_LEASE_NAME_LEN_MAX && strlen(holder) <= TV_STORE_LEASE_HOLDER_LEN_MAX;
}

tv_status tv_store_lease(tv_store *s, const char *name, const char *holder, uint32_t ttl_ms,
                         const uint8_t *progress, size_t progress_len, tv_store_lease_info *out) {
  TV_ENSURE(s != NULL && out != NULL && lease_args_ok(name, holder) && ttl_ms > 0, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(progress_len <= TV_STORE_LEASE_PROGRESS_LEN_MAX && (progress != NULL || progress_len == 0),
            TV_E_INVALID_ARGUMENT);
  memset(out, 0, sizeof *out);
  if (s->backend->lease == NULL) {
    out->held = 1;
    snprintf(out->holder, sizeof out->holder, "%s", holder);
    if (progress_len > 0) {
      memcpy(out->progress, progress, progress_len);
    }
    out->progress_len = progress_len;
    return TV_OK;
  }
  return s->backend->lease(s->impl, name, holder, ttl_ms, progress, progress_len, out);
}

tv_status tv_store_lease_release(tv_store *s, const char *name, const char *holder) {
  TV_ENSURE(s != NULL && lease_args_ok(name, holder), TV_E_INVALID_ARGUMENT);
  return s->backend->lease_release != NULL ? s->backend->lease_release(s->impl, name, holder) : TV_OK;
}

void tv_store_get_stats(tv_store *s, tv_store_stats *out) {
  memset(out, 0, sizeof *out);
  s->backend->get_stats(s->impl, out);
}

tv_status tv_store_snapshot(tv_store *s, const char *dest_dir, const char *const *extra_paths, size_t num_extra,
                            tv_store_snapshot_info *info) {
  TV_ENSURE(s != NULL && dest_dir != NULL && info != NULL && (extra_paths != NULL || num_extra == 0),
            TV_E_INVALID_ARGUMENT);
  memset(info, 0, sizeof *info);
  return s->backend->snapshot(s->impl, dest_dir, extra_paths, num_extra, info);
}

tv_status tv_store_compact(tv_store *s, const tv_store_compact_options *opts, tv_store_compact_progress *progress) {
  TV_ENSURE(s != NULL, TV_E_INVALID_ARGUMENT);
  tv_store_compact_options none = {0};
  tv_store_compact_progress scratch;
  if (progress == NULL) {
    progress = &scratch;
  }
  tv_store_compact_progress_init(progress);
  return s->backend->compact(s->impl, opts != NULL ? opts : &none, progress);
}
