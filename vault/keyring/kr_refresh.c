/* Fleet refresh: taking in the changes other nodes made to the shared
 * keyring document, without a restart.
 *
 * The document is verified as at open. The runtime view is then brought
 * up to it the way this node's own changes are applied: new keys are
 * unwrapped into free slots first (readers never look at a free slot),
 * then, under |rw| held for writing, new namespaces and versions appear,
 * states follow the document and destroyed versions disappear and are
 * wiped. Pointers handed to readers stay valid (only a destroyed
 * version's key, which no record uses, is wiped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/keyring/kr_internal.h"
#include "vault/util/secure_mem.h"

static uint64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* What a sync installs: a version unwrapped ahead into |ns|'s |slot|, or
 * (|fresh|) a whole new namespace. */
typedef struct kr_sync_add {
  kr_namespace *ns;
  kr_version *v;
  int fresh;
} kr_sync_add;

typedef struct kr_sync {
  kr_sync_add *adds;
  size_t num_adds;
} kr_sync;

static tv_status version_unwrap(tv_keyring *kr, kr_version **out, kr_namespace *ns, const kr_file *next,
                                const kr_file_version *fv) {
  kr_version *v = calloc(1, sizeof *v);
  TV_ENSURE(v != NULL, TV_E_NO_MEMORY);
  tv_status status = kr_slot_take(ns, &v->slot);
  if (status != TV_OK) {
    free(v);
    return status;
  }
  status = kr_unwrap(kr, ns->secrets->value_keys[v->slot], next->kek_label, &fv->value_key);
  if (status != TV_OK) {
    ns->slot_used[v->slot] = 0;
    free(v);
    return status;
  }
  v->version = fv->version;
  v->created_s = fv->created_s;
  atomic_init(&v->state, fv->state);
  /* Counts up to the durable reservation may be in use elsewhere (with
   * per-node blocks this node has none of this version yet). */
  uint64_t start = kr_blocks(kr) ? 0 : fv->reserved;
  atomic_init(&v->used, start);
  atomic_init(&v->reserved, start);
  *out = v;
  return TV_OK;
}

/* A namespace this node has never seen: built whole, published later. */
static tv_status namespace_unwrap(tv_keyring *kr, kr_sync *sync, const kr_file *next, uint32_t fi) {
  const kr_file_namespace *fns = &next->namespaces[fi];
  kr_namespace *ns = NULL;
  TV_TRY(kr_namespace_new(&ns, fns->name));
  sync->adds[sync->num_adds++] = (kr_sync_add){.ns = ns, .fresh = 1};
  TV_TRY(kr_unwrap(kr, ns->secrets->token_key, next->kek_label, &fns->token_key));
  TV_TRY(kr_unwrap(kr, ns->secrets->fingerprint_key, next->kek_label, &fns->fingerprint_key));
  TV_TRY(ff1_key_new(&ns->token_ff1, FF1_IMPL_AUTO, ns->secrets->token_key, TV_KEYRING_KEY_LEN));
  for (uint32_t i = 0; i < next->num_versions; i++) {
    if (next->versions[i].ns_index == fi) {
      TV_ENSURE(ns->num_versions < TV_KEYRING_VERSIONS_MAX, TV_E_KEYRING_CORRUPT);
      TV_TRY(version_unwrap(kr, &ns->versions[ns->num_versions], ns, next, &next->versions[i]));
      ns->num_versions++;
    }
  }
  return TV_OK;
}

/* Unwraps everything |next| has that the runtime view lacks. */
static tv_status sync_prepare(tv_keyring *kr, kr_sync *sync, const kr_file *next) {
  size_t new_namespaces = 0;
  for (uint32_t fi = 0; fi < next->num_namespaces; fi++) {
    kr_namespace *ns = kr_find_namespace(kr, next->namespaces[fi].name);
    if (ns == NULL) {
      TV_ENSURE(kr->num_namespaces + ++new_namespaces <= TV_KEYRING_NAMESPACES_MAX, TV_E_KEYRING_LIMIT);
      TV_TRY(namespace_unwrap(kr, sync, next, fi));
      continue;
    }
    for (uint32_t i = 0; i < next->num_versions; i++) {
      const kr_file_version *fv = &next->versions[i];
      if (fv->ns_index != fi || kr_find_version(ns, fv->version) != NULL) {
        continue;
      }
      kr_version *v = NULL;
      TV_TRY(version_unwrap(kr, &v, ns, next, fv));
      sync->adds[sync->num_adds++] = (kr_sync_add){.ns = ns, .v = v};
    }
  }
  return TV_OK;
}

