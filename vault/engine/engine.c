/* The engine object: namespaces, clocks, and the counters that let async
 * requests, deletes and re-encryption coexist safely. */
#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "vault/engine/engine_internal.h"

static uint64_t real_now_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void tv_engine_free_locks(tv_engine *e) {
  for (size_t i = 0; i < ENGINE_INFLIGHT_STRIPES; i++) {
    assert(e->stripes[i].leaders == NULL);
    pthread_mutex_destroy(&e->stripes[i].lock);
  }
  pthread_mutex_destroy(&e->ops_lock);
  pthread_cond_destroy(&e->ops_cond);
  pthread_mutex_destroy(&e->mutate_lock);
  pthread_cond_destroy(&e->mutate_cond);
  pthread_mutex_destroy(&e->epoch_lock);
  pthread_cond_destroy(&e->epoch_cond);
  pthread_mutex_destroy(&e->retry_lock);
  pthread_cond_destroy(&e->retry_cond);
}

static void *retry_main(void *arg) {
  tv_engine *e = arg;
  pthread_mutex_lock(&e->retry_lock);
  for (;;) {
    while (e->retry_head == NULL && !e->retry_stop) {
      pthread_cond_wait(&e->retry_cond, &e->retry_lock);
    }
    engine_deferred *d = e->retry_head;
    if (d == NULL) {
      break; /* stopping, nothing left */
    }
    e->retry_head = d->next;
    if (e->retry_head == NULL) {
      e->retry_tail = NULL;
    }
    pthread_mutex_unlock(&e->retry_lock);
    d->run(d);
    pthread_mutex_lock(&e->retry_lock);
  }
  pthread_mutex_unlock(&e->retry_lock);
  return NULL;
}

void engine_defer(tv_engine *e, engine_deferred *d) {
  d->next = NULL;
  pthread_mutex_lock(&e->retry_lock);
  if (e->retry_tail != NULL) {
    e->retry_tail->next = d;
  } else {
    e->retry_head = d;
  }
  e->retry_tail = d;
  pthread_cond_signal(&e->retry_cond);
  pthread_mutex_unlock(&e->retry_lock);
}

tv_status tv_engine_new(tv_engine **out_engine, const tv_engine_options *options) {
  TV_ENSURE(out_engine != NULL && options != NULL, TV_E_INVALID_ARGUMENT);
  *out_engine = NULL;
  TV_ENSURE(options->store != NULL && options->keyring != NULL, TV_E_INVALID_ARGUMENT);
  tv_engine *e = calloc(1, sizeof *e);
  TV_ENSURE(e != NULL, TV_E_NO_MEMORY);
  e->store = options->store;
  e->keyring = options->keyring;
  /* A version retired or destroyed (here or, in a fleet, through another
   * node) leaves no copy of its key in any thread's GCM context. */
  tv_keyring_on_keys_dropped(e->keyring, engine_forget_keys);
  e->now_ms = options->now_ms != NULL ? options->now_ms : real_now_ms;
  e->now_ctx = options->now_ctx;
  for (size_t i = 0; i < ENGINE_INFLIGHT_STRIPES; i++) {
    pthread_mutex_init(&e->stripes[i].lock, NULL);
  }
  pthread_mutex_init(&e->ops_lock, NULL);
  pthread_cond_init(&e->ops_cond, NULL);
  pthread_mutex_init(&e->mutate_lock, NULL);
  pthread_cond_init(&e->mutate_cond, NULL);
  pthread_mutex_init(&e->epoch_lock, NULL);
  pthread_cond_init(&e->epoch_cond, NULL);
  pthread_mutex_init(&e->retry_lock, NULL);
  pthread_cond_init(&e->retry_cond, NULL);
  if (pthread_create(&e->retry_thread, NULL, retry_main, e) != 0) {
    tv_engine_free_locks(e);
    free(e);
    return TV_E_NO_MEMORY;
  }
  *out_engine = e;
  return TV_OK;
}

void tv_engine_free(tv_engine *engine) {
  if (engine == NULL) {
    return;
  }
  pthread_mutex_lock(&engine->ops_lock);
  while (engine->ops_inflight > 0) {
    pthread_cond_wait(&engine->ops_cond, &engine->ops_lock);
  }
  pthread_mutex_unlock(&engine->ops_lock);
  pthread_mutex_lock(&engine->retry_lock);
  engine->retry_stop = 1;
  pthread_cond_signal(&engine->retry_cond);
  pthread_mutex_unlock(&engine->retry_lock);
  pthread_join(engine->retry_thread, NULL);
  for (size_t i = 0; i < engine->num_ns; i++) {
    EVP_MAC_CTX_free(engine->ns[i].fp_mac);
  }
  tv_engine_free_locks(engine);
  free(engine);
  engine_forget_keys();
}

