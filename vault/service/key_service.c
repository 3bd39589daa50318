/* The key methods of the engine adapter (see engine_service.h): data-key
 * listing and rotation, and the two-officer KEK rotation. The keyring
 * enforces the second officer; this file names the officers (the callers'
 * certificate principals) and shapes the answers. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/service/authz.h"
#include "vault/service/engine_service.h"
#include "vault/service/rotation_worker.h"
#include "vault/service/svc_call.h"

/* GetRotationStatus: every pending proposal and the recent approved ones. */
#define KEK_PROPOSALS_SHOWN_MAX (TV_KEYRING_PROPOSALS_MAX + TV_KEYRING_RECENT_MAX)

typedef Tokenvault__V1__DataKeyInfo key_pb;
typedef Tokenvault__V1__RotationProposal proposal_pb;

/* The KEK label's trailing number ("tokenvault-kek-3" -> 3); 1 if none. */
static uint32_t kek_version_of(const char *label) {
  size_t len = strlen(label), i = len;
  while (i > 0 && isdigit((unsigned char)label[i - 1])) {
    i--;
  }
  return i < len ? (uint32_t)strtoul(label + i, NULL, 10) : 1u;
}

static int known_namespace(const tv_vault *vault, const char *ns) {
  return config_find_namespace(vault->config, ns) != NULL;
}

static void fill_key(key_pb *k, const char *ns, const tv_keyring_version_info *v, uint32_t kek_version) {
  tokenvault__v1__data_key_info__init(k);
  k->namespace_ = (char *)(uintptr_t)ns;
  k->version = v->version;
  k->state = (Tokenvault__V1__KeyState)v->state;
  k->created_at_unix_ms = (int64_t)(v->created_s * 1000u);
  k->kek_version = kek_version;
}

/* ---- ListKeys --------------------------------------------------------- */

typedef struct list_call {
  svc_call base;
  Tokenvault__V1__ListKeysResponse resp;
  tv_keyring_version_info versions[TV_KEYRING_VERSIONS_MAX];
  key_pb *keys;
  key_pb **key_ptrs;
} list_call;

static void list_cleanup(svc_call *c) {
  list_call *l = (list_call *)c;
  free(l->keys);
  free(l->key_ptrs);
  free(l);
}

static tv_status list_run(list_call *l, const char *only) {
  const tv_config *config = l->base.vault->config;
  size_t cap = config->namespaces_len * TV_KEYRING_VERSIONS_MAX, n = 0;
  l->keys = calloc(cap, sizeof *l->keys);
  l->key_ptrs = calloc(cap, sizeof *l->key_ptrs);
  TV_ENSURE(l->keys != NULL && l->key_ptrs != NULL, TV_E_NO_MEMORY);
  char label[TV_HSM_LABEL_MAX + 1];
  TV_TRY(tv_keyring_kek_label(l->base.vault->keyring, label));
  uint32_t kek = kek_version_of(label);
  for (size_t i = 0; i < config->namespaces_len; i++) {
    const char *ns = config->namespaces[i].name;
    if (only[0] != '\0' && strcmp(only, ns) != 0) {
      continue;
    }
    size_t count = 0;
    TV_TRY(tv_keyring_list_versions(l->base.vault->keyring, l->versions, &count, TV_KEYRING_VERSIONS_MAX, ns));
    for (size_t v = 0; v < count && v < TV_KEYRING_VERSIONS_MAX; v++) {
      fill_key(&l->keys[n], ns, &l->versions[v], kek);
      l->key_ptrs[n] = &l->keys[n];
      n++;
    }
  }
  l->resp.n_keys = n;
  l->resp.keys = l->key_ptrs;
  return TV_OK;
}

