/* The two-person rule: KEK rotation and every destruction are proposed by
 * one security officer and carried out only when a different officer
 * approves within the proposal's lifetime. Proposals live in the keyring
 * file, so they survive restarts and are covered by its MAC. */
#include <stdio.h>
#include <string.h>

#include "vault/keyring/kr_internal.h"

static int text_valid(const char *s, size_t len_max) {
  if (s == NULL) {
    return 0;
  }
  size_t len = strlen(s);
  if (len == 0 || len > len_max) {
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    if (s[i] < 0x20 || s[i] > 0x7e) {
      return 0;
    }
  }
  return 1;
}

static int is_expired(const tv_keyring *kr, const tv_keyring_proposal *p, uint64_t now_s) {
  return now_s > p->proposed_s && now_s - p->proposed_s > kr->proposal_ttl_s;
}

static tv_status check_rotate_kek(tv_keyring *kr, const char *label) {
  TV_ENSURE(text_valid(label, TV_HSM_LABEL_MAX), TV_E_INVALID_ARGUMENT);
  TV_ENSURE(kr->file.pending == KR_PENDING_NONE, TV_E_KEYRING_ROTATION_PENDING);
  TV_ENSURE(kr->file.num_old_keks < TV_KEYRING_OLD_KEKS_MAX, TV_E_KEYRING_LIMIT);
  TV_ENSURE(strcmp(label, kr->file.kek_label) != 0, TV_E_HSM_KEY_EXISTS);
  for (uint32_t i = 0; i < kr->file.num_old_keks; i++) {
    TV_ENSURE(strcmp(label, kr->file.old_keks[i].label) != 0, TV_E_HSM_KEY_EXISTS);
  }
  /* The new KEK must be made by the rotation itself, never adopted. */
  tv_status status = tv_hsm_kek_ensure(kr->hsm, label, 0);
  TV_ENSURE(status != TV_OK, TV_E_HSM_KEY_EXISTS);
  TV_ENSURE(status == TV_E_HSM_KEY_NOT_FOUND, status);
  return TV_OK;
}

static tv_status check_target(tv_keyring *kr, const tv_keyring_proposal *p) {
  switch (p->action) {
    case TV_KEYRING_ROTATE_KEK:
      return check_rotate_kek(kr, p->label);
    case TV_KEYRING_DESTROY_VERSION: {
      kr_namespace *ns = kr_find_namespace(kr, p->name);
      TV_ENSURE(ns != NULL, TV_E_KEYRING_NAMESPACE);
      kr_version *v = kr_find_version(ns, p->version);
      TV_ENSURE(v != NULL, TV_E_KEYRING_KEY_VERSION);
      TV_ENSURE(atomic_load(&v->state) == TV_KEY_RETIRED, TV_E_KEYRING_KEY_STATE);
      return TV_OK;
    }
    case TV_KEYRING_DESTROY_OLD_KEK:
      for (uint32_t i = 0; i < kr->file.num_old_keks; i++) {
        if (strcmp(kr->file.old_keks[i].label, p->label) == 0) {
          return TV_OK;
        }
      }
      return TV_E_HSM_KEY_NOT_FOUND;
  }
  return TV_E_INVALID_ARGUMENT;
}

static void drop_expired(const tv_keyring *kr, kr_file *next, uint64_t now_s) {
  for (uint32_t i = next->num_proposals; i > 0; i--) {
    if (is_expired(kr, &next->proposals[i - 1], now_s)) {
      kr_file_remove_proposal(next, i - 1);
    }
  }
}

/* The file keeps printable ASCII: other bytes become '?'. */
static void keep_reason(char out[TV_KEYRING_REASON_LEN_MAX + 1], const char *reason) {
  size_t n = strnlen(reason, TV_KEYRING_REASON_LEN_MAX);
  for (size_t i = 0; i < n; i++) {
    out[i] = reason[i] >= 0x20 && reason[i] <= 0x7e ? reason[i] : '?';
  }
  out[n] = '\0';
}

static tv_status propose_locked(tv_keyring *kr, uint64_t *out_id, const tv_keyring_proposal *in,
                                const char *proposer, uint64_t now_s) {
  TV_TRY(check_target(kr, in));
  kr_file next;
  TV_TRY(kr_file_clone(&next, &kr->file));
  drop_expired(kr, &next, now_s);
  int full = next.num_proposals >= TV_KEYRING_PROPOSALS_MAX;
  tv_keyring_proposal *p = full ? NULL : kr_file_add_proposal(&next);
  if (p == NULL) {
    kr_file_free(&next);
    return full ? TV_E_KEYRING_LIMIT : TV_E_NO_MEMORY;
  }
  p->id = next.next_proposal_id++;
  p->action = in->action;
  snprintf(p->proposer, sizeof p->proposer, "%s", proposer);
  p->proposed_s = now_s;
  p->version = in->action == TV_KEYRING_DESTROY_VERSION ? in->version : 0;
  snprintf(p->name, sizeof p->name, "%s", in->action == TV_KEYRING_DESTROY_VERSION ? in->name : "");
  snprintf(p->label, sizeof p->label, "%s", in->action == TV_KEYRING_DESTROY_VERSION ? "" : in->label);
  keep_reason(p->reason, in->reason);
  uint64_t id = p->id;
  TV_TRY(kr_commit(kr, &next));
  *out_id = id;
  return TV_OK;
}

