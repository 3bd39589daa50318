/* KEK rotation, crash-safe: each HSM step is preceded by a durable record
 * of what is about to happen, so the next open can finish it.
 *
 *   1. file: pending = KEK_CREATE(new)       (proposal consumed)
 *   2. HSM:  create KEK new
 *   3. file: every key rewrapped under new, kek = new,
 *            pending = KEK_DISABLE(old), old listed for later destruction
 *   4. HSM:  disable old (only now: the new keyring is durable)
 *   5. file: pending = none
 *
 * A crash after 1 or 2 resumes at 2 (the KEK is created if missing); after
 * 3 or 4 at 4. If the new KEK cannot be made at all, the rotation is rolled
 * back to "none" under the old KEK, which still wraps everything. */
#include <stdio.h>
#include <string.h>

#include "vault/keyring/kr_internal.h"

static tv_status rewrap_all(tv_keyring *kr, kr_file *next, const char *new_label) {
  for (uint32_t i = 0; i < next->num_namespaces; i++) {
    kr_file_namespace *fns = &next->namespaces[i];
    kr_namespace *ns = kr_find_namespace(kr, fns->name);
    TV_ENSURE(ns != NULL, TV_E_INTERNAL);
    TV_TRY(kr_wrap(kr, &fns->token_key, new_label, ns->secrets->token_key));
    TV_TRY(kr_wrap(kr, &fns->fingerprint_key, new_label, ns->secrets->fingerprint_key));
    for (uint32_t j = 0; j < next->num_versions; j++) {
      kr_file_version *fv = &next->versions[j];
      if (fv->ns_index != i) {
        continue;
      }
      kr_version *v = kr_find_version(ns, fv->version);
      TV_ENSURE(v != NULL, TV_E_INTERNAL);
      TV_TRY(kr_wrap(kr, &fv->value_key, new_label, ns->secrets->value_keys[v->slot]));
    }
  }
  return TV_OK;
}

static tv_status set_pending(tv_keyring *kr, kr_pending pending, const char *label) {
  kr_file next;
  TV_TRY(kr_file_clone(&next, &kr->file));
  next.pending = (uint8_t)pending;
  snprintf(next.pending_label, sizeof next.pending_label, "%s", label);
  return kr_commit(kr, &next);
}

/* Steps 4 and 5. A KEK that is gone already cannot wrap anything either. */
static tv_status finish_disable(tv_keyring *kr) {
  tv_status status = tv_hsm_kek_disable(kr->hsm, kr->file.pending_label);
  TV_ENSURE(status == TV_OK || status == TV_E_HSM_KEY_NOT_FOUND, status);
  kr_step(kr, "kek.old_disabled");
  TV_TRY(set_pending(kr, KR_PENDING_NONE, ""));
  kr_step(kr, "kek.done");
  return TV_OK;
}

/* Step 3 (the new KEK exists), then 4 and 5. */
static tv_status finish_from_created(tv_keyring *kr) {
  char old_label[TV_HSM_LABEL_MAX + 1];
  char new_label[TV_HSM_LABEL_MAX + 1];
  snprintf(old_label, sizeof old_label, "%s", kr->file.kek_label);
  snprintf(new_label, sizeof new_label, "%s", kr->file.pending_label);
  kr_file next;
  TV_TRY(kr_file_clone(&next, &kr->file));
  tv_status status = rewrap_all(kr, &next, new_label);
  kr_file_old_kek *old = NULL;
  if (status == TV_OK && (old = kr_file_add_old_kek(&next)) == NULL) {
    status = TV_E_NO_MEMORY;
  }
  if (status != TV_OK) {
    kr_file_free(&next);
    return status;
  }
  kr_step(kr, "kek.rewrapped");
  snprintf(old->label, sizeof old->label, "%s", old_label);
  snprintf(next.kek_label, sizeof next.kek_label, "%s", new_label);
  next.pending = KR_PENDING_KEK_DISABLE;
  snprintf(next.pending_label, sizeof next.pending_label, "%s", old_label);
  TV_TRY(kr_commit(kr, &next));
  kr_step(kr, "kek.switched");
  return finish_disable(kr);
}