static void handle_list_keys(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__ListKeysRequest *r = (const Tokenvault__V1__ListKeysRequest *)request;
  list_call *l = calloc(1, sizeof *l);
  if (l == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&l->base, call, impl, r->namespace_, r->request_id, 0);
  l->base.cleanup = list_cleanup;
  tokenvault__v1__list_keys_response__init(&l->resp);
  l->resp.request_id = r->request_id;
  l->base.response = &l->resp.base;
  if (!svc_authorize_method(&l->base, 0, NULL)) {
    svc_call_end(&l->base);
    return;
  }
  if (r->namespace_[0] != '\0' && !known_namespace(impl, r->namespace_)) {
    svc_call_fail(&l->base, TV_E_KEYRING_NAMESPACE, "unknown namespace");
    return;
  }
  tv_status st = list_run(l, r->namespace_);
  if (st != TV_OK) {
    svc_call_fail(&l->base, st, NULL);
    return;
  }
  svc_call_end(&l->base);
}

/* ---- RotateDataKey ---------------------------------------------------- */

typedef struct rotate_call {
  svc_call base;
  Tokenvault__V1__RotateDataKeyResponse resp;
  key_pb key;
  tv_keyring_version_info versions[TV_KEYRING_VERSIONS_MAX];
} rotate_call;

static tv_status rotate_run(rotate_call *rc, const char *ns) {
  tv_keyring *kr = rc->base.vault->keyring;
  uint32_t version = 0;
  size_t count = 0;
  char label[TV_HSM_LABEL_MAX + 1];
  TV_TRY(tv_keyring_rotate_data_key(kr, &version, ns));
  /* The new version is durable: moving the records onto it is the
   * worker's (a failure to queue is harmless, the next start resumes the
   * rotation from the keyring's DECRYPT_ONLY state). */
  if (rc->base.vault->rotation != NULL) {
    (void)tv_rotation_worker_enqueue(rc->base.vault->rotation, ns);
  }
  TV_TRY(tv_keyring_kek_label(kr, label));
  TV_TRY(tv_keyring_list_versions(kr, rc->versions, &count, TV_KEYRING_VERSIONS_MAX, ns));
  for (size_t i = 0; i < count && i < TV_KEYRING_VERSIONS_MAX; i++) {
    if (rc->versions[i].version == version) {
      fill_key(&rc->key, ns, &rc->versions[i], kek_version_of(label));
      rc->resp.key = &rc->key;
    }
  }
  return TV_OK;
}

static void handle_rotate(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__RotateDataKeyRequest *r = (const Tokenvault__V1__RotateDataKeyRequest *)request;
  rotate_call *rc = calloc(1, sizeof *rc);
  if (rc == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&rc->base, call, impl, r->namespace_, r->request_id, 1);
  rc->base.purpose = r->reason;
  tokenvault__v1__rotate_data_key_response__init(&rc->resp);
  rc->resp.request_id = r->request_id;
  rc->base.response = &rc->resp.base;
  if (!svc_authorize_method(&rc->base, 0, NULL)) {
    svc_call_end(&rc->base);
    return;
  }
  if (!known_namespace(impl, r->namespace_)) {
    svc_call_fail(&rc->base, TV_E_KEYRING_NAMESPACE, "unknown namespace");
    return;
  }
  tv_status st = rotate_run(rc, r->namespace_);
  if (st != TV_OK) {
    svc_call_fail(&rc->base, st, NULL);
    return;
  }
  svc_call_end(&rc->base);
}

/* ---- KEK rotation: propose, approve, status --------------------------- */

typedef struct kek_call {
  svc_call base;
  union {
    Tokenvault__V1__ProposeKekRotationResponse propose;
    Tokenvault__V1__ApproveKekRotationResponse approve;
    Tokenvault__V1__GetRotationStatusResponse status;
  } resp;
  /* Pending proposals, then (GetRotationStatus) the recent approved ones. */
  tv_keyring_proposal proposals[KEK_PROPOSALS_SHOWN_MAX];
  proposal_pb pbs[KEK_PROPOSALS_SHOWN_MAX];
  proposal_pb *pb_ptrs[KEK_PROPOSALS_SHOWN_MAX];
  char ids[KEK_PROPOSALS_SHOWN_MAX][24];
  char approver[TV_KEYRING_PRINCIPAL_LEN_MAX + 1];
  tv_rotation_status rotations[TV_ENGINE_NAMESPACES_MAX];
  Tokenvault__V1__DataKeyRotation rotation_pbs[TV_ENGINE_NAMESPACES_MAX];
  Tokenvault__V1__DataKeyRotation *rotation_ptrs[TV_ENGINE_NAMESPACES_MAX];
} kek_call;

