/* The store lookups of a tokenize call, batched: the live tokens of many
 * fingerprints (convergent namespaces) and whether many candidate tokens
 * are taken, each with one store call per TV_STORE_GET_ITEMS_MAX keys
 * instead of one per value. On the log that is one pass over the index
 * under a few lock holds; on a database one statement (one round trip)
 * instead of one round trip and one transaction per value, which is what
 * held the fleet's tokenize to a tenth of the database's rate. */
#include <stdlib.h>
#include <string.h>

#include "vault/engine/engine_internal.h"

/* Live puts fetched per fingerprint in the batched lookup. A convergent
 * value has at most one live token, plus one expired one per past expiry
 * (until the purge stubs them, which keeps them too); a fingerprint with
 * this many and none live is asked again alone, with ENGINE_FP_ITEMS_MAX. */
#define PREFETCH_FP_ITEMS 4u

/* live_pick answers |out| from the |num| puts found for one fingerprint:
 * its first live token (TV_OK), none (TV_E_ENGINE_NOT_FOUND), or the
 * failure of a candidate that could not be read (it may be the value's
 * token: never answer NOT_FOUND over it). */
static void live_pick(const tv_store_item *items, size_t num, uint64_t now, engine_live_token *out) {
  out->status = TV_E_ENGINE_NOT_FOUND;
  for (size_t i = 0; i < num; i++) {
    const tv_record_put *p = &items[i].put;
    if (items[i].status != TV_OK) {
      out->status = items[i].status;
      return;
    }
    if (engine_record_state(p, now) == TV_OK && p->token_len <= TV_ENGINE_TEXT_LEN_MAX) {
      memcpy(out->token, p->token, p->token_len);
      out->token[p->token_len] = '\0';
      out->token_len = p->token_len;
      out->status = TV_OK;
      return;
    }
  }
}

/* find_one asks for one fingerprint's puts alone, up to
 * ENGINE_FP_ITEMS_MAX (a value with many expired tokens). */
static void find_one(tv_engine *e, const engine_ns *ns, const uint8_t *fp, engine_live_token *out) {
  tv_store_item items[ENGINE_FP_ITEMS_MAX];
  size_t num = 0;
  tv_store_buf buf = {0};
  out->status = tv_store_find_fingerprint(e->store, (const uint8_t *)ns->name, ns->name_len, fp, items,
                                          ENGINE_FP_ITEMS_MAX, &num, &buf);
  if (out->status == TV_OK) {
    live_pick(items, num < ENGINE_FP_ITEMS_MAX ? num : ENGINE_FP_ITEMS_MAX, engine_now(e), out);
  }
  tv_store_buf_cleanup(&buf);
}

/* find_chunk looks up |n| (≤ TV_STORE_GET_ITEMS_MAX) fingerprints with
 * one store call; |items| and |counts| have room for them. */
static void find_chunk(tv_engine *e, const engine_ns *ns, const uint8_t *fps, size_t n, tv_store_item *items,
                       size_t *counts, engine_live_token *out) {
  tv_store_buf buf = {0};
  tv_status st = tv_store_find_fingerprints(e->store, (const uint8_t *)ns->name, ns->name_len, fps, n,
                                            PREFETCH_FP_ITEMS, items, counts, &buf);
  uint64_t now = engine_now(e);
  for (size_t i = 0; i < n; i++) {
    out[i].status = st;
    if (st == TV_OK) {
      live_pick(items + i * PREFETCH_FP_ITEMS, counts[i], now, &out[i]);
    }
  }
  tv_store_buf_cleanup(&buf);
  for (size_t i = 0; st == TV_OK && i < n; i++) {
    if (out[i].status == TV_E_ENGINE_NOT_FOUND && counts[i] >= PREFETCH_FP_ITEMS) {
      find_one(e, ns, fps + i * TV_RECORD_FINGERPRINT_LEN, &out[i]); /* there may be more */
    }
  }
}

tv_status engine_find_live_tokens(tv_engine *e, const engine_ns *ns, const uint8_t *fps, size_t num,
                                  engine_live_token *out) {
  size_t chunk = num < TV_STORE_GET_ITEMS_MAX ? num : TV_STORE_GET_ITEMS_MAX;
  tv_store_item *items = malloc(chunk * PREFETCH_FP_ITEMS * sizeof *items);
  size_t *counts = malloc(chunk * sizeof *counts);
  tv_status st = items != NULL && counts != NULL ? TV_OK : TV_E_NO_MEMORY;
  for (size_t at = 0; at < num; at += chunk) {
    size_t n = num - at < chunk ? num - at : chunk;
    if (st == TV_OK) {
      find_chunk(e, ns, fps + at * TV_RECORD_FINGERPRINT_LEN, n, items, counts, out + at);
    }
    for (size_t i = 0; st != TV_OK && i < n; i++) {
      out[at + i].status = st;
    }
  }
  free(items);
  free(counts);
  return st;
}

tv_status engine_tokens_taken(tv_engine *e, const tv_store_key *keys, size_t num, tv_status *out) {
  size_t chunk = num < TV_STORE_GET_ITEMS_MAX ? num : TV_STORE_GET_ITEMS_MAX;
  tv_store_item *items = malloc((chunk > 0 ? chunk : 1) * sizeof *items);
  tv_store_buf buf = {0};
  tv_status st = items != NULL ? TV_OK : TV_E_NO_MEMORY;
  for (size_t at = 0; at < num; at += chunk) {
    size_t n = num - at < chunk ? num - at : chunk;
    if (st == TV_OK) {
      st = tv_store_get_batch(e->store, keys + at, n, items, &buf);
    }
    for (size_t i = 0; i < n; i++) {
      /* Found, in any state (live, expired, tombstone): taken. */
      out[at + i] = st != TV_OK ? st : items[i].status;
    }
  }
  tv_store_buf_cleanup(&buf);
  free(items);
  return st;
}