static void sync_discard(kr_sync *sync) {
  for (size_t i = 0; i < sync->num_adds; i++) {
    kr_sync_add *a = &sync->adds[i];
    if (a->fresh) {
      kr_namespace_free(a->ns);
    } else {
      tv_wipe(a->ns->secrets->value_keys[a->v->slot], TV_KEYRING_KEY_LEN);
      a->ns->slot_used[a->v->slot] = 0;
      free(a->v);
    }
  }
  free(sync->adds);
}

static int usable(tv_key_state state) { return state == TV_KEY_ACTIVE || state == TV_KEY_DECRYPT_ONLY; }

/* States, reservations and destructions of a namespace the node knew
 * (|rw| held for writing). A version the document no longer has was
 * destroyed by another node. Returns how many versions stopped being
 * usable (retired or destroyed elsewhere). */
static int sync_existing(const tv_keyring *kr, kr_namespace *ns, const kr_file *next, long fi) {
  int dropped = 0;
  for (uint32_t i = ns->num_versions; i > 0; i--) {
    kr_version *v = ns->versions[i - 1];
    long vi = fi >= 0 ? kr_file_find_version(next, (uint32_t)fi, v->version) : -1;
    dropped += vi < 0 || (usable(atomic_load(&v->state)) && !usable(next->versions[vi].state));
    if (vi < 0) {
      memmove(&ns->versions[i - 1], &ns->versions[i], (ns->num_versions - i) * sizeof v);
      ns->num_versions--;
      tv_wipe(ns->secrets->value_keys[v->slot], TV_KEYRING_KEY_LEN);
      ns->slot_used[v->slot] = 0;
      free(v);
      continue;
    }
    const kr_file_version *fv = &next->versions[vi];
    atomic_store(&v->state, fv->state);
    /* Never lower a durable reservation; the fleet's only grows. (Per-node
     * blocks are this node's own: the document does not hold them.) */
    if (!kr_blocks(kr) && fv->reserved > atomic_load(&v->reserved)) {
      atomic_store(&v->reserved, fv->reserved);
    }
  }
  return dropped;
}

/* Publishes what sync_prepare made, in version order (new versions are
 * newer than every one the node has). Returns how many versions stopped
 * being usable. */
static int sync_install(tv_keyring *kr, kr_sync *sync, const kr_file *next) {
  pthread_rwlock_wrlock(&kr->rw);
  for (size_t i = 0; i < sync->num_adds; i++) {
    kr_sync_add *a = &sync->adds[i];
    if (a->fresh) {
      kr->namespaces[kr->num_namespaces++] = a->ns;
    } else if (a->ns->num_versions < TV_KEYRING_VERSIONS_MAX) {
      a->ns->versions[a->ns->num_versions++] = a->v;
    } else { /* cannot happen: the parser bounds versions per namespace */
      tv_wipe(a->ns->secrets->value_keys[a->v->slot], TV_KEYRING_KEY_LEN);
      a->ns->slot_used[a->v->slot] = 0;
      free(a->v);
    }
  }
  int dropped = 0;
  for (uint32_t i = 0; i < kr->num_namespaces; i++) {
    dropped += sync_existing(kr, kr->namespaces[i], next, kr_file_find_namespace(next, kr->namespaces[i]->name));
  }
  pthread_rwlock_unlock(&kr->rw);
  free(sync->adds);
  return dropped;
}

tv_status kr_runtime_sync(tv_keyring *kr, kr_file *next) {
  kr_sync sync = {0};
  size_t adds_max = (size_t)next->num_namespaces + next->num_versions + 1;
  sync.adds = calloc(adds_max, sizeof *sync.adds);
  tv_status status = sync.adds != NULL ? sync_prepare(kr, &sync, next) : TV_E_NO_MEMORY;
  if (status != TV_OK) {
    sync_discard(&sync);
    kr_file_free(next);
    return status;
  }
  int dropped = sync_install(kr, &sync, next);
  kr_file_free(&kr->file);
  kr->file = *next;
  *next = (kr_file){0};
  if (dropped > 0) {
    kr_keys_dropped(kr); /* another node retired or destroyed a version */
  }
  return TV_OK;
}