static void fill_proposal(kek_call *k, size_t i, Tokenvault__V1__ProposalState state) {
  proposal_pb *p = &k->pbs[i];
  tokenvault__v1__rotation_proposal__init(p);
  snprintf(k->ids[i], sizeof k->ids[i], "%llu", (unsigned long long)k->proposals[i].id);
  p->proposal_id = k->ids[i];
  p->proposed_by = k->proposals[i].proposer;
  /* A recent proposal carries its approver; one approved by this call
   * is named by k->approver. */
  const char *approver = k->proposals[i].approver[0] != '\0' ? k->proposals[i].approver : k->approver;
  p->approved_by = state == TOKENVAULT__V1__PROPOSAL_STATE__PROPOSAL_STATE_APPROVED ? (char *)(uintptr_t)approver
                                                                                    : (char *)(uintptr_t) "";
  p->reason = k->proposals[i].reason;
  p->state = state;
  p->proposed_at_unix_ms = (int64_t)(k->proposals[i].proposed_s * 1000u);
  p->expires_at_unix_ms = p->proposed_at_unix_ms + (int64_t)TV_KEYRING_PROPOSAL_TTL_S_DEFAULT * 1000;
  k->pb_ptrs[i] = p;
}

static kek_call *kek_begin(tv_call *call, void *impl, const char *request_id) {
  kek_call *k = calloc(1, sizeof *k);
  if (k == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return NULL;
  }
  svc_call_begin(&k->base, call, impl, NULL, request_id, 1);
  if (!svc_authorize_method(&k->base, 0, NULL)) {
    svc_call_end(&k->base); /* refused: audited and answered */
    return NULL;
  }
  return k;
}

/* The officer's name, or the call is refused UNAUTHENTICATED. */
static const char *officer(kek_call *k) {
  const char *who = svc_principal(&k->base);
  if (who == NULL) {
    svc_call_fail_code(&k->base, TV_CODE_UNAUTHENTICATED, "key administration needs a client certificate");
  }
  return who;
}

static tv_status propose_run(kek_call *k, const char *who, const char *reason) {
  tv_keyring *kr = k->base.vault->keyring;
  char label[TV_HSM_LABEL_MAX + 1];
  TV_TRY(tv_keyring_kek_label(kr, label));
  tv_keyring_proposal *p = &k->proposals[0];
  memset(p, 0, sizeof *p);
  p->action = TV_KEYRING_ROTATE_KEK;
  /* Kept in the keyring file: card numbers and IBANs never get there. */
  char kept[SVC_FREE_TEXT_BYTES_MAX + 1];
  svc_free_text(kept, reason);
  size_t kept_len = strnlen(kept, TV_KEYRING_REASON_LEN_MAX); /* the keyring keeps this much */
  memcpy(p->reason, kept, kept_len);
  p->reason[kept_len] = '\0';
  int n = snprintf(p->label, sizeof p->label, "tokenvault-kek-%u", kek_version_of(label) + 1u);
  TV_ENSURE(n > 0 && (size_t)n < sizeof p->label, TV_E_INTERNAL);
  uint64_t now_s = svc_now_ms() / 1000u;
  TV_TRY(tv_keyring_propose(kr, &p->id, p, who, now_s));
  snprintf(p->proposer, sizeof p->proposer, "%s", who);
  p->proposed_s = now_s;
  fill_proposal(k, 0, TOKENVAULT__V1__PROPOSAL_STATE__PROPOSAL_STATE_PENDING);
  k->resp.propose.proposal = &k->pbs[0];
  return TV_OK;
}

