/* get_batch_replica: a reveal read through the hot standby, accepted only
 * with the freshness proof of pg_replica.c; keys the standby does not
 * have are read again from the primary (a token just issued through any
 * node reveals at once); anything unproven or failed goes to the primary.
 * The optional standby never fails a read. */
#include <stdlib.h>
#include <string.h>

#include "vault/store/pg/pg_replica_internal.h"
#include "vault/util/clock.h"

enum { ADMITTED = -1 };

static int reason_of_state(int state) {
  switch (state) {
    case TV_PG_REPLICA_UNREACHABLE:
      return TV_PG_REPLICA_FALLBACK_UNREACHABLE;
    case TV_PG_REPLICA_NOT_STANDBY:
      return TV_PG_REPLICA_FALLBACK_NOT_STANDBY;
    default: /* lagging, or no position of the primary: no proof */
      return TV_PG_REPLICA_FALLBACK_LAG;
  }
}

/* admit (under r->mu): whether to try the standby at all — the watcher's
 * last verdict if it is recent (a watcher stuck on a standby that
 * vanished without a reset must not keep sending reads there), and this
 * store's own delete not yet sampled (no sample after it can be matched,
 * so the read would be wasted). */
static int admit(const tv_pg_replica *r, uint64_t now_us) {
  if (r->state != TV_PG_REPLICA_OK) {
    return reason_of_state(r->state);
  }
  if (now_us > r->state_us && now_us - r->state_us > r->lag_max_us) {
    return TV_PG_REPLICA_FALLBACK_LAG;
  }
  const tv_pg_replica_sample *newest = &r->samples[(r->next + TV_PG_REPLICA_SAMPLES - 1) % TV_PG_REPLICA_SAMPLES];
  return r->num_samples > 0 && newest->at_us < r->fence_us ? TV_PG_REPLICA_FALLBACK_OWN_WRITE : ADMITTED;
}

/* verify (under r->mu): the proof that came back with the read. A failed
 * proof other than the own-write fence also stops further reads until
 * the watcher's next verdict. */
static int verify(tv_pg_replica *r, const PGresult *status, uint64_t sent_us) {
  tv_pg_standby_status ss;
  if (!tv_pg_replica_status_parse(status, &ss)) {
    r->state = TV_PG_REPLICA_UNREACHABLE;
    return TV_PG_REPLICA_FALLBACK_UNREACHABLE;
  }
  uint64_t at_us = 0, lag_bytes = 0;
  int state = tv_pg_replica_judge(r, &ss, sent_us, &at_us, &lag_bytes);
  if (state != TV_PG_REPLICA_OK) {
    r->state = state;
    return reason_of_state(state);
  }
  return at_us < r->fence_us ? TV_PG_REPLICA_FALLBACK_OWN_WRITE : ADMITTED;
}

/* rebase copies the byte fields of every found item into one new buffer
 * that replaces |buf| (found items point into two result buffers after a
 * recheck on the primary). */
static tv_status rebase(tv_store_item *items, size_t n, tv_store_buf *buf) {
  size_t total = 1;
  for (size_t i = 0; i < n; i++) {
    const tv_record_put *p = &items[i].put;
    total += items[i].status == TV_OK ? p->ns_len + p->token_len + p->ciphertext_len + p->metadata_len : 0;
  }
  uint8_t *data = malloc(total);
  TV_ENSURE(data != NULL, TV_E_NO_MEMORY);
  uint8_t *dst = data;
  for (size_t i = 0; i < n; i++) {
    tv_record_put *p = &items[i].put;
    if (items[i].status != TV_OK) {
      continue;
    }
    const uint8_t **fields[4] = {&p->ns, &p->token, &p->ciphertext, &p->metadata};
    size_t lens[4] = {p->ns_len, p->token_len, p->ciphertext_len, p->metadata_len};
    for (int f = 0; f < 4; f++) {
      if (lens[f] > 0) {
        memcpy(dst, *fields[f], lens[f]);
      }
      *fields[f] = dst;
      dst += lens[f];
    }
  }
  tv_store_buf_cleanup(buf);
  buf->data = data;
  buf->cap = total;
  return TV_OK;
}