void kr_keys_dropped(tv_keyring *kr) {
  if (kr->keys_dropped != NULL) {
    kr->keys_dropped();
  }
}

void tv_keyring_on_keys_dropped(tv_keyring *keyring, void (*fn)(void)) {
  if (keyring == NULL) {
    return;
  }
  pthread_mutex_lock(&keyring->mu);
  keyring->keys_dropped = fn;
  pthread_mutex_unlock(&keyring->mu);
}

/* A KEK rotation pending at the same generation for a while was left by
 * a node that stopped: finish it here, as an open would. */
static tv_status resume_if_stale(tv_keyring *kr) {
  if (kr->file.pending == KR_PENDING_NONE) {
    kr->pending_generation = 0;
    return TV_OK;
  }
  uint64_t now = monotonic_ms();
  if (kr->pending_generation != kr->file.generation) {
    kr->pending_generation = kr->file.generation;
    kr->pending_since_ms = now;
    return TV_OK;
  }
  if (now - kr->pending_since_ms < TV_KEYRING_PENDING_STALE_MS) {
    return TV_OK;
  }
  tv_status status = kr_kek_resume(kr);
  /* Another node finishing it at the same time wins the swap: fine. */
  return status == TV_E_KEYRING_CONFLICT ? TV_OK : status;
}

static tv_status load_newer(tv_keyring *kr) {
  uint8_t *buf = NULL;
  size_t len = 0;
  TV_TRY(kr_doc_load(kr, &buf, &len));
  kr_file next = {0};
  tv_status status = kr_doc_verify(kr, &next, buf, len);
  free(buf);
  TV_TRY(status);
  if (next.generation <= kr->file.generation) {
    /* Never go back: an older document is a copy put back. */
    uint64_t generation = next.generation;
    kr_file_free(&next);
    return generation == kr->file.generation ? TV_OK : TV_E_KEYRING_ROLLBACK;
  }
  status = kr_check_generation(kr, next.generation);
  if (status != TV_OK) {
    kr_file_free(&next);
    return status;
  }
  return kr_runtime_sync(kr, &next);
}

tv_status kr_refresh_locked(tv_keyring *kr) {
  if (!kr->has_persist || !kr->stored) {
    return TV_OK;
  }
  uint64_t generation = 0;
  TV_TRY(kr->persist.generation(kr->persist.ctx, &generation));
  if (generation != kr->file.generation) {
    TV_TRY(load_newer(kr));
  }
  return TV_OK;
}

tv_status tv_keyring_refresh(tv_keyring *keyring) {
  TV_ENSURE(keyring != NULL, TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&keyring->mu);
  tv_status status = kr_refresh_locked(keyring);
  if (status == TV_OK && keyring->has_persist) {
    status = resume_if_stale(keyring);
  }
  pthread_mutex_unlock(&keyring->mu);
  return status;
}

/* The thread polls until tv_keyring_free; a failed refresh (database away,
 * a document that does not verify) keeps the view it has and tries again. */
static void *refresher_main(void *arg) {
  tv_keyring *kr = arg;
  pthread_mutex_lock(&kr->stop_mu);
  while (!kr->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)kr->refresh_ms * 1000000u;
    until.tv_sec += (time_t)(ns / 1000000000u);
    until.tv_nsec = (long)(ns % 1000000000u);
    pthread_cond_timedwait(&kr->stop_cv, &kr->stop_mu, &until);
    if (kr->stopping) {
      break;
    }
    pthread_mutex_unlock(&kr->stop_mu);
    (void)tv_keyring_refresh(kr);
    pthread_mutex_lock(&kr->stop_mu);
  }
  pthread_mutex_unlock(&kr->stop_mu);
  return NULL;
}

tv_status kr_refresher_start(tv_keyring *kr) {
  if (!kr->has_persist || kr->refresh_ms == 0) {
    return TV_OK;
  }
  TV_ENSURE(pthread_create(&kr->refresher, NULL, refresher_main, kr) == 0, TV_E_NO_MEMORY);
  kr->refresher_started = 1;
  return TV_OK;
}

void kr_refresher_stop(tv_keyring *kr) {
  if (!kr->refresher_started) {
    return;
  }
  pthread_mutex_lock(&kr->stop_mu);
  kr->stopping = 1;
  pthread_cond_signal(&kr->stop_cv);
  pthread_mutex_unlock(&kr->stop_mu);
  pthread_join(kr->refresher, NULL);
  kr->refresher_started = 0;
}