static void handle_propose(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__ProposeKekRotationRequest *r = (const Tokenvault__V1__ProposeKekRotationRequest *)request;
  kek_call *k = kek_begin(call, impl, r->request_id);
  const char *who = k != NULL ? officer(k) : NULL;
  if (who == NULL) {
    return;
  }
  k->base.purpose = r->reason;
  tokenvault__v1__propose_kek_rotation_response__init(&k->resp.propose);
  k->resp.propose.request_id = r->request_id;
  k->base.response = &k->resp.propose.base;
  tv_status st = propose_run(k, who, r->reason);
  if (st != TV_OK) {
    svc_call_fail(&k->base, st, NULL);
    return;
  }
  svc_call_end(&k->base);
}

static tv_status approve_run(kek_call *k, const char *who, const char *id_text) {
  tv_keyring *kr = k->base.vault->keyring;
  char *end = NULL;
  errno = 0;
  unsigned long long id = strtoull(id_text, &end, 10);
  TV_ENSURE(id_text[0] != '\0' && *end == '\0' && errno == 0, TV_E_KEYRING_PROPOSAL_NOT_FOUND);
  size_t count = 0;
  TV_TRY(tv_keyring_list_proposals(kr, k->proposals, &count, TV_KEYRING_PROPOSALS_MAX));
  size_t at = count;
  for (size_t i = 0; i < count && i < TV_KEYRING_PROPOSALS_MAX; i++) {
    if (k->proposals[i].id == id) {
      at = i;
    }
  }
  TV_ENSURE(at < count && at < TV_KEYRING_PROPOSALS_MAX, TV_E_KEYRING_PROPOSAL_NOT_FOUND);
  TV_TRY(tv_keyring_approve(kr, (uint64_t)id, who, svc_now_ms() / 1000u));
  snprintf(k->approver, sizeof k->approver, "%s", who);
  k->proposals[0] = k->proposals[at];
  fill_proposal(k, 0, TOKENVAULT__V1__PROPOSAL_STATE__PROPOSAL_STATE_APPROVED);
  k->resp.approve.proposal = &k->pbs[0];
  return TV_OK;
}

static void handle_approve(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__ApproveKekRotationRequest *r = (const Tokenvault__V1__ApproveKekRotationRequest *)request;
  kek_call *k = kek_begin(call, impl, r->request_id);
  const char *who = k != NULL ? officer(k) : NULL;
  if (who == NULL) {
    return;
  }
  tokenvault__v1__approve_kek_rotation_response__init(&k->resp.approve);
  k->resp.approve.request_id = r->request_id;
  k->base.response = &k->resp.approve.base;
  tv_status st = approve_run(k, who, r->proposal_id);
  if (st != TV_OK) {
    svc_call_fail(&k->base, st, NULL);
    return;
  }
  svc_call_end(&k->base);
}

_Static_assert((int)TV_ROTATION_QUEUED == (int)TOKENVAULT__V1__ROTATION_PHASE__ROTATION_PHASE_QUEUED &&
                   (int)TV_ROTATION_COMPACTING == (int)TOKENVAULT__V1__ROTATION_PHASE__ROTATION_PHASE_COMPACTING &&
                   (int)TV_ROTATION_RETRYING == (int)TOKENVAULT__V1__ROTATION_PHASE__ROTATION_PHASE_RETRYING,
               "rotation phases are sent as the proto's numbers");

