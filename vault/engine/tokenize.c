/* Tokenize: validate, fingerprint, find (convergent) or mint a token,
 * encrypt, and answer once the record is durable.
 *
 * Each item is a job. A job prepares on the submitting thread and ends in
 * the store's completion callback; a PUT that loses a race for its token
 * (TV_E_STORE_TOKEN_EXISTS: the store is what guarantees uniqueness)
 * moves on to the next attempt from that callback. In a convergent
 * namespace the first job of a fingerprint registers in a striped table;
 * later jobs of the same fingerprint wait on it and take its token, so
 * racing callers end with exactly one token.
 *
 * Across processes (nodes sharing a database store) the table cannot
 * see the other node's jobs: a convergent PUT carries
 * TV_STORE_OP_FP_UNIQUE and a store that enforces it fails the loser
 * with TV_E_STORE_FINGERPRINT_EXISTS naming the winner's row; the loser
 * then reads that row and answers its token (tok_resolve). A winner that
 * has expired meanwhile is turned into an expired stub (which gives up
 * the fingerprint) and the job tries again, so a value gets a new token
 * after expiry, as on one node. The log backend never reports the
 * conflict: there the table alone converges.
 *
 * A call runs in phases: every item is prepared (parsed, fingerprinted,
 * metered, entered in the table) first; then one batched store lookup
 * finds the live tokens of all the call's convergent leaders; the items
 * that still need a new record share one reservation of encryption
 * counts (one keyring call, one epoch entry for the whole request), their
 * first candidates are checked with one batched lookup, and they are
 * written (tokenize_prefetch.c: one database round trip for all of a
 * call's values instead of two per value). Retries after a lost race
 * reserve one count each and check their candidates one by one. */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vault/engine/engine_internal.h"
#include "vault/util/secure_mem.h"

/* Times one job resolves a fingerprint conflict before it gives up with
 * TV_E_STORE_FINGERPRINT_EXISTS: each round means another node's row for
 * the value appeared and went away (deleted, expired) while we wrote. */
#define TOK_FP_ROUNDS_MAX 8u

typedef struct tok_job {
  tv_store_op op; /* first: the store hands it back to tok_done */
  engine_deferred retry;
  tv_engine *e;
  const engine_ns *ns;
  tv_tokenize_req *req;
  tv_tokenize_item *item;
  format_value value;
  uint8_t fp[TV_RECORD_FINGERPRINT_LEN];
  uint64_t created_ms; /* one clock reading for created and expiry */
  uint64_t expires_ms;
  uint32_t min_attempt;
  format_token tok;
  char key_token[TV_ENGINE_TEXT_LEN_MAX + 1];
  size_t key_token_len;
  uint8_t ct[ENGINE_CT_LEN_MAX];
  unsigned epoch_slot;
  int in_epoch;
  int leader;
  int metered; /* the request's meter took one for this job */
  uint32_t meter_ticket;
  struct tok_job *next_write; /* the call's list of items to write */
  struct tok_job *next_leader;
  struct tok_job **leader_pprev; /* what points at this job: O(1) unlink */
  struct tok_job *waiters;
  struct tok_job *next_waiter;
  int cand;                 /* TOK_CAND_*: what the call's prefetch found */
  tv_status cand_status;    /* TOK_CAND_FAILED: why */
  const ff1_key *cand_key;  /* the token key |tok| was made with */
  unsigned fp_rounds;       /* TV_E_STORE_FINGERPRINT_EXISTS seen so far */
  tv_store_loc winner_loc;  /* the row that holds our fingerprint */
  uint8_t winner_meta[TV_ENGINE_METADATA_LEN_MAX]; /* kept by its expired stub */
} tok_job;

/* tok_job.cand: the first candidate of a job, checked with the call's
 * other candidates in one lookup before any is written. */
enum {
  TOK_CAND_NONE = 0, /* not checked: format_generate asks the store itself */
  TOK_CAND_FREE,     /* |tok| is free: write it */
  TOK_CAND_FAILED,   /* the lookup failed for it: |cand_status| */
};

/* One call's jobs, and the epoch slot its shared reservation counts in
 * (held until the last item is final: every write using those counts has
 * finished by then). */
typedef struct tok_arena {
  unsigned epoch_slot;
  int in_epoch;
  tok_job jobs[];
} tok_arena;

/* Keys and encryption counts reserved once for a call's new records. */
typedef struct tok_batch {
  tv_keyring_keys keys;
  size_t left;
} tok_batch;

