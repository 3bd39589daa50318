/* What the engine calls per value: lookups and encryption reservations.
 * Only the runtime view is read, under |rw| for reading; the HSM is never
 * called here except to extend a reservation, once per reserve block. */
#include <stdio.h>
#include <string.h>

#include "vault/keyring/kr_internal.h"

static kr_version *active_version(kr_namespace *ns) {
  for (uint32_t i = ns->num_versions; i > 0; i--) {
    if (atomic_load(&ns->versions[i - 1]->state) == TV_KEY_ACTIVE) {
      return ns->versions[i - 1];
    }
  }
  return NULL;
}

static void fill_keys(tv_keyring_keys *out, kr_namespace *ns, kr_version *v) {
  out->version = v->version;
  out->state = (tv_key_state)atomic_load(&v->state);
  out->value_key = ns->secrets->value_keys[v->slot];
  out->token_key = ns->secrets->token_key;
  out->fingerprint_key = ns->secrets->fingerprint_key;
  out->token_ff1 = ns->token_ff1;
}

tv_status tv_keyring_active(tv_keyring *keyring, tv_keyring_keys *out_keys, const char *name) {
  TV_ENSURE(keyring != NULL && out_keys != NULL && name != NULL, TV_E_INVALID_ARGUMENT);
  pthread_rwlock_rdlock(&keyring->rw);
  kr_namespace *ns = kr_find_namespace(keyring, name);
  kr_version *v = ns != NULL ? active_version(ns) : NULL;
  if (v != NULL) {
    fill_keys(out_keys, ns, v);
  }
  pthread_rwlock_unlock(&keyring->rw);
  TV_ENSURE(v != NULL, TV_E_KEYRING_NAMESPACE);
  return TV_OK;
}

tv_status tv_keyring_version(tv_keyring *keyring, tv_keyring_keys *out_keys, const char *name,
                             uint32_t version) {
  TV_ENSURE(keyring != NULL && out_keys != NULL && name != NULL, TV_E_INVALID_ARGUMENT);
  pthread_rwlock_rdlock(&keyring->rw);
  kr_namespace *ns = kr_find_namespace(keyring, name);
  kr_version *v = ns != NULL ? kr_find_version(ns, version) : NULL;
  tv_status status = ns == NULL ? TV_E_KEYRING_NAMESPACE
                     : v == NULL ? TV_E_KEYRING_KEY_VERSION
                                 : TV_OK;
  if (status == TV_OK) {
    int state = atomic_load(&v->state);
    status = state == TV_KEY_ACTIVE || state == TV_KEY_DECRYPT_ONLY ? TV_OK
                                                                   : TV_E_KEYRING_KEY_STATE;
  }
  if (status == TV_OK) {
    fill_keys(out_keys, ns, v);
  }
  pthread_rwlock_unlock(&keyring->rw);
  return status;
}

/* Raises the durable reservation of (|name|, |version|) to cover |needed|
 * counts, plus a block so the next many reservations need no write. A
 * shared document may hold a higher reservation made by another node: it
 * is never lowered. |mu| held. */
static tv_status extend_locked(tv_keyring *kr, const char *name, uint32_t version, uint64_t needed) {
  kr_namespace *ns = kr_find_namespace(kr, name);
  kr_version *v = ns != NULL ? kr_find_version(ns, version) : NULL;
  TV_ENSURE(v != NULL, TV_E_KEYRING_KEY_VERSION);
  if (atomic_load(&v->reserved) >= needed) {
    return TV_OK;
  }
  long fi = kr_file_find_namespace(&kr->file, name);
  long vi = fi >= 0 ? kr_file_find_version(&kr->file, (uint32_t)fi, version) : -1;
  TV_ENSURE(vi >= 0, TV_E_INTERNAL);
  uint64_t target = needed + kr->reserve_block;
  if (target < needed || target > kr->encryptions_max) {
    target = kr->encryptions_max; /* never reserve past the bound */
  }
  if (target < kr->file.versions[vi].reserved) {
    target = kr->file.versions[vi].reserved;
  }
  kr_file next;
  TV_TRY(kr_file_clone(&next, &kr->file));
  next.versions[vi].reserved = target;
  TV_TRY(kr_commit(kr, &next));
  atomic_store(&v->reserved, target);
  return TV_OK;
}

