/* Delete by token (engine tombstones, see engine.h), erase by value, and
 * token information. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "vault/engine/engine_internal.h"
#include "vault/util/secure_mem.h"

/* Rounds of find-and-tombstone in one erasure: each round removes up to
 * ENGINE_FP_ITEMS_MAX tokens, so this bounds a value at ~16k tokens. */
#define ERASE_ROUNDS_MAX 1024u

typedef struct del_job {
  tv_store_op op; /* first: handed back to del_done */
  tv_delete_req *req;
  size_t idx;
  char canon[TV_ENGINE_TEXT_LEN_MAX + 1];
  size_t canon_len;
} del_job;

static void del_req_item_done(tv_delete_req *req) {
  if (atomic_fetch_sub(&req->priv.pending, 1) != 1) {
    return;
  }
  tv_engine *e = req->priv.engine;
  free(req->priv.jobs);
  req->priv.jobs = NULL;
  pthread_mutex_lock(&e->mutate_lock);
  if (--e->deletes_inflight == 0) {
    pthread_cond_broadcast(&e->mutate_cond);
  }
  pthread_mutex_unlock(&e->mutate_lock);
  req->done(req); /* may free req */
  engine_ops_end(e);
}

static void del_done(tv_store_op *op, tv_status status) {
  del_job *job = (del_job *)op;
  /* NOT_FOUND here: it vanished between our read and our write, which
   * only another engine tombstone can do — it is deleted either way. */
  job->req->out_statuses[job->idx] = status == TV_E_STORE_NOT_FOUND ? TV_E_ENGINE_DELETED : status;
  del_req_item_done(job->req);
}

static tv_status del_submit_one(tv_engine *e, const engine_ns *ns, del_job *job, const tv_store_item *it) {
  if (it->status == TV_E_STORE_NOT_FOUND) {
    return TV_E_ENGINE_NOT_FOUND;
  }
  TV_TRY(it->status);
  if (engine_is_tombstone(&it->put)) {
    return TV_E_ENGINE_DELETED;
  }
  tv_record_put *put = &job->op.put;
  memset(put, 0, sizeof *put);
  put->ns = (const uint8_t *)ns->name;
  put->ns_len = ns->name_len;
  put->token = (const uint8_t *)job->canon;
  put->token_len = job->canon_len;
  /* A random fingerprint: the tombstone must not link back to the value,
   * and equal fingerprints would pile up in one index bucket. */
  TV_ENSURE(RAND_bytes(put->fingerprint, sizeof put->fingerprint) == 1, TV_E_CRYPTO_BACKEND);
  put->key_version = TV_ENGINE_TOMBSTONE_VERSION;
  put->created_ms = engine_now(e);
  job->op.kind = TV_STORE_OP_REPUT;
  job->op.done = del_done;
  job->op.user = job;
  return engine_submit(e, &job->op);
}

static tv_status del_read_and_submit(tv_engine *e, const engine_ns *ns, tv_delete_req *req) {
  del_job *jobs = req->priv.jobs;
  tv_store_key *keys = calloc(req->num_tokens, sizeof *keys);
  tv_store_item *items = calloc(req->num_tokens, sizeof *items);
  size_t *which = calloc(req->num_tokens, sizeof *which);
  tv_store_buf buf = {0};
  tv_status st = TV_E_NO_MEMORY;
  if (keys != NULL && items != NULL && which != NULL) {
    size_t n = 0;
    for (size_t i = 0; i < req->num_tokens; i++) {
      jobs[i].req = req;
      jobs[i].idx = i;
      req->out_statuses[i] = engine_token_canon(ns, req->tokens[i], req->token_lens[i], jobs[i].canon,
                                                &jobs[i].canon_len);
      if (req->out_statuses[i] == TV_OK) {
        keys[n] = engine_key_of(ns, jobs[i].canon, jobs[i].canon_len);
        which[n++] = i;
      } else {
        del_req_item_done(req);
      }
    }
    st = n > 0 ? tv_store_get_batch(e->store, keys, n, items, &buf) : TV_OK;
    for (size_t k = 0; k < n; k++) {
      size_t i = which[k];
      tv_status s = st == TV_OK ? del_submit_one(e, ns, &jobs[i], &items[k]) : st;
      if (s != TV_OK) {
        req->out_statuses[i] = s;
        del_req_item_done(req);
      }
    }
    st = TV_OK;
  }
  tv_store_buf_cleanup(&buf);
  free(keys);
  free(items);
  free(which);
  return st;
}

