/* Detokenize: every read of a batch goes to the store together (one
 * io_uring submission per TV_STORE_GET_ITEMS_MAX keys), then each record
 * is checked (deleted, expired), decrypted and revealed at the level asked. */
#include <stdlib.h>
#include <string.h>

#include "vault/engine/engine_internal.h"
#include "vault/util/secure_mem.h"

typedef struct detok_ctx {
  tv_engine *e;
  const engine_ns *ns;
  tv_reveal reveal;
  uint64_t now;
  /* Keys of the last version used: records of a batch mostly share one. */
  uint32_t version;
  tv_keyring_keys keys;
} detok_ctx;

/* Reveals |pt| (the value as stored: in a convergent namespace, in the
 * shape of whoever tokenized it first) in the shape of the token this
 * caller sent, so each caller gets back the shape it sent
 * (format_reshape). */
static tv_status reveal_value(detok_ctx *c, const uint8_t *pt, size_t pt_len, tv_detokenize_item *item) {
  const tv_format *format = &c->ns->cfg.format;
  tv_status st;
  if (c->reveal == TV_REVEAL_FULL) {
    st = format_reshape(format, (const char *)pt, pt_len, item->token, item->token_len, item->value,
                        sizeof item->value, &item->value_len);
  } else {
    format_value v;
    st = format_parse(format, (const char *)pt, pt_len, &v);
    if (st == TV_OK) {
      st = format_mask_like(format, &v, item->token, item->token_len, item->value, sizeof item->value,
                            &item->value_len);
    }
    format_value_wipe(&v);
  }
  /* A stored value always parsed when it was tokenized, and its token has
   * its number of characters. */
  return st == TV_OK ? TV_OK : TV_E_INTERNAL;
}

static tv_status detok_one(detok_ctx *c, const tv_store_item *it, tv_detokenize_item *item) {
  if (it->status == TV_E_STORE_NOT_FOUND) {
    return TV_E_ENGINE_NOT_FOUND;
  }
  TV_TRY(it->status);
  TV_TRY(engine_record_state(&it->put, c->now));
  if (c->reveal == TV_REVEAL_NONE) {
    return TV_OK;
  }
  if (c->version != it->put.key_version) {
    TV_TRY(tv_keyring_version(c->e->keyring, &c->keys, c->ns->name, it->put.key_version));
    c->version = it->put.key_version;
  }
  uint8_t pt[ENGINE_CT_LEN_MAX];
  size_t pt_len = 0;
  tv_status st = engine_open(&it->put, c->keys.value_key, pt, &pt_len);
  if (st == TV_OK) {
    st = reveal_value(c, pt, pt_len, item);
  }
  tv_wipe(pt, pt_len); /* what was decrypted (a failed open wiped it all) */
  return st;
}

static tv_status detok_chunk(detok_ctx *c, tv_detokenize_item *items, size_t num, tv_store_key *keys,
                             char (*canon)[TV_ENGINE_TEXT_LEN_MAX + 1], tv_store_item *out, tv_store_buf *buf) {
  size_t num_keys = 0;
  for (size_t i = 0; i < num; i++) {
    size_t len = 0;
    items[i].status = engine_token_canon(c->ns, items[i].token, items[i].token_len, canon[i], &len);
    if (items[i].status == TV_OK) {
      keys[num_keys++] = engine_key_of(c->ns, canon[i], len);
    }
  }
  if (num_keys > 0) {
    TV_TRY(tv_store_get_batch_replica(c->e->store, keys, num_keys, out, buf)); /* reveal only: a standby may serve */
  }
  size_t k = 0;
  for (size_t i = 0; i < num; i++) {
    if (items[i].status == TV_OK) {
      items[i].status = detok_one(c, &out[k++], &items[i]);
      if (items[i].status != TV_OK) {
        tv_wipe(items[i].value, sizeof items[i].value);
        items[i].value_len = 0;
      }
    }
  }
  return TV_OK;
}

tv_status tv_engine_detokenize(tv_engine *engine, const char *ns, tv_detokenize_item *items, size_t num_items,
                               tv_reveal reveal) {
  TV_ENSURE(engine != NULL && (items != NULL || num_items == 0), TV_E_INVALID_ARGUMENT);
  TV_ENSURE(reveal == TV_REVEAL_NONE || reveal == TV_REVEAL_MASKED || reveal == TV_REVEAL_FULL,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE(num_items <= TV_ENGINE_BATCH_ITEMS_MAX, TV_E_ENGINE_BATCH_TOO_LARGE);
  detok_ctx c = {.e = engine, .ns = engine_find_ns(engine, ns), .reveal = reveal, .now = engine_now(engine)};
  TV_ENSURE(c.ns != NULL, TV_E_ENGINE_NAMESPACE);
  for (size_t i = 0; i < num_items; i++) {
    items[i].value[0] = '\0';
    items[i].value_len = 0;
  }
  if (num_items == 0) {
    return TV_OK;
  }
  tv_store_key *keys = calloc(num_items, sizeof *keys);
  tv_store_item *out = calloc(num_items, sizeof *out);
  char(*canon)[TV_ENGINE_TEXT_LEN_MAX + 1] = calloc(num_items, sizeof *canon);
  tv_store_buf buf = {0};
  tv_status st = TV_E_NO_MEMORY;
  if (keys != NULL && out != NULL && canon != NULL) {
    st = detok_chunk(&c, items, num_items, keys, canon, out, &buf);
  }
  if (buf.data != NULL) {
    tv_wipe(buf.data, buf.cap);
  }
  tv_store_buf_cleanup(&buf);
  free(keys);
  free(out);
  free(canon);
  return st;
}
