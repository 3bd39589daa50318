/* Data keys: new namespaces, data-key rotation and the state transitions
 * that follow it (decrypt-only → retired → destroyed). Each change is
 * durable in the keyring file before the runtime view shows it. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "vault/keyring/kr_internal.h"
#include "vault/util/secure_mem.h"

static uint64_t first_reservation(const tv_keyring *kr) {
  return kr->reserve_block < kr->encryptions_max ? kr->reserve_block : kr->encryptions_max;
}

static tv_status random_key(uint8_t *out) {
  TV_ENSURE(RAND_bytes(out, TV_KEYRING_KEY_LEN) == 1, TV_E_CRYPTO_BACKEND);
  return TV_OK;
}

/* Appends version |version| (ACTIVE, key in |ns| slot |slot|) of file
 * namespace |fi| to |next|. */
static tv_status file_add_version(tv_keyring *kr, kr_file *next, uint32_t fi, uint32_t version,
                                  const uint8_t *key) {
  kr_file_version *fv = kr_file_add_version(next);
  TV_ENSURE(fv != NULL, TV_E_NO_MEMORY);
  fv->ns_index = fi;
  fv->version = version;
  fv->state = TV_KEY_ACTIVE;
  fv->created_s = kr_now_s();
  fv->reserved = first_reservation(kr);
  return kr_wrap(kr, &fv->value_key, next->kek_label, key);
}

/* Commits |next| if preparing it went well (|prepared|), else drops it. */
static tv_status commit_prepared(tv_keyring *kr, kr_file *next, tv_status prepared) {
  if (prepared != TV_OK) {
    kr_file_free(next);
    return prepared;
  }
  return kr_commit(kr, next);
}

static tv_status runtime_version_new(kr_version **out, const tv_keyring *kr, uint32_t version,
                                     uint32_t slot) {
  kr_version *v = calloc(1, sizeof *v);
  TV_ENSURE(v != NULL, TV_E_NO_MEMORY);
  v->version = version;
  v->slot = slot;
  v->created_s = kr_now_s();
  atomic_init(&v->state, TV_KEY_ACTIVE);
  atomic_init(&v->used, 0);
  atomic_init(&v->reserved, kr_blocks(kr) ? 0 : first_reservation(kr));
  *out = v;
  return TV_OK;
}

/* Generates the namespace's three keys and the file entries for them. */
static tv_status namespace_prepare(tv_keyring *kr, kr_file *next, kr_namespace *ns) {
  kr_secrets *s = ns->secrets;
  uint32_t slot = 0;
  TV_TRY(kr_slot_take(ns, &slot));
  TV_TRY(random_key(s->token_key));
  TV_TRY(random_key(s->fingerprint_key));
  TV_TRY(random_key(s->value_keys[slot]));
  TV_TRY(ff1_key_new(&ns->token_ff1, FF1_IMPL_AUTO, s->token_key, TV_KEYRING_KEY_LEN));
  TV_TRY(runtime_version_new(&ns->versions[0], kr, 1, slot));
  ns->num_versions = 1;
  kr_file_namespace *fns = kr_file_add_namespace(next);
  TV_ENSURE(fns != NULL, TV_E_NO_MEMORY);
  snprintf(fns->name, sizeof fns->name, "%s", ns->name);
  fns->created_s = kr_now_s();
  fns->last_version = 1;
  TV_TRY(kr_wrap(kr, &fns->token_key, next->kek_label, s->token_key));
  TV_TRY(kr_wrap(kr, &fns->fingerprint_key, next->kek_label, s->fingerprint_key));
  return file_add_version(kr, next, next->num_namespaces - 1, 1, s->value_keys[slot]);
}

static tv_status add_namespace_locked(tv_keyring *kr, const char *name) {
  TV_ENSURE(kr_find_namespace(kr, name) == NULL, TV_E_KEYRING_NAMESPACE_EXISTS);
  TV_ENSURE(kr->num_namespaces < TV_KEYRING_NAMESPACES_MAX, TV_E_KEYRING_LIMIT);
  kr_namespace *ns = NULL;
  TV_TRY(kr_namespace_new(&ns, name));
  kr_file next;
  tv_status status = kr_file_clone(&next, &kr->file);
  if (status == TV_OK) {
    status = commit_prepared(kr, &next, namespace_prepare(kr, &next, ns));
  }
  if (status != TV_OK) {
    kr_namespace_free(ns);
    return status;
  }
  pthread_rwlock_wrlock(&kr->rw);
  kr->namespaces[kr->num_namespaces++] = ns;
  pthread_rwlock_unlock(&kr->rw);
  return TV_OK;
}

