/* Rotation completion: move a namespace's records off older key versions
 * (decrypt, encrypt under the active version, durable re-put), then tell
 * the keyring which versions no record uses any more.
 *
 * Resumable by construction: the work left is exactly the records still
 * under older versions, which a new scan finds. One scan collects their
 * locations (8 bytes each); chunks are then read by location, confirmed
 * current by token, re-encrypted and re-put while deletes are held off
 * (a re-put after a tombstone would bring the value back). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/engine/engine_internal.h"
#include "vault/util/secure_mem.h"

#define CHUNK_RECORDS_DEFAULT 256u
#define CHUNK_RECORDS_MAX TV_STORE_GET_ITEMS_MAX

typedef struct collect_ctx {
  const engine_ns *ns;
  uint32_t active;
  tv_store_loc *locs;
  size_t num;
  size_t cap;
  uint64_t scanned;
  /* Counting mode (locs NULL): records per version. */
  uint32_t versions[TV_KEYRING_VERSIONS_MAX];
  uint64_t counts[TV_KEYRING_VERSIONS_MAX];
  size_t num_versions;
  int counting;
} collect_ctx;

static int same_ns(const engine_ns *ns, const tv_record_put *put) {
  return put->ns_len == ns->name_len && memcmp(put->ns, ns->name, ns->name_len) == 0;
}

static tv_status collect_fn(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  collect_ctx *c = ctx;
  if (!same_ns(c->ns, put) || put->key_version == TV_ENGINE_TOMBSTONE_VERSION) {
    return TV_OK;
  }
  c->scanned++;
  if (c->counting) {
    for (size_t i = 0; i < c->num_versions; i++) {
      if (c->versions[i] == put->key_version) {
        c->counts[i]++;
      }
    }
    return TV_OK;
  }
  if (put->key_version == c->active) {
    return TV_OK;
  }
  if (c->num == c->cap) {
    size_t cap = c->cap == 0 ? 1024 : c->cap * 2;
    tv_store_loc *locs = realloc(c->locs, cap * sizeof *locs);
    TV_ENSURE(locs != NULL, TV_E_NO_MEMORY);
    c->locs = locs;
    c->cap = cap;
  }
  c->locs[c->num++] = loc;
  return TV_OK;
}

typedef struct re_op {
  tv_store_op op;
  uint8_t ct[ENGINE_CT_LEN_MAX];
  tv_status status;
} re_op;

typedef struct re_chunk {
  tv_engine *e;
  const engine_ns *ns;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t pending;
  re_op *ops;
  tv_store_buf located;
  tv_store_buf current;
  tv_store_item *items;
  tv_store_item *cur;
  tv_store_key *keys;
} re_chunk;

static void re_done(tv_store_op *op, tv_status status) {
  re_op *r = (re_op *)op;
  re_chunk *ch = op->user;
  r->status = status;
  pthread_mutex_lock(&ch->lock);
  if (--ch->pending == 0) {
    pthread_cond_signal(&ch->cond);
  }
  pthread_mutex_unlock(&ch->lock);
}

/* Re-encrypts record |cur| (current for its token) into |r| and submits it.
 * A record that cannot be opened (its version unknown, or it fails
 * authentication) is the record's own problem: TV_E_ENGINE_DECRYPT. */
static tv_status re_one(re_chunk *ch, const tv_record_put *cur, re_op *r) {
  tv_keyring_keys old_keys;
  tv_keyring_keys new_keys;
  uint8_t pt[ENGINE_CT_LEN_MAX];
  size_t pt_len = 0;
  if (tv_keyring_version(ch->e->keyring, &old_keys, ch->ns->name, cur->key_version) != TV_OK ||
      engine_open(cur, old_keys.value_key, pt, &pt_len) != TV_OK) {
    tv_wipe(pt, sizeof pt);
    return TV_E_ENGINE_DECRYPT;
  }
  tv_status st = tv_keyring_reserve(ch->e->keyring, &new_keys, NULL, ch->ns->name, 1);
  if (st == TV_OK) {
    r->op.put = *cur;
    st = engine_seal(ch->ns, cur->token, cur->token_len, new_keys.version, new_keys.value_key, pt, pt_len, r->ct,
                     &r->op.put);
  }
  tv_wipe(pt, sizeof pt);
  TV_TRY(st);
  r->op.kind = TV_STORE_OP_REPUT;
  /* A database store keeps a convergent value's hold on its fingerprint
   * only while the re-put says so; an expired value gives it up (a new
   * token may be minted for the value, as on one node). */
  r->op.flags = ch->ns->cfg.convergent && engine_record_state(cur, engine_now(ch->e)) == TV_OK
                    ? TV_STORE_OP_FP_UNIQUE
                    : 0u;
  r->op.done = re_done;
  r->op.user = ch;
  pthread_mutex_lock(&ch->lock);
  ch->pending++;
  pthread_mutex_unlock(&ch->lock);
  st = engine_submit(ch->e, &r->op);
  if (st != TV_OK) {
    pthread_mutex_lock(&ch->lock);
    ch->pending--;
    pthread_mutex_unlock(&ch->lock);
  }
  return st;
}