static void job_finish(tok_job *job, tv_status status);
static void job_write(tok_job *job, tok_batch *batch);

static void req_item_done(tv_tokenize_req *req) {
  if (atomic_fetch_sub(&req->priv.pending, 1) != 1) {
    return;
  }
  tv_engine *e = req->priv.engine;
  tok_arena *arena = req->priv.jobs;
  if (arena->in_epoch) {
    engine_epoch_leave(e, arena->epoch_slot);
  }
  free(arena); /* each job wiped its secrets in job_finish */
  req->priv.jobs = NULL;
  req->done(req); /* may free req */
  engine_ops_end(e);
}

static inflight_stripe *stripe_of(tv_engine *e, const uint8_t fp[TV_RECORD_FINGERPRINT_LEN]) {
  unsigned h = (unsigned)fp[0] | (unsigned)fp[1] << 8; /* fp is a MAC: uniform */
  return &e->stripes[h & (ENGINE_INFLIGHT_STRIPES - 1u)];
}

/* Renders canonical token |canon| in the shape of the job's input: a
 * separator wherever the input had one (tokens replace characters one for
 * one, so the shapes match). */
static void shape_token(tok_job *job, const char *canon, size_t canon_len) {
  const format_value *v = &job->value;
  size_t c = 0;
  size_t n = 0;
  for (size_t i = 0; i < v->text_len && n < TV_ENGINE_TEXT_LEN_MAX; i++) {
    int sep = (int)((v->separator_bits[i / 64] >> (i % 64)) & 1u);
    if (sep) {
      job->item->token[n++] = v->text[i];
    } else if (c < canon_len) {
      job->item->token[n++] = canon[c++];
    }
  }
  job->item->token[n] = '\0';
  job->item->token_len = n;
}

static void leader_release(tok_job *job, tv_status status) {
  inflight_stripe *s = stripe_of(job->e, job->fp);
  pthread_mutex_lock(&s->lock);
  assert(*job->leader_pprev == job);
  *job->leader_pprev = job->next_leader;
  if (job->next_leader != NULL) {
    job->next_leader->leader_pprev = job->leader_pprev;
  }
  tok_job *w = job->waiters;
  job->waiters = NULL;
  job->leader = 0;
  pthread_mutex_unlock(&s->lock);
  while (w != NULL) {
    tok_job *next = w->next_waiter;
    if (status == TV_OK) {
      shape_token(w, job->key_token, job->key_token_len);
      w->item->existing = 1;
    }
    job_finish(w, status);
    w = next;
  }
}

static void job_finish(tok_job *job, tv_status status) {
  if (job->in_epoch) {
    engine_epoch_leave(job->e, job->epoch_slot);
    job->in_epoch = 0;
  }
  if (job->leader) {
    leader_release(job, status);
  }
  job->item->status = status;
  if (status != TV_OK) {
    job->item->token_len = 0;
    job->item->token[0] = '\0';
  }
  if (job->metered && (status != TV_OK || job->item->existing)) {
    const tv_tokenize_meter *m = job->req->meter;
    m->give_back(m->ctx, job->value.kept, job->value.kept_len, job->meter_ticket); /* no new token */
  }
  /* The ciphertext is as long as the value: wipe what was used. */
  tv_wipe(job->ct, job->value.text_len <= sizeof job->ct ? job->value.text_len : sizeof job->ct);
  format_value_wipe(&job->value);
  req_item_done(job->req);
}

static tv_status item_expiry(uint64_t now, const engine_ns *ns, const tv_tokenize_item *item, uint64_t *out) {
  if (item->expires_ms != 0) {
    TV_ENSURE(item->expires_ms > now && item->expires_ms - now <= TV_ENGINE_TTL_MS_MAX, TV_E_ENGINE_EXPIRY);
    *out = item->expires_ms;
    return TV_OK;
  }
  uint64_t ttl = item->ttl_ms != 0 ? item->ttl_ms : ns->cfg.default_ttl_ms;
  TV_ENSURE(ttl <= TV_ENGINE_TTL_MS_MAX, TV_E_ENGINE_EXPIRY);
  *out = ttl != 0 ? now + ttl : 0;
  return TV_OK;
}