/* recheck reads the keys the standby did not have from the primary: a
 * token issued a moment ago through any node must reveal. A key the
 * primary cannot be asked about gets the primary's failure. */
static tv_status recheck(tv_pg *pg, const tv_store_key *keys, size_t num, tv_store_item *out, tv_store_buf *buf,
                         size_t *out_misses) {
  size_t m = 0;
  for (size_t i = 0; i < num; i++) {
    m += out[i].status == TV_E_STORE_NOT_FOUND;
  }
  *out_misses = m;
  if (m == 0) {
    return TV_OK;
  }
  tv_store_key *mkeys = calloc(m, sizeof *mkeys);
  size_t *slot = calloc(m, sizeof *slot);
  tv_store_item *mitems = calloc(m, sizeof *mitems);
  tv_store_buf mbuf = {0};
  tv_status st = mkeys != NULL && slot != NULL && mitems != NULL ? TV_OK : TV_E_NO_MEMORY;
  for (size_t i = 0, k = 0; st == TV_OK && i < num; i++) {
    if (out[i].status == TV_E_STORE_NOT_FOUND) {
      mkeys[k] = keys[i];
      slot[k++] = i;
    }
  }
  tv_status read = st == TV_OK ? tv_pg_get_batch(pg, mkeys, m, mitems, &mbuf) : st;
  for (size_t k = 0; st == TV_OK && k < m; k++) {
    if (read != TV_OK) {
      out[slot[k]].status = read;
    } else {
      out[slot[k]] = mitems[k];
    }
  }
  if (st == TV_OK && read == TV_OK) {
    st = rebase(out, num, buf);
  }
  tv_store_buf_cleanup(&mbuf);
  free(mitems);
  free(slot);
  free(mkeys);
  return st;
}

static void count(tv_pg_replica *r, int reason, size_t rechecks) {
  pthread_mutex_lock(&r->mu);
  if (reason == ADMITTED) {
    r->stats.reads++;
    r->stats.rechecks += rechecks;
  } else {
    r->stats.fallbacks[reason]++;
  }
  pthread_mutex_unlock(&r->mu);
}

/* from_standby reads |keys| on the standby with its proof; ADMITTED or
 * why the answer cannot be used. */
static int from_standby(tv_pg_replica *r, const tv_store_key *keys, size_t num, tv_store_item *out,
                        tv_store_buf *buf, int *out_nothing_read) {
  PGresult *status = NULL;
  uint64_t sent_us = tv_mono_us(); /* before the proof is taken: see pg_replica.c */
  tv_status st = tv_pg_get_batch_first(r->pool, tv_pg_replica_status_sql, &status, keys, num, out, buf);
  *out_nothing_read = st == TV_OK && status == NULL; /* every key malformed: answered as such */
  pthread_mutex_lock(&r->mu);
  int reason = st != TV_OK ? TV_PG_REPLICA_FALLBACK_UNREACHABLE
               : *out_nothing_read ? ADMITTED
                                   : verify(r, status, sent_us);
  if (st != TV_OK) {
    r->state = TV_PG_REPLICA_UNREACHABLE; /* until the watcher reaches it again */
  }
  pthread_mutex_unlock(&r->mu);
  PQclear(status);
  return reason;
}

tv_status tv_pg_get_batch_replica(void *impl, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                                  tv_store_buf *buf) {
  tv_pg *pg = impl;
  tv_pg_replica *r = pg->replica;
  if (r == NULL || num_keys == 0) {
    return tv_pg_get_batch(pg, keys, num_keys, out_items, buf);
  }
  uint64_t now_us = tv_mono_us();
  pthread_mutex_lock(&r->mu);
  int reason = admit(r, now_us);
  pthread_mutex_unlock(&r->mu);
  int nothing_read = 0;
  if (reason == ADMITTED) {
    reason = from_standby(r, keys, num_keys, out_items, buf, &nothing_read);
  }
  if (reason != ADMITTED) {
    count(r, reason, 0);
    return tv_pg_get_batch(pg, keys, num_keys, out_items, buf);
  }
  size_t misses = 0;
  tv_status st = nothing_read ? TV_OK : recheck(pg, keys, num_keys, out_items, buf, &misses);
  if (!nothing_read) {
    count(r, ADMITTED, misses);
  }
  return st;
}