static tv_status extend_reservation(tv_keyring *kr, const char *name, uint32_t version,
                                    uint64_t needed) {
  pthread_mutex_lock(&kr->mu);
  tv_status status;
  KR_CHANGE(kr, status, extend_locked(kr, name, version, needed));
  pthread_mutex_unlock(&kr->mu);
  return status;
}

/* Takes |count| on |v| unless that passes the bound: a compare-and-swap
 * loop, so a refused request leaves the counter as it was. */
static tv_status take_counts(tv_keyring *kr, kr_version *v, uint64_t count, uint64_t *out_end) {
  uint64_t used = atomic_load(&v->used);
  do {
    TV_ENSURE(used <= kr->encryptions_max && count <= kr->encryptions_max - used,
              TV_E_KEYRING_KEY_EXHAUSTED);
  } while (!atomic_compare_exchange_weak(&v->used, &used, used + count));
  *out_end = used + count;
  return TV_OK;
}

/* The document's reservation (a keyring file, one process): counts are
 * taken first, the durable reservation raised when they pass it. */
static tv_status reserve_in_document(tv_keyring *keyring, tv_keyring_keys *out_keys, uint64_t *out_end,
                                     const char *name, uint64_t count) {
  pthread_rwlock_rdlock(&keyring->rw);
  kr_namespace *ns = kr_find_namespace(keyring, name);
  kr_version *v = ns != NULL ? active_version(ns) : NULL;
  tv_status status = v != NULL ? TV_OK : TV_E_KEYRING_NAMESPACE;
  uint64_t end = 0;
  int need_extend = 0;
  tv_keyring_keys keys;
  if (status == TV_OK) {
    status = take_counts(keyring, v, count, &end);
  }
  if (status == TV_OK) {
    fill_keys(&keys, ns, v);
    need_extend = end > atomic_load(&v->reserved);
  }
  pthread_rwlock_unlock(&keyring->rw);
  TV_TRY(status);
  if (need_extend) {
    TV_TRY(extend_reservation(keyring, name, keys.version, end));
  }
  *out_keys = keys;
  *out_end = end;
  return TV_OK;
}

/* Per-node blocks: a new block of at least |count| for this node (|mu|
 * held), unless another thread got one meanwhile. A block that cannot be
 * a full reserve_block near the bound is cut to what is asked. */
static tv_status take_block(tv_keyring *kr, const char *name, uint32_t version, uint64_t count) {
  kr_namespace *ns = kr_find_namespace(kr, name);
  kr_version *v = ns != NULL ? kr_find_version(ns, version) : NULL;
  long fi = kr_file_find_namespace(&kr->file, name);
  TV_ENSURE(v != NULL && fi >= 0, TV_E_KEYRING_KEY_VERSION);
  if (atomic_load(&v->reserved) - atomic_load(&v->used) >= count) {
    return TV_OK;
  }
  uint64_t first = 0, n = count > kr->reserve_block ? count : kr->reserve_block;
  tv_status st = kr->persist.reserve(kr->persist.ctx, (uint32_t)fi, version, n, kr->encryptions_max, &first);
  if (st == TV_E_KEYRING_KEY_EXHAUSTED && n > count) {
    n = count;
    st = kr->persist.reserve(kr->persist.ctx, (uint32_t)fi, version, n, kr->encryptions_max, &first);
  }
  TV_TRY(st);
  kr_step(kr, "reserve.block_durable");
  /* Readers take counts under |rw| for reading: none sees half a block. */
  pthread_rwlock_wrlock(&kr->rw);
  atomic_store(&v->used, first);
  atomic_store(&v->reserved, first + n);
  pthread_rwlock_unlock(&kr->rw);
  return TV_OK;
}

/* Takes |count| from this node's block of the ACTIVE version, a new block
 * when it is used up (the rest of the old one is never used). */