tv_status tv_keyring_propose(tv_keyring *keyring, uint64_t *out_id,
                             const tv_keyring_proposal *proposal, const char *proposer,
                             uint64_t now_s) {
  TV_ENSURE(keyring != NULL && out_id != NULL && proposal != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(text_valid(proposer, TV_KEYRING_PRINCIPAL_LEN_MAX), TV_E_INVALID_ARGUMENT);
  TV_ENSURE(proposal->action != TV_KEYRING_DESTROY_VERSION ||
                kr_namespace_name_valid(proposal->name),
            TV_E_KEYRING_NAMESPACE);
  pthread_mutex_lock(&keyring->mu);
  tv_status status;
  KR_CHANGE(keyring, status, propose_locked(keyring, out_id, proposal, proposer, now_s));
  pthread_mutex_unlock(&keyring->mu);
  return status;
}

static tv_status carry_out(tv_keyring *kr, kr_file *next, const tv_keyring_proposal *p) {
  switch (p->action) {
    case TV_KEYRING_ROTATE_KEK:
      return kr_kek_rotate(kr, next, p->label);
    case TV_KEYRING_DESTROY_VERSION:
      return kr_destroy_version(kr, next, p->name, p->version);
    case TV_KEYRING_DESTROY_OLD_KEK:
      return kr_destroy_old_kek(kr, next, p->label);
  }
  kr_file_free(next);
  return TV_E_INTERNAL;
}

static tv_status approve_locked(tv_keyring *kr, uint64_t id, const char *approver,
                                uint64_t now_s) {
  /* A rotation that an HSM failure interrupted is finished first. */
  if (kr->file.pending != KR_PENDING_NONE) {
    TV_TRY(kr_kek_resume(kr));
  }
  long index = kr_file_find_proposal(&kr->file, id);
  TV_ENSURE(index >= 0, TV_E_KEYRING_PROPOSAL_NOT_FOUND);
  tv_keyring_proposal p = kr->file.proposals[index];
  TV_ENSURE(strcmp(p.proposer, approver) != 0, TV_E_KEYRING_SAME_OFFICER);
  kr_file next;
  TV_TRY(kr_file_clone(&next, &kr->file));
  kr_file_remove_proposal(&next, (size_t)index);
  if (is_expired(kr, &p, now_s)) {
    TV_TRY(kr_commit(kr, &next));
    return TV_E_KEYRING_PROPOSAL_EXPIRED;
  }
  /* The world may have changed since the proposal: check again. */
  tv_status status = check_target(kr, &p);
  if (status == TV_OK) {
    /* Kept as recent with the change itself: committed together. */
    snprintf(p.approver, sizeof p.approver, "%s", approver);
    p.approved_s = now_s;
    status = kr_file_add_recent(&next, &p);
  }
  if (status != TV_OK) {
    kr_file_free(&next);
    return status;
  }
  return carry_out(kr, &next, &p);
}

/* With a shared keyring another node may commit between the steps of a
 * KEK rotation (e.g. a data-key rotation): the step that lost the swap is
 * redone on the newer document. Once the approval itself is durable (the
 * proposal is gone from the document and listed as recent) what is left
 * is the pending rotation, finished as an open would finish it. */
static tv_status approve_or_finish(tv_keyring *kr, uint64_t id, const char *approver, uint64_t now_s) {
  int consumed = kr_file_find_proposal(&kr->file, id) < 0;
  for (uint32_t i = 0; consumed && i < kr->file.num_recent; i++) {
    const tv_keyring_proposal *p = &kr->file.recent[i];
    if (p->id == id && strcmp(p->approver, approver) == 0 && kr->file.pending != KR_PENDING_NONE) {
      return kr_kek_resume(kr);
    }
  }
  return approve_locked(kr, id, approver, now_s);
}

tv_status tv_keyring_approve(tv_keyring *keyring, uint64_t id, const char *approver,
                             uint64_t now_s) {
  TV_ENSURE(keyring != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(text_valid(approver, TV_KEYRING_PRINCIPAL_LEN_MAX), TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&keyring->mu);
  tv_status status;
  KR_CHANGE(keyring, status, approve_or_finish(keyring, id, approver, now_s));
  pthread_mutex_unlock(&keyring->mu);
  return status;
}

tv_status tv_keyring_list_recent(tv_keyring *keyring, tv_keyring_proposal *out, size_t *out_count,
                                 size_t out_max) {
  TV_ENSURE(keyring != NULL && out_count != NULL && (out != NULL || out_max == 0), TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&keyring->mu);
  /* An officer asks the fleet, not this node: the newest document (a
   * database that is away leaves the last verified one). */
  (void)kr_refresh_locked(keyring);
  for (uint32_t i = 0; i < keyring->file.num_recent && i < out_max; i++) {
    out[i] = keyring->file.recent[i];
  }
  *out_count = keyring->file.num_recent;
  pthread_mutex_unlock(&keyring->mu);
  return TV_OK;
}

tv_status tv_keyring_list_proposals(tv_keyring *keyring, tv_keyring_proposal *out,
                                    size_t *out_count, size_t out_max) {
  TV_ENSURE(keyring != NULL && out_count != NULL && (out != NULL || out_max == 0),
            TV_E_INVALID_ARGUMENT);
  pthread_mutex_lock(&keyring->mu);
  (void)kr_refresh_locked(keyring); /* as in tv_keyring_list_recent */
  for (uint32_t i = 0; i < keyring->file.num_proposals && i < out_max; i++) {
    out[i] = keyring->file.proposals[i];
  }
  *out_count = keyring->file.num_proposals;
  pthread_mutex_unlock(&keyring->mu);
  return TV_OK;
}