/* A record that fails authentication stays where it is (counted as
 * remaining); any other failure to move a record — the store's disk full
 * or failing, the keyring out of encryptions — is not the record's fault
 * and would stop every other record too, so it ends the run and is what
 * the caller is told (keeping the first one seen). */
static void note_failure(tv_status *first, tv_status st) {
  if (st != TV_OK && st != TV_E_ENGINE_DECRYPT && *first == TV_OK) {
    *first = st;
  }
}

/* Reads, confirms and re-puts |num| located records; adds the re-puts
 * made durable to |*done|. Returns the first failure not due to the
 * record itself (note_failure) after the chunk's durable re-puts are
 * counted. */
static tv_status re_chunk_run(re_chunk *ch, const tv_store_loc *locs, size_t num, uint32_t active,
                              uint64_t *done) {
  TV_TRY(tv_store_read_locations(ch->e->store, locs, num, ch->items, &ch->located));
  size_t n = 0;
  for (size_t i = 0; i < num; i++) {
    if (ch->items[i].status == TV_OK) {
      ch->keys[n++] = (tv_store_key){ch->items[i].put.ns, ch->items[i].put.ns_len, ch->items[i].put.token,
                                     ch->items[i].put.token_len};
    }
  }
  if (n == 0) {
    return TV_OK;
  }
  TV_TRY(tv_store_get_batch(ch->e->store, ch->keys, n, ch->cur, &ch->current));
  size_t submitted = 0;
  tv_status failure = TV_OK;
  for (size_t k = 0; k < n && failure == TV_OK; k++) {
    const tv_store_item *c = &ch->cur[k];
    /* Skip what changed since the scan: deleted, or already moved. */
    if (c->status != TV_OK || c->put.key_version == TV_ENGINE_TOMBSTONE_VERSION || c->put.key_version == active) {
      continue;
    }
    ch->ops[submitted].status = TV_E_INTERNAL;
    tv_status st = re_one(ch, &c->put, &ch->ops[submitted]);
    submitted += st == TV_OK;
    note_failure(&failure, st);
  }
  pthread_mutex_lock(&ch->lock);
  while (ch->pending > 0) {
    pthread_cond_wait(&ch->cond, &ch->lock);
  }
  pthread_mutex_unlock(&ch->lock);
  for (size_t i = 0; i < submitted; i++) {
    *done += ch->ops[i].status == TV_OK;
    /* NOT_FOUND: a database store refused to re-put over a row another
     * node deleted (or stubbed) since we read it: nothing left to move. */
    note_failure(&failure, ch->ops[i].status == TV_E_STORE_NOT_FOUND ? TV_OK : ch->ops[i].status);
    tv_wipe(ch->ops[i].ct, sizeof ch->ops[i].ct);
  }
  return failure;
}

static void mutate_begin(tv_engine *e) {
  pthread_mutex_lock(&e->mutate_lock);
  while (e->reencrypting) {
    pthread_cond_wait(&e->mutate_cond, &e->mutate_lock);
  }
  /* Set before waiting: new deletes queue behind us, so a steady stream
   * of them cannot starve re-encryption. */
  e->reencrypting = 1;
  while (e->deletes_inflight > 0) {
    pthread_cond_wait(&e->mutate_cond, &e->mutate_lock);
  }
  pthread_mutex_unlock(&e->mutate_lock);
}

static void mutate_end(tv_engine *e) {
  pthread_mutex_lock(&e->mutate_lock);
  e->reencrypting = 0;
  pthread_cond_broadcast(&e->mutate_cond);
  pthread_mutex_unlock(&e->mutate_lock);
}