/* The data-key rotations the background worker has run or queued. */
static void fill_rotations(kek_call *k) {
  size_t n = tv_rotation_worker_status(k->base.vault->rotation, k->rotations, TV_ENGINE_NAMESPACES_MAX);
  n = n < TV_ENGINE_NAMESPACES_MAX ? n : TV_ENGINE_NAMESPACES_MAX;
  for (size_t i = 0; i < n; i++) {
    const tv_rotation_status *r = &k->rotations[i];
    Tokenvault__V1__DataKeyRotation *p = &k->rotation_pbs[i];
    tokenvault__v1__data_key_rotation__init(p);
    p->namespace_ = (char *)(uintptr_t)r->ns;
    p->phase = (Tokenvault__V1__RotationPhase)r->phase;
    p->active_version = r->active_version;
    p->records_done = r->records_done;
    p->records_total = r->records_total;
    p->bytes_done = r->bytes_done;
    p->bytes_total = r->bytes_total;
    p->failed_attempts = r->attempts;
    p->last_error = (char *)(uintptr_t)(r->last_error != TV_OK ? tv_status_name(r->last_error) : "");
    p->finished_at_unix_ms = (int64_t)r->finished_ms;
    p->lease_holder = (char *)(uintptr_t)r->lease_holder;
    k->rotation_ptrs[i] = p;
  }
  k->resp.status.n_data_key_rotations = n;
  k->resp.status.data_key_rotations = k->rotation_ptrs;
}

static tv_status status_run(kek_call *k) {
  tv_keyring *kr = k->base.vault->keyring;
  char label[TV_HSM_LABEL_MAX + 1];
  size_t count = 0;
  TV_TRY(tv_keyring_kek_label(kr, label));
  TV_TRY(tv_keyring_list_proposals(kr, k->proposals, &count, TV_KEYRING_PROPOSALS_MAX));
  if (count > TV_KEYRING_PROPOSALS_MAX) {
    count = TV_KEYRING_PROPOSALS_MAX;
  }
  for (size_t i = 0; i < count; i++) {
    fill_proposal(k, i, TOKENVAULT__V1__PROPOSAL_STATE__PROPOSAL_STATE_PENDING);
  }
  /* "Pending and recent": the last approved ones, from the keyring file. */
  size_t recent = 0;
  TV_TRY(tv_keyring_list_recent(kr, k->proposals + count, &recent, TV_KEYRING_RECENT_MAX));
  recent = recent < TV_KEYRING_RECENT_MAX ? recent : TV_KEYRING_RECENT_MAX;
  for (size_t i = count; i < count + recent; i++) {
    fill_proposal(k, i, TOKENVAULT__V1__PROPOSAL_STATE__PROPOSAL_STATE_APPROVED);
  }
  count += recent;
  k->resp.status.kek_version = kek_version_of(label);
  k->resp.status.n_proposals = count;
  k->resp.status.proposals = k->pb_ptrs;
  fill_rotations(k);
  return TV_OK;
}

static void handle_status(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__GetRotationStatusRequest *r = (const Tokenvault__V1__GetRotationStatusRequest *)request;
  kek_call *k = kek_begin(call, impl, r->request_id);
  if (k == NULL) {
    return;
  }
  tokenvault__v1__get_rotation_status_response__init(&k->resp.status);
  k->resp.status.request_id = r->request_id;
  k->base.response = &k->resp.status.base;
  tv_status st = status_run(k);
  if (st != TV_OK) {
    svc_call_fail(&k->base, st, NULL);
    return;
  }
  svc_call_end(&k->base);
}

void tv_key_service_fill(tv_service *service, tv_vault *vault) {
  service->handlers[TV_METHOD_LIST_KEYS] = (tv_handler){handle_list_keys, vault};
  service->handlers[TV_METHOD_ROTATE_DATA_KEY] = (tv_handler){handle_rotate, vault};
  service->handlers[TV_METHOD_PROPOSE_KEK_ROTATION] = (tv_handler){handle_propose, vault};
  service->handlers[TV_METHOD_APPROVE_KEK_ROTATION] = (tv_handler){handle_approve, vault};
  service->handlers[TV_METHOD_GET_ROTATION_STATUS] = (tv_handler){handle_status, vault};
}