static tv_status used_cb(void *ctx, const format_token *token, int *out_used) {
  tok_job *job = ctx;
  *out_used = 1;
  if (token->attempt < job->min_attempt) {
    return TV_OK; /* lost a race at this attempt already */
  }
  char canon[TV_ENGINE_TEXT_LEN_MAX + 1];
  size_t canon_len = 0;
  TV_TRY(engine_token_canon(job->ns, token->text, token->text_len, canon, &canon_len));
  tv_store_key key = engine_key_of(job->ns, canon, canon_len);
  tv_store_item it;
  tv_store_buf buf = {0};
  tv_status st = tv_store_get_batch(job->e->store, &key, 1, &it, &buf);
  tv_store_buf_cleanup(&buf);
  TV_TRY(st);
  if (it.status == TV_E_STORE_NOT_FOUND) {
    *out_used = 0;
    return TV_OK;
  }
  return it.status; /* TV_OK: taken (live, expired or tombstoned) */
}

/* job_take_token answers |job| with the existing token |canon|
 * (canonical, at most TV_ENGINE_TEXT_LEN_MAX bytes). */
static void job_take_token(tok_job *job, const uint8_t *canon, size_t canon_len) {
  memcpy(job->key_token, canon, canon_len);
  job->key_token[canon_len] = '\0';
  job->key_token_len = canon_len;
  shape_token(job, job->key_token, job->key_token_len);
  job->item->existing = 1;
}

/* job_take_live answers |job| from a lookup of its fingerprint: TV_OK
 * (answered with the live token), TV_E_ENGINE_NOT_FOUND, or a failure. */
static tv_status job_take_live(tok_job *job, const engine_live_token *live) {
  if (live->status == TV_OK) {
    job_take_token(job, (const uint8_t *)live->token, live->token_len);
  }
  return live->status;
}

/* Looks for a live token of the job's fingerprint; TV_OK with the item
 * filled if there is one, TV_E_ENGINE_NOT_FOUND if not. */
static tv_status find_existing(tok_job *job) {
  engine_live_token live;
  engine_find_live_tokens(job->e, job->ns, job->fp, 1, &live);
  return job_take_live(job, &live);
}

/* Registers |job| as the leader of its fingerprint, or queues it behind
 * the leader there is. Returns 1 if it is now the leader. */
static int convergent_enter(tok_job *job) {
  inflight_stripe *s = stripe_of(job->e, job->fp);
  pthread_mutex_lock(&s->lock);
  for (tok_job *l = s->leaders; l != NULL; l = l->next_leader) {
    if (l->ns == job->ns && memcmp(l->fp, job->fp, sizeof job->fp) == 0) {
      job->next_waiter = l->waiters;
      l->waiters = job;
      pthread_mutex_unlock(&s->lock);
      return 0;
    }
  }
  job->leader = 1;
  job->next_leader = s->leaders;
  job->leader_pprev = &s->leaders;
  if (s->leaders != NULL) {
    s->leaders->leader_pprev = &job->next_leader;
  }
  s->leaders = job;
  pthread_mutex_unlock(&s->lock);
  return 1;
}