tv_status tv_engine_delete_submit(tv_engine *engine, tv_delete_req *req) {
  TV_ENSURE(engine != NULL && req != NULL && req->done != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(req->tokens != NULL && req->token_lens != NULL && req->out_statuses != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(req->num_tokens >= 1, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(req->num_tokens <= TV_ENGINE_BATCH_ITEMS_MAX, TV_E_ENGINE_BATCH_TOO_LARGE);
  const engine_ns *ns = engine_find_ns(engine, req->ns);
  TV_ENSURE(ns != NULL, TV_E_ENGINE_NAMESPACE);
  del_job *jobs = calloc(req->num_tokens, sizeof *jobs);
  TV_ENSURE(jobs != NULL, TV_E_NO_MEMORY);
  req->priv.jobs = jobs;
  req->priv.engine = engine;
  atomic_store(&req->priv.pending, req->num_tokens + 1);
  engine_ops_begin(engine);
  pthread_mutex_lock(&engine->mutate_lock);
  while (engine->reencrypting) {
    pthread_cond_wait(&engine->mutate_cond, &engine->mutate_lock);
  }
  engine->deletes_inflight++;
  pthread_mutex_unlock(&engine->mutate_lock);
  tv_status st = del_read_and_submit(engine, ns, req);
  if (st != TV_OK) {
    /* Only allocation failed before any item was started. */
    for (size_t i = 0; i < req->num_tokens; i++) {
      req->out_statuses[i] = st;
      del_req_item_done(req);
    }
  }
  del_req_item_done(req);
  return TV_OK;
}

typedef struct del_wait {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int done;
} del_wait;

static void del_sync_done(tv_delete_req *req) {
  del_wait *w = req->user;
  pthread_mutex_lock(&w->lock);
  w->done = 1;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

tv_status tv_engine_delete(tv_engine *engine, const char *ns, const char *const *tokens, const size_t *token_lens,
                           tv_status *out_statuses, size_t num_tokens) {
  del_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  tv_delete_req req = {.ns = ns,
                       .tokens = tokens,
                       .token_lens = token_lens,
                       .out_statuses = out_statuses,
                       .num_tokens = num_tokens,
                       .done = del_sync_done,
                       .user = &w};
  TV_TRY(tv_engine_delete_submit(engine, &req));
  pthread_mutex_lock(&w.lock);
  while (!w.done) {
    pthread_cond_wait(&w.cond, &w.lock);
  }
  pthread_mutex_unlock(&w.lock);
  pthread_mutex_destroy(&w.lock);
  pthread_cond_destroy(&w.cond);
  return TV_OK;
}

/* One erasure round: tombstones the live tokens the fingerprint finds now.
 * |*out_found| 0 means none is left. */
static tv_status erase_round(tv_engine *e, const engine_ns *ns, const uint8_t *fp, size_t *out_found,
                             size_t *erased) {
  tv_store_item items[ENGINE_FP_ITEMS_MAX];
  char tokens[ENGINE_FP_ITEMS_MAX][TV_ENGINE_TEXT_LEN_MAX + 1];
  const char *ptrs[ENGINE_FP_ITEMS_MAX];
  size_t lens[ENGINE_FP_ITEMS_MAX];
  tv_status statuses[ENGINE_FP_ITEMS_MAX];
  size_t num = 0;
  tv_store_buf buf = {0};
  tv_status st = tv_store_find_fingerprint(e->store, (const uint8_t *)ns->name, ns->name_len, fp, items,
                                           ENGINE_FP_ITEMS_MAX, &num, &buf);
  size_t n = 0;
  for (size_t i = 0; st == TV_OK && i < num && i < ENGINE_FP_ITEMS_MAX; i++) {
    const tv_record_put *p = &items[i].put;
    if (items[i].status == TV_OK && !engine_is_tombstone(p) &&
        p->token_len <= TV_ENGINE_TEXT_LEN_MAX) {
      memcpy(tokens[n], p->token, p->token_len);
      ptrs[n] = tokens[n];
      lens[n++] = p->token_len;
    }
  }
  tv_store_buf_cleanup(&buf);
  TV_TRY(st);
  *out_found = n;
  if (n == 0) {
    return TV_OK;
  }
  TV_TRY(tv_engine_delete(e, ns->name, ptrs, lens, statuses, n));
  for (size_t i = 0; i < n; i++) {
    if (statuses[i] == TV_OK) {
      (*erased)++;
    } else if (statuses[i] != TV_E_ENGINE_DELETED && statuses[i] != TV_E_ENGINE_NOT_FOUND) {
      return statuses[i];
    }
  }
  return TV_OK;
}

tv_status tv_engine_erase_value(tv_engine *engine, size_t *out_erased, const char *ns, const char *value,
                                size_t value_len) {
  TV_ENSURE(engine != NULL && out_erased != NULL && (value != NULL || value_len == 0), TV_E_INVALID_ARGUMENT);
  *out_erased = 0;
  const engine_ns *n = engine_find_ns(engine, ns);
  TV_ENSURE(n != NULL, TV_E_ENGINE_NAMESPACE);
  format_value v;
  tv_status st = format_parse(&n->cfg.format, value, value_len, &v);
  uint8_t fp[TV_RECORD_FINGERPRINT_LEN];
  if (st == TV_OK) {
    st = engine_fingerprint(n, &v, fp);
  }
  format_value_wipe(&v);
  TV_TRY(st);
  for (unsigned round = 0; round < ERASE_ROUNDS_MAX; round++) {
    size_t found = 0;
    TV_TRY(erase_round(engine, n, fp, &found, out_erased));
    if (found == 0) {
      return TV_OK;
    }
  }
  return TV_E_INTERNAL;
}

tv_status tv_engine_token_info(tv_engine *engine, tv_token_info *out, const char *ns, const char *token,
                               size_t token_len) {
  TV_ENSURE(engine != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  memset(out, 0, sizeof *out);
  const engine_ns *n = engine_find_ns(engine, ns);
  TV_ENSURE(n != NULL, TV_E_ENGINE_NAMESPACE);
  char canon[TV_ENGINE_TEXT_LEN_MAX + 1];
  size_t canon_len = 0;
  TV_TRY(engine_token_canon(n, token, token_len, canon, &canon_len));
  tv_store_key key = engine_key_of(n, canon, canon_len);
  tv_store_item it;
  tv_store_buf buf = {0};
  tv_status st = tv_store_get_batch_replica(engine->store, &key, 1, &it, &buf); /* reveal only */
  if (st == TV_OK) {
    st = it.status == TV_E_STORE_NOT_FOUND ? TV_E_ENGINE_NOT_FOUND : it.status;
  }
  if (st == TV_OK) {
    st = engine_record_state(&it.put, engine_now(engine));
    if (st == TV_OK || st == TV_E_ENGINE_EXPIRED) {
      out->created_ms = it.put.created_ms;
      out->expires_ms = it.put.expires_ms;
      out->key_version = it.put.key_version;
      size_t m = it.put.metadata_len <= TV_ENGINE_METADATA_LEN_MAX ? it.put.metadata_len : 0;
      if (m > 0) {
        memcpy(out->metadata, it.put.metadata, m);
      }
      out->metadata_len = m;
    }
  }
  tv_store_buf_cleanup(&buf);
  return st;
}