tv_status tv_keyring_add_namespace(tv_keyring *keyring, const char *name) {
  TV_ENSURE(keyring != NULL && name != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(kr_namespace_name_valid(name), TV_E_KEYRING_NAMESPACE);
  pthread_mutex_lock(&keyring->mu);
  tv_status status;
  KR_CHANGE(keyring, status, add_namespace_locked(keyring, name));
  pthread_mutex_unlock(&keyring->mu);
  return status;
}

/* The file side of a rotation: new ACTIVE version, previous one
 * DECRYPT_ONLY. */
static tv_status rotation_prepare(tv_keyring *kr, kr_file *next, uint32_t fi, uint32_t *out_version,
                                  const uint8_t *key) {
  kr_file_namespace *fns = &next->namespaces[fi];
  TV_ENSURE(fns->last_version < UINT32_MAX, TV_E_KEYRING_LIMIT);
  for (uint32_t i = 0; i < next->num_versions; i++) {
    if (next->versions[i].ns_index == fi && next->versions[i].state == TV_KEY_ACTIVE) {
      next->versions[i].state = TV_KEY_DECRYPT_ONLY;
    }
  }
  *out_version = ++fns->last_version;
  return file_add_version(kr, next, fi, *out_version, key);
}

static void runtime_install(tv_keyring *kr, kr_namespace *ns, kr_version *v) {
  pthread_rwlock_wrlock(&kr->rw);
  for (uint32_t i = 0; i < ns->num_versions; i++) {
    int active = TV_KEY_ACTIVE;
    atomic_compare_exchange_strong(&ns->versions[i]->state, &active, TV_KEY_DECRYPT_ONLY);
  }
  ns->versions[ns->num_versions++] = v;
  pthread_rwlock_unlock(&kr->rw);
}

static tv_status rotate_locked(tv_keyring *kr, uint32_t *out_version, const char *name) {
  kr_namespace *ns = kr_find_namespace(kr, name);
  long fi = kr_file_find_namespace(&kr->file, name);
  TV_ENSURE(ns != NULL && fi >= 0, TV_E_KEYRING_NAMESPACE);
  TV_ENSURE(ns->num_versions < TV_KEYRING_VERSIONS_MAX, TV_E_KEYRING_LIMIT);
  uint32_t slot = 0;
  TV_TRY(kr_slot_take(ns, &slot));
  uint8_t *key = ns->secrets->value_keys[slot];
  uint32_t version = 0;
  kr_version *v = NULL;
  kr_file next = {0};
  tv_status status = random_key(key);
  if (status == TV_OK && (status = kr_file_clone(&next, &kr->file)) == TV_OK) {
    status = commit_prepared(kr, &next, rotation_prepare(kr, &next, (uint32_t)fi, &version, key));
  }
  if (status == TV_OK) {
    kr_step(kr, "rotate.committed");
    status = runtime_version_new(&v, kr, version, slot);
  }
  if (status != TV_OK) {
    tv_wipe(key, TV_KEYRING_KEY_LEN);
    ns->slot_used[slot] = 0;
    return status;
  }
  runtime_install(kr, ns, v);
  if (out_version != NULL) {
    *out_version = version;
  }
  return TV_OK;
}

tv_status tv_keyring_rotate_data_key(tv_keyring *keyring, uint32_t *out_version,
                                     const char *name) {
  TV_ENSURE(keyring != NULL && name != NULL, TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&keyring->mu);
  tv_status status;
  KR_CHANGE(keyring, status, rotate_locked(keyring, out_version, name));
  pthread_mutex_unlock(&keyring->mu);
  return status;
}

static tv_status mark_locked(tv_keyring *kr, const char *name, uint32_t version) {
  kr_namespace *ns = kr_find_namespace(kr, name);
  long fi = kr_file_find_namespace(&kr->file, name);
  TV_ENSURE(ns != NULL && fi >= 0, TV_E_KEYRING_NAMESPACE);
  kr_version *v = kr_find_version(ns, version);
  long vi = kr_file_find_version(&kr->file, (uint32_t)fi, version);
  TV_ENSURE(v != NULL && vi >= 0, TV_E_KEYRING_KEY_VERSION);
  TV_ENSURE(atomic_load(&v->state) == TV_KEY_DECRYPT_ONLY, TV_E_KEYRING_KEY_STATE);
  kr_file next;
  TV_TRY(kr_file_clone(&next, &kr->file));
  next.versions[vi].state = TV_KEY_RETIRED;
  TV_TRY(kr_commit(kr, &next));
  atomic_store(&v->state, TV_KEY_RETIRED);
  kr_keys_dropped(kr);
  return TV_OK;
}

tv_status tv_keyring_mark_reencrypted(tv_keyring *keyring, const char *name, uint32_t version) {
  TV_ENSURE(keyring != NULL && name != NULL, TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&keyring->mu);
  tv_status status;
  KR_CHANGE(keyring, status, mark_locked(keyring, name, version));
  pthread_mutex_unlock(&keyring->mu);
  return status;
}

tv_status kr_destroy_version(tv_keyring *kr, kr_file *next, const char *name, uint32_t version) {
  kr_namespace *ns = kr_find_namespace(kr, name);
  long fi = kr_file_find_namespace(next, name);
  kr_version *v = ns != NULL ? kr_find_version(ns, version) : NULL;
  long vi = fi >= 0 ? kr_file_find_version(next, (uint32_t)fi, version) : -1;
  if (v == NULL || vi < 0 || atomic_load(&v->state) != TV_KEY_RETIRED) {
    kr_file_free(next);
    return v == NULL || vi < 0 ? TV_E_KEYRING_KEY_VERSION : TV_E_KEYRING_KEY_STATE;
  }
  kr_file_remove_version(next, (size_t)vi);
  TV_TRY(kr_commit(kr, next));
  kr_step(kr, "destroy_version.committed");
  pthread_rwlock_wrlock(&kr->rw);
  uint32_t i = 0;
  while (ns->versions[i] != v) {
    i++;
  }
  memmove(&ns->versions[i], &ns->versions[i + 1], (ns->num_versions - i - 1) * sizeof v);
  ns->num_versions--;
  tv_wipe(ns->secrets->value_keys[v->slot], TV_KEYRING_KEY_LEN);
  ns->slot_used[v->slot] = 0;
  pthread_rwlock_unlock(&kr->rw);
  free(v);
  kr_keys_dropped(kr);
  return TV_OK;
}