static tv_status job_prepare(tok_job *job) {
  tv_tokenize_item *item = job->item;
  TV_ENSURE(item->value != NULL || item->value_len == 0, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(item->metadata_len <= TV_ENGINE_METADATA_LEN_MAX, TV_E_ENGINE_METADATA_TOO_LARGE);
  TV_ENSURE(item->metadata != NULL || item->metadata_len == 0, TV_E_INVALID_ARGUMENT);
  job->created_ms = engine_now(job->e);
  TV_TRY(item_expiry(job->created_ms, job->ns, item, &job->expires_ms));
  TV_TRY(format_parse(&job->ns->cfg.format, item->value, item->value_len, &job->value));
  return engine_fingerprint(job->ns, &job->value, job->fp);
}

/* job_begin prepares |job|; returns 1 if it may need a new record (a
 * convergent leader: unless converge_all finds its token), 0 if the job
 * is final or a leader's waiter. */
static int job_begin(tok_job *job) {
  tv_status st = job_prepare(job);
  const tv_tokenize_meter *m = job->req->meter;
  if (st == TV_OK && m != NULL) {
    st = m->take(m->ctx, job->value.kept, job->value.kept_len,
                 format_value_guess_space(&job->ns->cfg.format, &job->value), &job->meter_ticket);
    job->metered = st == TV_OK;
  }
  if (st != TV_OK) {
    job_finish(job, st);
    return 0;
  }
  if (job->ns->cfg.convergent && !convergent_enter(job)) {
    return 0; /* the leader finishes it */
  }
  return 1;
}

/* job_keys takes one count from the call's reservation, or (a retry, or
 * the reservation failed) reserves one for this job alone. */
static tv_status job_keys(tok_job *job, tok_batch *batch, tv_keyring_keys *keys) {
  if (batch != NULL && batch->left > 0) {
    batch->left--;
    *keys = batch->keys;
    return TV_OK;
  }
  job->epoch_slot = engine_epoch_enter(job->e);
  job->in_epoch = 1;
  return tv_keyring_reserve(job->e->keyring, keys, NULL, job->ns->name, 1);
}

/* job_candidate sets |job->tok|: the call's checked first candidate if
 * it is free (made with these keys), else the first free one
 * format_generate finds (used_cb asks the store for each). */
static tv_status job_candidate(tok_job *job, const tv_keyring_keys *keys) {
  int cand = job->cand;
  job->cand = TOK_CAND_NONE; /* a retry generates again */
  if (cand == TOK_CAND_FAILED) {
    return job->cand_status;
  }
  if (cand == TOK_CAND_FREE && job->cand_key == keys->token_ff1) {
    return TV_OK;
  }
  return format_generate(&job->ns->cfg.format, keys->token_ff1, &job->value, used_cb, job, &job->tok);
}

static tv_status job_encrypt(tok_job *job, tok_batch *batch) {
  tv_keyring_keys keys;
  /* The epoch is entered before the count is reserved (job_keys), so a
   * re-encryption that retires a version waits for this write. */
  TV_TRY(job_keys(job, batch, &keys));
  TV_TRY(job_candidate(job, &keys));
  TV_TRY(engine_token_canon(job->ns, job->tok.text, job->tok.text_len, job->key_token, &job->key_token_len));
  tv_record_put *put = &job->op.put;
  memset(put, 0, sizeof *put);
  TV_TRY(engine_seal(job->ns, (const uint8_t *)job->key_token, job->key_token_len, keys.version,
                     keys.value_key, (const uint8_t *)job->value.text, job->value.text_len, job->ct, put));
  put->ns = (const uint8_t *)job->ns->name;
  put->ns_len = job->ns->name_len;
  put->token = (const uint8_t *)job->key_token;
  put->token_len = job->key_token_len;
  memcpy(put->fingerprint, job->fp, sizeof job->fp);
  put->created_ms = job->created_ms;
  put->expires_ms = job->expires_ms;
  put->metadata = job->item->metadata;
  put->metadata_len = job->item->metadata_len;
  return TV_OK;
}

static void tok_retry(engine_deferred *d) {
  tok_job *job = (tok_job *)((char *)d - offsetof(tok_job, retry));
  job_write(job, NULL);
}

static void tok_resolve(engine_deferred *d);

static void tok_done(tv_store_op *op, tv_status status) {
  tok_job *job = (tok_job *)op;
  if (status == TV_OK) {
    memcpy(job->item->token, job->tok.text, job->tok.text_len);
    job->item->token[job->tok.text_len] = '\0';
    job->item->token_len = job->tok.text_len;
    job->item->existing = 0;
  }
  int fp_conflict = status == TV_E_STORE_FINGERPRINT_EXISTS && job->fp_rounds < TOK_FP_ROUNDS_MAX;
  if (status != TV_E_STORE_TOKEN_EXISTS && !fp_conflict) {
    job_finish(job, status);
    return;
  }
  /* Another writer took this candidate (or, on another node, this value)
   * between our check and our write. This runs on the store's writer
   * thread: continue on the retry thread. */
  if (job->in_epoch) {
    engine_epoch_leave(job->e, job->epoch_slot);
    job->in_epoch = 0;
  }
  if (fp_conflict) {
    job->fp_rounds++;
    job->winner_loc = op->loc;
    job->retry.run = tok_resolve;
  } else {
    job->min_attempt = job->tok.attempt + 1u;
    job->retry.run = tok_retry;
  }
  engine_defer(job->e, &job->retry);
}

static void job_write(tok_job *job, tok_batch *batch) {
  tv_status st = job_encrypt(job, batch);
  if (st == TV_OK) {
    job->op.kind = TV_STORE_OP_PUT;
    job->op.flags = job->ns->cfg.convergent ? TV_STORE_OP_FP_UNIQUE : 0u;
    job->op.done = tok_done;
    job->op.user = job;
    st = engine_submit(job->e, &job->op);
  }
  if (st != TV_OK) {
    job_finish(job, st);
  }
}

/* winner_value_matches decrypts the winner's record and checks that its
 * value has our fingerprint, so a row whose fingerprint was copied from
 * another (a tampered database) can never hand out a token of another
 * value: TV_E_ENGINE_DECRYPT then. */
static tv_status winner_value_matches(tok_job *job, const tv_record_put *put) {
  tv_keyring_keys keys;
  TV_TRY(tv_keyring_version(job->e->keyring, &keys, job->ns->name, put->key_version));
  uint8_t pt[ENGINE_CT_LEN_MAX];
  size_t pt_len = 0;
  TV_TRY(engine_open(put, keys.value_key, pt, &pt_len));
  format_value v;
  uint8_t fp[TV_RECORD_FINGERPRINT_LEN];
  tv_status st = format_parse(&job->ns->cfg.format, (const char *)pt, pt_len, &v);
  if (st == TV_OK) {
    st = engine_fingerprint(job->ns, &v, fp);
  }
  format_value_wipe(&v);
  tv_wipe(pt, pt_len);
  TV_TRY(st);
  return memcmp(fp, job->fp, sizeof fp) == 0 ? TV_OK : TV_E_ENGINE_DECRYPT;
}

/* stub_of turns |job->op| into a re-put of the expired winner |put| as
 * compaction's stub (key version 0 with its expiry, fingerprint and
 * metadata kept, no ciphertext), which a database store no longer counts
 * as holding the fingerprint. */
static void stub_of(tok_job *job, const tv_record_put *put) {
  memcpy(job->key_token, put->token, put->token_len);
  job->key_token[put->token_len] = '\0';
  job->key_token_len = put->token_len;
  size_t meta = put->metadata_len <= sizeof job->winner_meta ? put->metadata_len : 0;
  if (meta > 0) {
    memcpy(job->winner_meta, put->metadata, meta);
  }
  tv_record_put *p = &job->op.put;
  memset(p, 0, sizeof *p);
  p->ns = (const uint8_t *)job->ns->name;
  p->ns_len = job->ns->name_len;
  p->token = (const uint8_t *)job->key_token;
  p->token_len = job->key_token_len;
  memcpy(p->fingerprint, put->fingerprint, sizeof p->fingerprint);
  p->key_version = TV_ENGINE_TOMBSTONE_VERSION;
  p->created_ms = put->created_ms;
  p->expires_ms = put->expires_ms;
  p->metadata = job->winner_meta;
  p->metadata_len = meta;
}

static void stub_done(tv_store_op *op, tv_status status) {
  tok_job *job = (tok_job *)op;
  /* NOT_FOUND: the row changed under us (deleted, stubbed by another
   * node): either way it no longer holds the fingerprint. */
  if (status != TV_OK && status != TV_E_STORE_NOT_FOUND) {
    job_finish(job, status);
    return;
  }
  job->retry.run = tok_retry; /* on the writer thread here: write elsewhere */
  engine_defer(job->e, &job->retry);
}

/* judge_winner decides what the winner's row |it| means for |job|:
 * TV_OK (answered with its token), TV_E_ENGINE_EXPIRED (job->op is now
 * its stub to write), TV_E_ENGINE_NOT_FOUND (not a live row of our value
 * any more: look again), or a failure for the item. */
static tv_status judge_winner(tok_job *job, const tv_store_item *it) {
  const tv_record_put *p = &it->put;
  if (it->status != TV_OK || p->ns_len != job->ns->name_len ||
      memcmp(p->ns, job->ns->name, p->ns_len) != 0 || memcmp(p->fingerprint, job->fp, sizeof job->fp) != 0 ||
      p->key_version == TV_ENGINE_TOMBSTONE_VERSION || p->token_len > TV_ENGINE_TEXT_LEN_MAX) {
    return TV_E_ENGINE_NOT_FOUND;
  }
  if (engine_record_state(p, engine_now(job->e)) == TV_E_ENGINE_EXPIRED) {
    stub_of(job, p);
    return TV_E_ENGINE_EXPIRED;
  }
  TV_TRY(winner_value_matches(job, p));
  job_take_token(job, p->token, p->token_len);
  return TV_OK;
}

/* tok_resolve runs on the retry thread after a convergent PUT lost to
 * another process's row for the same value (op->loc named it). */
static void tok_resolve(engine_deferred *d) {
  tok_job *job = (tok_job *)((char *)d - offsetof(tok_job, retry));
  tv_store_item it;
  tv_store_buf buf = {0};
  tv_status st = tv_store_read_locations(job->e->store, &job->winner_loc, 1, &it, &buf);
  if (st == TV_OK) {
    st = judge_winner(job, &it);
  }
  tv_store_buf_cleanup(&buf);
  if (st == TV_E_ENGINE_NOT_FOUND) {
    st = find_existing(job); /* the row moved (re-encrypted) or went away */
  }
  if (st == TV_E_ENGINE_EXPIRED) {
    job->op.kind = TV_STORE_OP_REPUT;
    job->op.flags = 0;
    job->op.done = stub_done;
    job->op.user = job;
    st = engine_submit(job->e, &job->op);
    if (st == TV_OK) {
      return;
    }
  }
  if (st == TV_E_ENGINE_NOT_FOUND) {
    job_write(job, NULL); /* nobody holds the value now: write it again */
    return;
  }
  job_finish(job, st);
}

/* begin_all runs the first pass over a call's items and returns the
 * list of those that need a new record, in order. */
static tok_job *begin_all(tv_engine *engine, const engine_ns *ns, tv_tokenize_req *req, tok_arena *arena) {
  tok_job *head = NULL;
  tok_job **tail = &head;
  for (size_t i = 0; i < req->num_items; i++) {
    tok_job *job = &arena->jobs[i];
    job->e = engine;
    job->ns = ns;
    job->req = req;
    job->item = &req->items[i];
    job->item->existing = 0;
    job->item->token_len = 0;
    job->item->token[0] = '\0';
    if (job_begin(job)) {
      *tail = job;
      tail = &job->next_write;
    }
  }
  return head;
}

static size_t list_len(const tok_job *writes) {
  size_t n = 0;
  for (const tok_job *j = writes; j != NULL; j = j->next_write) {
    n++;
  }
  return n;
}

/* converge_all finds, with one batched lookup, the live tokens of the
 * convergent leaders on |writes| (n of them), answers those that have
 * one (or whose lookup failed) and returns the rest, in order. */
static tok_job *converge_all(tv_engine *e, const engine_ns *ns, tok_job *writes, size_t n) {
  uint8_t *fps = malloc(n * TV_RECORD_FINGERPRINT_LEN);
  engine_live_token *live = malloc(n * sizeof *live);
  size_t i = 0;
  for (tok_job *j = writes; fps != NULL && j != NULL; j = j->next_write) {
    memcpy(fps + i++ * TV_RECORD_FINGERPRINT_LEN, j->fp, TV_RECORD_FINGERPRINT_LEN);
  }
  if (fps != NULL && live != NULL) {
    engine_find_live_tokens(e, ns, fps, n, live);
  }
  tok_job *head = NULL;
  tok_job **tail = &head;
  i = 0;
  for (tok_job *j = writes, *next; j != NULL; j = next, i++) {
    next = j->next_write; /* |j| may be final below */
    tv_status st = fps != NULL && live != NULL ? job_take_live(j, &live[i]) : find_existing(j);
    if (st != TV_E_ENGINE_NOT_FOUND) {
      job_finish(j, st);
      continue;
    }
    *tail = j;
    tail = &j->next_write;
  }
  *tail = NULL;
  free(fps);
  free(live);
  return head;
}

/* first_candidate makes |job|'s first acceptable candidate with |key|
 * and its store key in job->key_token; TV_OK or why there is none
 * (format_generate will say it again). */
static tv_status first_candidate(tok_job *job, const ff1_key *key) {
  const tv_format *f = &job->ns->cfg.format;
  tv_status st = TV_E_FORMAT_CANDIDATE_REJECTED;
  for (uint32_t a = 0; a < f->attempts_max && st == TV_E_FORMAT_CANDIDATE_REJECTED; a++) {
    st = format_candidate(f, key, &job->value, a, &job->tok);
  }
  TV_TRY(st);
  job->cand_key = key;
  return engine_token_canon(job->ns, job->tok.text, job->tok.text_len, job->key_token, &job->key_token_len);
}

/* check_candidates makes the first candidate of each of the |n| jobs on
 * |writes| with the call's shared token key and checks them all with one
 * batched lookup; without shared keys each job generates its own. */
static void check_candidates(tv_engine *e, tok_job *writes, size_t n, const tok_batch *batch) {
  if (batch->left < n || n == 0) {
    return;
  }
  tok_job **jobs = malloc(n * sizeof *jobs);
  tv_store_key *keys = malloc(n * sizeof *keys);
  tv_status *taken = malloc(n * sizeof *taken);
  size_t m = 0;
  for (tok_job *j = writes; jobs != NULL && keys != NULL && taken != NULL && j != NULL; j = j->next_write) {
    if (first_candidate(j, batch->keys.token_ff1) == TV_OK) {
      keys[m] = engine_key_of(j->ns, j->key_token, j->key_token_len);
      jobs[m++] = j;
    }
  }
  if (m > 0) {
    engine_tokens_taken(e, keys, m, taken);
  }
  for (size_t i = 0; i < m; i++) {
    tok_job *j = jobs[i];
    j->cand = taken[i] == TV_E_STORE_NOT_FOUND ? TOK_CAND_FREE : taken[i] == TV_OK ? TOK_CAND_NONE : TOK_CAND_FAILED;
    j->cand_status = taken[i];
    if (taken[i] == TV_OK) {
      j->min_attempt = j->tok.attempt + 1u; /* taken: format_generate goes on from the next */
    }
  }
  free(jobs);
  free(keys);
  free(taken);
}

/* batch_reserve reserves one count per job on |writes| with one keyring
 * call. On failure (say fewer counts left than asked) nothing is shared
 * and each job reserves its own, so items get their own statuses. */
static void batch_reserve(tv_engine *e, const engine_ns *ns, tok_arena *arena, size_t n, tok_batch *batch) {
  if (n < 2) {
    return; /* nothing to share */
  }
  arena->epoch_slot = engine_epoch_enter(e);
  arena->in_epoch = 1;
  if (tv_keyring_reserve(e->keyring, &batch->keys, NULL, ns->name, n) == TV_OK) {
    batch->left = n;
  }
}

tv_status tv_engine_tokenize_submit(tv_engine *engine, tv_tokenize_req *req) {
  TV_ENSURE(engine != NULL && req != NULL && req->done != NULL && req->items != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(req->num_items >= 1, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(req->num_items <= TV_ENGINE_BATCH_ITEMS_MAX, TV_E_ENGINE_BATCH_TOO_LARGE);
  const engine_ns *ns = engine_find_ns(engine, req->ns);
  TV_ENSURE(ns != NULL, TV_E_ENGINE_NAMESPACE);
  tok_arena *arena = calloc(1, sizeof *arena + req->num_items * sizeof(tok_job));
  TV_ENSURE(arena != NULL, TV_E_NO_MEMORY);
  req->priv.jobs = arena;
  req->priv.engine = engine;
  /* One extra count keeps |done| from running before the loops end. */
  atomic_store(&req->priv.pending, req->num_items + 1);
  engine_ops_begin(engine);
  tok_job *writes = begin_all(engine, ns, req, arena);
  if (ns->cfg.convergent && writes != NULL) {
    writes = converge_all(engine, ns, writes, list_len(writes));
  }
  size_t n = list_len(writes);
  tok_batch batch = {.left = 0};
  batch_reserve(engine, ns, arena, n, &batch);
  check_candidates(engine, writes, n, &batch);
  while (writes != NULL) {
    tok_job *next = writes->next_write; /* |writes| may finish and be freed */
    job_write(writes, &batch);
    writes = next;
  }
  req_item_done(req);
  return TV_OK;
}

typedef struct sync_wait {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int done;
} sync_wait;

static void sync_done(tv_tokenize_req *req) {
  sync_wait *w = req->user;
  pthread_mutex_lock(&w->lock);
  w->done = 1;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

tv_status tv_engine_tokenize(tv_engine *engine, const char *ns, tv_tokenize_item *items, size_t num_items) {
  sync_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  tv_tokenize_req req = {.ns = ns, .items = items, .num_items = num_items, .done = sync_done, .user = &w};
  TV_TRY(tv_engine_tokenize_submit(engine, &req));
  pthread_mutex_lock(&w.lock);
  while (!w.done) {
    pthread_cond_wait(&w.cond, &w.lock);
  }
  pthread_mutex_unlock(&w.lock);
  pthread_mutex_destroy(&w.lock);
  pthread_cond_destroy(&w.cond);
  return TV_OK;
}