static void rate_wait(const struct timespec *start, uint64_t done, uint64_t per_s) {
  if (per_s == 0) {
    return;
  }
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double elapsed = (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
  double due = (double)done / (double)per_s;
  if (due > elapsed) {
    double wait = due - elapsed;
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    nanosleep(&ts, NULL);
  }
}

static tv_status re_all(tv_engine *e, const engine_ns *ns, const collect_ctx *c, const tv_reencrypt_options *o,
                        tv_reencrypt_progress *p) {
  size_t chunk = o->chunk_records == 0 ? CHUNK_RECORDS_DEFAULT : o->chunk_records;
  chunk = chunk > CHUNK_RECORDS_MAX ? CHUNK_RECORDS_MAX : chunk;
  re_chunk ch = {.e = e, .ns = ns};
  pthread_mutex_init(&ch.lock, NULL);
  pthread_cond_init(&ch.cond, NULL);
  ch.ops = calloc(chunk, sizeof *ch.ops);
  ch.items = calloc(chunk, sizeof *ch.items);
  ch.cur = calloc(chunk, sizeof *ch.cur);
  ch.keys = calloc(chunk, sizeof *ch.keys);
  tv_status st = ch.ops && ch.items && ch.cur && ch.keys ? TV_OK : TV_E_NO_MEMORY;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  size_t limit = c->num;
  if (o->records_max != 0 && o->records_max < limit) {
    limit = (size_t)o->records_max;
  }
  for (size_t at = 0; st == TV_OK && at < limit; at += chunk) {
    size_t n = limit - at < chunk ? limit - at : chunk;
    mutate_begin(e);
    st = re_chunk_run(&ch, c->locs + at, n, p->active_version, &p->reencrypted);
    mutate_end(e);
    rate_wait(&start, p->reencrypted, o->records_per_s);
  }
  tv_store_buf_cleanup(&ch.located);
  tv_store_buf_cleanup(&ch.current);
  free(ch.ops);
  free(ch.items);
  free(ch.cur);
  free(ch.keys);
  pthread_mutex_destroy(&ch.lock);
  pthread_cond_destroy(&ch.cond);
  return st;
}

/* Counts records per version and retires the DECRYPT_ONLY versions that
 * have none. Versions are listed before the drain: a write that took one
 * of them reserved it before it stopped being active, so it has finished
 * once the drain returns. */
static tv_status retire_unused(tv_engine *e, const engine_ns *ns, tv_reencrypt_progress *p) {
  tv_keyring_version_info *infos = calloc(TV_KEYRING_VERSIONS_MAX, sizeof *infos);
  collect_ctx *c = calloc(1, sizeof *c);
  tv_status st = infos != NULL && c != NULL ? TV_OK : TV_E_NO_MEMORY;
  size_t count = 0;
  if (st == TV_OK) {
    st = tv_keyring_list_versions(e->keyring, infos, &count, TV_KEYRING_VERSIONS_MAX, ns->name);
  }
  if (st == TV_OK) {
    engine_epoch_drain(e);
    c->ns = ns;
    c->counting = 1;
    for (size_t i = 0; i < count && i < TV_KEYRING_VERSIONS_MAX; i++) {
      c->versions[c->num_versions++] = infos[i].version;
    }
    st = tv_store_scan(e->store, collect_fn, c);
  }
  for (size_t i = 0; st == TV_OK && i < c->num_versions; i++) {
    if (infos[i].version != p->active_version) {
      p->remaining += c->counts[i];
    }
    if (infos[i].state == TV_KEY_DECRYPT_ONLY && c->counts[i] == 0) {
      st = tv_keyring_mark_reencrypted(e->keyring, ns->name, infos[i].version);
      if (st == TV_OK && p->num_retired < sizeof p->retired / sizeof p->retired[0]) {
        p->retired[p->num_retired++] = infos[i].version;
      }
      if (st == TV_OK) {
        engine_forget_keys(); /* no cached copy of a retired key */
      }
    }
  }
  free(infos);
  free(c);
  return st;
}

tv_status tv_engine_reencrypt(tv_engine *engine, tv_reencrypt_progress *out_progress, const char *ns,
                              const tv_reencrypt_options *options) {
  TV_ENSURE(engine != NULL && out_progress != NULL, TV_E_INVALID_ARGUMENT);
  memset(out_progress, 0, sizeof *out_progress);
  const engine_ns *n = engine_find_ns(engine, ns);
  TV_ENSURE(n != NULL, TV_E_ENGINE_NAMESPACE);
  tv_reencrypt_options defaults = {0};
  const tv_reencrypt_options *o = options != NULL ? options : &defaults;
  tv_keyring_keys active;
  TV_TRY(tv_keyring_active(engine->keyring, &active, n->name));
  out_progress->active_version = active.version;
  collect_ctx *c = calloc(1, sizeof *c);
  TV_ENSURE(c != NULL, TV_E_NO_MEMORY);
  c->ns = n;
  c->active = active.version;
  tv_status st = tv_store_scan(engine->store, collect_fn, c);
  out_progress->scanned = c->scanned;
  if (st == TV_OK) {
    st = re_all(engine, n, c, o, out_progress);
    if (st != TV_OK) { /* what the scan found, less what moved before the failure */
      out_progress->remaining = c->num - out_progress->reencrypted;
    }
  }
  free(c->locs);
  free(c);
  TV_TRY(st);
  return retire_unused(engine, n, out_progress);
}

tv_status tv_engine_complete_rotation(tv_engine *engine, tv_rotation_progress *out_progress, const char *ns,
                                      const tv_rotation_options *options) {
  TV_ENSURE(engine != NULL && out_progress != NULL, TV_E_INVALID_ARGUMENT);
  tv_store_compact_progress_init(&out_progress->compact);
  tv_rotation_options defaults = {0};
  const tv_rotation_options *o = options != NULL ? options : &defaults;
  TV_TRY(tv_engine_reencrypt(engine, &out_progress->reencrypt, ns, &o->reencrypt));
  /* Compaction keeps version-0 records (tombstones, expired stubs) and the
   * newest record of each token: after the re-puts above, that is the
   * active version's copy, so the old ciphertexts leave the disk here. */
  tv_store_compact_options co = {.bytes_per_s = o->compact_bytes_per_s, .now_ms = engine_now(engine)};
  return tv_store_compact(engine->store, &co, &out_progress->compact);
}