tv_status tv_engine_add_namespace(tv_engine *engine, const tv_engine_namespace *ns, char *why,
                                  size_t why_len) {
  TV_ENSURE(engine != NULL && ns != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(ns->default_ttl_ms <= TV_ENGINE_TTL_MS_MAX, TV_E_ENGINE_EXPIRY);
  const char *name = ns->format.namespace_name;
  size_t name_len = strnlen(name, sizeof ns->format.namespace_name);
  TV_ENSURE(name_len >= 1 && name_len <= FORMAT_NAMESPACE_LEN_MAX, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(engine_find_ns(engine, name) == NULL, TV_E_ENGINE_NAMESPACE_EXISTS);
  TV_ENSURE(engine->num_ns < TV_ENGINE_NAMESPACES_MAX, TV_E_INVALID_ARGUMENT);
  TV_TRY(format_config_validate(&ns->format, why, why_len));
  tv_keyring_keys keys;
  TV_TRY(tv_keyring_active(engine->keyring, &keys, name));
  engine_ns *slot = &engine->ns[engine->num_ns];
  TV_TRY(engine_fp_mac_new(keys.fingerprint_key, &slot->fp_mac, &slot->fp_id));
  slot->cfg = *ns;
  memcpy(slot->name, name, name_len);
  slot->name[name_len] = '\0';
  slot->name_len = name_len;
  engine->num_ns++;
  return TV_OK;
}

const engine_ns *engine_find_ns(const tv_engine *e, const char *name) {
  if (name == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < e->num_ns; i++) {
    if (strcmp(e->ns[i].name, name) == 0) {
      return &e->ns[i];
    }
  }
  return NULL;
}

uint64_t engine_now(const tv_engine *e) { return e->now_ms(e->now_ctx); }

void engine_ops_begin(tv_engine *e) {
  pthread_mutex_lock(&e->ops_lock);
  e->ops_inflight++;
  pthread_mutex_unlock(&e->ops_lock);
}

void engine_ops_end(tv_engine *e) {
  pthread_mutex_lock(&e->ops_lock);
  assert(e->ops_inflight > 0);
  if (--e->ops_inflight == 0) {
    pthread_cond_broadcast(&e->ops_cond);
  }
  pthread_mutex_unlock(&e->ops_lock);
}

unsigned engine_epoch_enter(tv_engine *e) {
  pthread_mutex_lock(&e->epoch_lock);
  unsigned slot = (unsigned)(e->epoch & 1u);
  e->epoch_writes[slot]++;
  pthread_mutex_unlock(&e->epoch_lock);
  return slot;
}

void engine_epoch_leave(tv_engine *e, unsigned slot) {
  pthread_mutex_lock(&e->epoch_lock);
  assert(e->epoch_writes[slot] > 0);
  if (--e->epoch_writes[slot] == 0) {
    pthread_cond_broadcast(&e->epoch_cond);
  }
  pthread_mutex_unlock(&e->epoch_lock);
}

void engine_epoch_drain(tv_engine *e) {
  pthread_mutex_lock(&e->epoch_lock);
  /* Writes of the previous epoch drained at the last call, so after the
   * flip the old slot only holds writes entered before this call. */
  unsigned old = (unsigned)(e->epoch & 1u);
  e->epoch++;
  while (e->epoch_writes[old] > 0) {
    pthread_cond_wait(&e->epoch_cond, &e->epoch_lock);
  }
  pthread_mutex_unlock(&e->epoch_lock);
}

tv_status engine_submit(tv_engine *e, tv_store_op *op) {
  /* Blocks on the store's low-water signal while its queue is full (never
   * called on the store's writer thread: retries go to the retry thread). */
  return tv_store_submit_wait(e->store, op);
}


tv_status engine_token_canon(const engine_ns *ns, const char *token, size_t token_len, char *out,
                             size_t *out_len) {
  TV_ENSURE(token != NULL && token_len >= 1 && token_len <= TV_ENGINE_TEXT_LEN_MAX,
            TV_E_INVALID_ARGUMENT);
  int fold = ns->cfg.format.kind != FORMAT_GENERIC;
  /* What a token lookup ignores is what a reveal puts back
   * (format_token_separators). */
  format_separator_set separators;
  format_separator_set_of(&ns->cfg.format, &separators);
  size_t n = 0;
  for (size_t i = 0; i < token_len; i++) {
    char c = token[i];
    if (format_separator_set_has(&separators, c)) {
      continue;
    }
    /* ASCII fold without the locale table lookup (tokens are ASCII). */
    out[n++] = fold && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
  }
  out[n] = '\0';
  TV_ENSURE(n >= 1 && n <= TV_STORE_TOKEN_LEN_MAX, TV_E_INVALID_ARGUMENT);
  *out_len = n;
  return TV_OK;
}

int engine_is_tombstone(const tv_record_put *put) {
  return put->key_version == TV_ENGINE_TOMBSTONE_VERSION && put->expires_ms == 0;
}

tv_status engine_record_state(const tv_record_put *put, uint64_t now) {
  if (engine_is_tombstone(put)) {
    return TV_E_ENGINE_DELETED;
  }
  /* Version 0 with an expiry: compaction's stub of an expired value
   * (vault/store/compact.h). Its expiry has passed, so the check below
   * answers EXPIRED, as the full record did. */
  if (put->expires_ms != 0 && put->expires_ms <= now) {
    return TV_E_ENGINE_EXPIRED;
  }
  return TV_OK;
}

tv_store_key engine_key_of(const engine_ns *ns, const char *token, size_t token_len) {
  return (tv_store_key){
      .ns = (const uint8_t *)ns->name,
      .ns_len = ns->name_len,
      .token = (const uint8_t *)token,
      .token_len = token_len,
  };
}