static tv_status reserve_from_blocks(tv_keyring *kr, tv_keyring_keys *out, uint64_t *out_end, const char *name,
                                     uint64_t count) {
  for (int attempt = 0; attempt < 4; attempt++) {
    pthread_rwlock_rdlock(&kr->rw);
    kr_namespace *ns = kr_find_namespace(kr, name);
    kr_version *v = ns != NULL ? active_version(ns) : NULL;
    if (v == NULL) {
      pthread_rwlock_unlock(&kr->rw);
      return TV_E_KEYRING_NAMESPACE;
    }
    uint64_t used = atomic_load(&v->used), end = atomic_load(&v->reserved);
    int taken = 0;
    while (!taken && end - used >= count) {
      taken = atomic_compare_exchange_weak(&v->used, &used, used + count);
    }
    uint32_t version = v->version;
    if (taken) {
      fill_keys(out, ns, v);
      *out_end = used + count;
    }
    pthread_rwlock_unlock(&kr->rw);
    if (taken) {
      return TV_OK;
    }
    pthread_mutex_lock(&kr->mu);
    tv_status st = take_block(kr, name, version, count);
    pthread_mutex_unlock(&kr->mu);
    TV_TRY(st);
  }
  return TV_E_KEYRING_CONFLICT; /* the active version kept changing */
}

tv_status tv_keyring_reserve(tv_keyring *keyring, tv_keyring_keys *out_keys,
                             int *out_rotation_due, const char *name, uint64_t count) {
  TV_ENSURE(keyring != NULL && out_keys != NULL && name != NULL && count >= 1,
            TV_E_INVALID_ARGUMENT);
  uint64_t end = 0;
  if (kr_blocks(keyring)) {
    TV_TRY(reserve_from_blocks(keyring, out_keys, &end, name, count));
  } else {
    TV_TRY(reserve_in_document(keyring, out_keys, &end, name, count));
  }
  if (out_rotation_due != NULL) {
    *out_rotation_due = end >= keyring->encryptions_warn;
  }
  return TV_OK;
}

tv_status tv_keyring_list_versions(tv_keyring *keyring, tv_keyring_version_info *out,
                                   size_t *out_count, size_t out_max, const char *name) {
  TV_ENSURE(keyring != NULL && out_count != NULL && name != NULL && (out != NULL || out_max == 0),
            TV_E_INVALID_ARGUMENT);
  pthread_rwlock_rdlock(&keyring->rw);
  kr_namespace *ns = kr_find_namespace(keyring, name);
  if (ns != NULL) {
    for (uint32_t i = 0; i < ns->num_versions && i < out_max; i++) {
      const kr_version *v = ns->versions[i];
      out[i] = (tv_keyring_version_info){v->version, (tv_key_state)atomic_load(&v->state),
                                         v->created_s, atomic_load(&v->used)};
    }
    *out_count = ns->num_versions;
  }
  pthread_rwlock_unlock(&keyring->rw);
  TV_ENSURE(ns != NULL, TV_E_KEYRING_NAMESPACE);
  return TV_OK;
}

tv_status tv_keyring_kek_label(tv_keyring *keyring, char out[TV_HSM_LABEL_MAX + 1]) {
  TV_ENSURE(keyring != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&keyring->mu);
  (void)kr_refresh_locked(keyring); /* the fleet's KEK, as in tv_keyring_list_recent */
  snprintf(out, TV_HSM_LABEL_MAX + 1, "%s", keyring->file.kek_label);
  pthread_mutex_unlock(&keyring->mu);
  return TV_OK;
}

uint64_t tv_keyring_generation(tv_keyring *keyring) {
  pthread_mutex_lock(&keyring->mu);
  uint64_t generation = keyring->file.generation;
  pthread_mutex_unlock(&keyring->mu);
  return generation;
}

const char *tv_key_state_name(tv_key_state state) {
  switch (state) {
    case TV_KEY_ACTIVE:
      return "active";
    case TV_KEY_DECRYPT_ONLY:
      return "decrypt-only";
    case TV_KEY_RETIRED:
      return "retired";
    case TV_KEY_DESTROYED:
      return "destroyed";
  }
  return "unknown";
}
