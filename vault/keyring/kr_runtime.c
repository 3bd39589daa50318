/* The runtime view: plaintext keys in secure memory, built once at open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/keyring/kr_internal.h"
#include "vault/util/secure_mem.h"

tv_status kr_namespace_new(kr_namespace **out, const char *name) {
  kr_namespace *ns = calloc(1, sizeof *ns);
  TV_ENSURE(ns != NULL, TV_E_NO_MEMORY);
  ns->secrets = tv_secure_alloc(sizeof *ns->secrets);
  if (ns->secrets == NULL) {
    free(ns);
    return TV_E_NO_MEMORY;
  }
  snprintf(ns->name, sizeof ns->name, "%s", name);
  *out = ns;
  return TV_OK;
}

void kr_namespace_free(kr_namespace *ns) {
  if (ns == NULL) {
    return;
  }
  for (uint32_t i = 0; i < ns->num_versions; i++) {
    free(ns->versions[i]);
  }
  ff1_key_free(ns->token_ff1);
  tv_secure_free(ns->secrets, sizeof *ns->secrets);
  free(ns);
}

tv_status kr_slot_take(kr_namespace *ns, uint32_t *out_slot) {
  for (uint32_t i = 0; i < TV_KEYRING_VERSIONS_MAX; i++) {
    if (!ns->slot_used[i]) {
      ns->slot_used[i] = 1;
      *out_slot = i;
      return TV_OK;
    }
  }
  return TV_E_KEYRING_LIMIT;
}

kr_namespace *kr_find_namespace(tv_keyring *kr, const char *name) {
  for (uint32_t i = 0; i < kr->num_namespaces; i++) {
    if (strcmp(kr->namespaces[i]->name, name) == 0) {
      return kr->namespaces[i];
    }
  }
  return NULL;
}

kr_version *kr_find_version(kr_namespace *ns, uint32_t version) {
  for (uint32_t i = ns->num_versions; i > 0; i--) {
    if (ns->versions[i - 1]->version == version) {
      return ns->versions[i - 1];
    }
  }
  return NULL;
}

static tv_status add_version(tv_keyring *kr, kr_namespace *ns, const kr_file_version *fv) {
  TV_ENSURE(ns->num_versions < TV_KEYRING_VERSIONS_MAX, TV_E_KEYRING_CORRUPT);
  kr_version *v = calloc(1, sizeof *v);
  TV_ENSURE(v != NULL, TV_E_NO_MEMORY);
  tv_status status = kr_slot_take(ns, &v->slot);
  if (status == TV_OK) {
    status = kr_unwrap(kr, ns->secrets->value_keys[v->slot], kr->file.kek_label, &fv->value_key);
  }
  if (status != TV_OK) {
    free(v);
    return status;
  }
  v->version = fv->version;
  v->created_s = fv->created_s;
  atomic_init(&v->state, fv->state);
  /* Every count up to the durable reservation may have been used before a
   * crash: start after it, never reuse one. */
  uint64_t start = kr_blocks(kr) ? 0 : fv->reserved; /* blocks: none yet */
  atomic_init(&v->used, start);
  atomic_init(&v->reserved, start);
  ns->versions[ns->num_versions++] = v;
  return TV_OK;
}

static tv_status build_namespace(tv_keyring *kr, kr_namespace *ns, uint32_t index) {
  const kr_file_namespace *fns = &kr->file.namespaces[index];
  TV_TRY(kr_unwrap(kr, ns->secrets->token_key, kr->file.kek_label, &fns->token_key));
  TV_TRY(kr_unwrap(kr, ns->secrets->fingerprint_key, kr->file.kek_label, &fns->fingerprint_key));
  TV_TRY(ff1_key_new(&ns->token_ff1, FF1_IMPL_AUTO, ns->secrets->token_key, TV_KEYRING_KEY_LEN));
  for (uint32_t i = 0; i < kr->file.num_versions; i++) {
    if (kr->file.versions[i].ns_index == index) {
      TV_TRY(add_version(kr, ns, &kr->file.versions[i]));
    }
  }
  return TV_OK;
}

tv_status kr_runtime_build(tv_keyring *kr) {
  for (uint32_t i = 0; i < kr->file.num_namespaces; i++) {
    kr_namespace *ns = NULL;
    TV_TRY(kr_namespace_new(&ns, kr->file.namespaces[i].name));
    /* Owned by the keyring from here, so a failure below frees it too. */
    kr->namespaces[kr->num_namespaces++] = ns;
    TV_TRY(build_namespace(kr, ns, i));
  }
  return TV_OK;
}