tv_status kr_kek_rotate(tv_keyring *kr, kr_file *next, const char *new_label) {
  if (kr->file.pending != KR_PENDING_NONE || kr->file.num_old_keks >= TV_KEYRING_OLD_KEKS_MAX) {
    kr_file_free(next);
    return kr->file.pending != KR_PENDING_NONE ? TV_E_KEYRING_ROTATION_PENDING : TV_E_KEYRING_LIMIT;
  }
  next->pending = KR_PENDING_KEK_CREATE;
  snprintf(next->pending_label, sizeof next->pending_label, "%s", new_label);
  TV_TRY(kr_commit(kr, next));
  kr_step(kr, "kek.pending_recorded");
  tv_status status = tv_hsm_kek_create(kr->hsm, new_label);
  if (status == TV_E_HSM_KEY_EXISTS) {
    /* Not ours: someone made a key under that label since the proposal.
     * Never adopt it; roll back. */
    TV_TRY(set_pending(kr, KR_PENDING_NONE, ""));
    return status;
  }
  TV_TRY(status);
  kr_step(kr, "kek.created");
  return finish_from_created(kr);
}

tv_status kr_kek_resume(tv_keyring *kr) {
  if (kr->file.pending == KR_PENDING_KEK_DISABLE) {
    /* Everything is wrapped under the new KEK already: if the old one
     * cannot be disabled now (HSM away aside), the keyring still opens and
     * the step is retried at the next open or approval. */
    tv_status status = finish_disable(kr);
    return status == TV_E_HSM_UNAVAILABLE ? status : TV_OK;
  }
  if (kr->file.pending != KR_PENDING_KEK_CREATE) {
    return TV_OK;
  }
  /* We may have crashed before or after creating it: find or create. */
  tv_status status = tv_hsm_kek_ensure(kr->hsm, kr->file.pending_label, 1);
  if (status == TV_E_HSM_UNAVAILABLE) {
    return status;
  }
  if (status != TV_OK) {
    /* The new KEK cannot be made (or is not safe): everything is still
     * wrapped under the old one, so roll the rotation back. */
    return set_pending(kr, KR_PENDING_NONE, "");
  }
  kr_step(kr, "kek.created");
  status = finish_from_created(kr);
  if (status != TV_OK && status != TV_E_HSM_UNAVAILABLE &&
      kr->file.pending == KR_PENDING_KEK_CREATE) {
    /* The new KEK exists but will not wrap (e.g. disabled meanwhile): the
     * old one still wraps everything, so roll back rather than never open. */
    return set_pending(kr, KR_PENDING_NONE, "");
  }
  return status;
}

tv_status kr_destroy_old_kek(tv_keyring *kr, kr_file *next, const char *label) {
  long index = -1;
  for (uint32_t i = 0; i < next->num_old_keks; i++) {
    if (strcmp(next->old_keks[i].label, label) == 0) {
      index = (long)i;
    }
  }
  if (index < 0 || (kr->file.pending == KR_PENDING_KEK_DISABLE &&
                    strcmp(kr->file.pending_label, label) == 0)) {
    kr_file_free(next);
    return index < 0 ? TV_E_HSM_KEY_NOT_FOUND : TV_E_KEYRING_ROTATION_PENDING;
  }
  /* Destroyed in the HSM first: a crash before the commit leaves the entry
   * and the proposal, and approving again finds the key gone (fine). */
  tv_status status = tv_hsm_kek_destroy(kr->hsm, label);
  if (status != TV_OK && status != TV_E_HSM_KEY_NOT_FOUND) {
    kr_file_free(next);
    return status;
  }
  kr_step(kr, "destroy_kek.hsm_destroyed");
  kr_file_remove_old_kek(next, (size_t)index);
  return kr_commit(kr, next);
}
