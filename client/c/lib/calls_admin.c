/* Key administration, identity and health calls. */
#include <stdlib.h>
#include <string.h>

#include "client/c/lib/client_internal.h"
#include "grpc/health/v1/health.pb-c.h"
#include "tokenvault/v1/tokenvault.pb-c.h"

/* Runs a unary call whose answer is adopted by a new result; |*out_msg|
 * is the decoded response for the caller to read views from. */
static const void *admin_call(tv_client *c, tv_client_result **out_r, const char *method,
                              int idempotent, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *desc, tv_client_code *out_code,
                              tv_client_error *err) {
  if (c == NULL || out_r == NULL) {
    *out_code = tvc_fail(err, TV_CLIENT_E_ARGUMENT, "client and result are required");
    return NULL;
  }
  *out_r = tvc_result_new();
  if (*out_r == NULL) {
    *out_code = tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
    return NULL;
  }
  ProtobufCMessage *resp = NULL;
  tv_client_code code = tvc_unary(c, method, idempotent, req, desc, &resp, err);
  if (code == TV_CLIENT_OK) {
    code = tvc_result_adopt(*out_r, resp, err);
  }
  *out_code = code;
  if (code != TV_CLIENT_OK) {
    tvc_result_done(*out_r, code, out_r);
    return NULL;
  }
  return resp;
}

static void key_view(tv_client_key *k, const Tokenvault__V1__DataKeyInfo *d) {
  k->namespace_name = d->namespace_;
  k->version = d->version;
  k->state = (int)d->state;
  k->created_at_unix_ms = d->created_at_unix_ms;
  k->kek_version = d->kek_version;
}

static void proposal_view(tv_client_proposal *p, const Tokenvault__V1__RotationProposal *d) {
  p->proposal_id = d->proposal_id;
  p->proposed_by = d->proposed_by;
  p->approved_by = d->approved_by;
  p->state = (int)d->state;
  p->proposed_at_unix_ms = d->proposed_at_unix_ms;
  p->expires_at_unix_ms = d->expires_at_unix_ms;
  p->reason = d->reason;
}

/* Gives |r| |n| key views (n may be 0). */
static tv_client_code keys_views(tv_client_result *r, Tokenvault__V1__DataKeyInfo *const *keys,
                                 size_t n, tv_client_result **out, tv_client_error *err) {
  r->owned_->keys = calloc(n > 0 ? n : 1, sizeof *r->owned_->keys);
  if (r->owned_->keys == NULL) {
    return tvc_result_done(r, tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory"), out);
  }
  for (size_t i = 0; i < n; i++) {
    if (keys[i] == NULL) {
      return tvc_result_done(r, tvc_fail(err, TV_CLIENT_E_PROTOCOL, "the server sent an empty key"), out);
    }
    key_view(&r->owned_->keys[i], keys[i]);
  }
  r->keys = r->owned_->keys;
  r->keys_count = n;
  return TV_CLIENT_OK;
}

static tv_client_code proposals_views(tv_client_result *r, Tokenvault__V1__RotationProposal *const *p,
                                      size_t n, tv_client_result **out, tv_client_error *err) {
  r->owned_->proposals = calloc(n > 0 ? n : 1, sizeof *r->owned_->proposals);
  if (r->owned_->proposals == NULL) {
    return tvc_result_done(r, tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory"), out);
  }
  for (size_t i = 0; i < n; i++) {
    if (p[i] == NULL) {
      return tvc_result_done(r, tvc_fail(err, TV_CLIENT_E_PROTOCOL, "the server sent an empty proposal"), out);
    }
    proposal_view(&r->owned_->proposals[i], p[i]);
  }
  r->proposals = r->owned_->proposals;
  r->proposals_count = n;
  return TV_CLIENT_OK;
}

tv_client_code tv_client_keys_list(tv_client *client, tv_client_result **out_result,
                                   const char *namespace_name, tv_client_error *err) {
  Tokenvault__V1__ListKeysRequest req;
  tokenvault__v1__list_keys_request__init(&req);
  req.namespace_ = tvc_mut(tvc_text(namespace_name));
  tv_client_code code;
  const void *m = admin_call(client, out_result, TVC_SERVICE "ListKeys", 1, &req.base,
                     &tokenvault__v1__list_keys_response__descriptor, &code, err);
  if (m == NULL) {
    return code;
  }
  const Tokenvault__V1__ListKeysResponse *l = m;
  return keys_views(*out_result, l->keys, l->n_keys, out_result, err);
}

tv_client_code tv_client_keys_rotate(tv_client *client, tv_client_result **out_result,
                                     const char *namespace_name, const char *reason,
                                     tv_client_error *err) {
  Tokenvault__V1__RotateDataKeyRequest req;
  tokenvault__v1__rotate_data_key_request__init(&req);
  req.namespace_ = tvc_mut(tvc_text(namespace_name));
  req.reason = tvc_mut(tvc_text(reason));
  tv_client_code code;
  const void *m = admin_call(client, out_result, TVC_SERVICE "RotateDataKey", 0, &req.base,
                     &tokenvault__v1__rotate_data_key_response__descriptor, &code, err);
  if (m == NULL) {
    return code;
  }
  const Tokenvault__V1__RotateDataKeyResponse *k = m;
  return keys_views(*out_result, &k->key, 1, out_result, err);
}

tv_client_code tv_client_kek_propose(tv_client *client, tv_client_result **out_result,
                                     const char *reason, tv_client_error *err) {
  Tokenvault__V1__ProposeKekRotationRequest req;
  tokenvault__v1__propose_kek_rotation_request__init(&req);
  req.reason = tvc_mut(tvc_text(reason));
  tv_client_code code;
  const void *m = admin_call(client, out_result, TVC_SERVICE "ProposeKekRotation", 0, &req.base,
                     &tokenvault__v1__propose_kek_rotation_response__descriptor, &code, err);
  if (m == NULL) {
    return code;
  }
  const Tokenvault__V1__ProposeKekRotationResponse *p = m;
  return proposals_views(*out_result, &p->proposal, 1, out_result, err);
}

tv_client_code tv_client_kek_approve(tv_client *client, tv_client_result **out_result,
                                     const char *proposal_id, tv_client_error *err) {
  Tokenvault__V1__ApproveKekRotationRequest req;
  tokenvault__v1__approve_kek_rotation_request__init(&req);
  req.proposal_id = tvc_mut(tvc_text(proposal_id));
  tv_client_code code;
  const void *m = admin_call(client, out_result, TVC_SERVICE "ApproveKekRotation", 0, &req.base,
                     &tokenvault__v1__approve_kek_rotation_response__descriptor, &code, err);
  if (m == NULL) {
    return code;
  }
  const Tokenvault__V1__ApproveKekRotationResponse *p = m;
  return proposals_views(*out_result, &p->proposal, 1, out_result, err);
}

/* Gives |r| a view of each data-key rotation (n may be 0). */
static tv_client_code rotations_views(tv_client_result *r, Tokenvault__V1__DataKeyRotation *const *d, size_t n,
                                      tv_client_result **out, tv_client_error *err) {
  r->owned_->rotations = calloc(n > 0 ? n : 1, sizeof *r->owned_->rotations);
  if (r->owned_->rotations == NULL) {
    return tvc_result_done(r, tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory"), out);
  }
  for (size_t i = 0; i < n; i++) {
    if (d[i] == NULL) {
      return tvc_result_done(r, tvc_fail(err, TV_CLIENT_E_PROTOCOL, "the server sent an empty rotation"), out);
    }
    r->owned_->rotations[i] = (tv_client_rotation){
        .namespace_name = d[i]->namespace_,
        .phase = (int)d[i]->phase,
        .active_version = d[i]->active_version,
        .records_done = d[i]->records_done,
        .records_total = d[i]->records_total,
        .bytes_done = d[i]->bytes_done,
        .bytes_total = d[i]->bytes_total,
        .failed_attempts = d[i]->failed_attempts,
        .last_error = d[i]->last_error,
        .finished_at_unix_ms = d[i]->finished_at_unix_ms,
    };
  }
  r->rotations = r->owned_->rotations;
  r->rotations_count = n;
  return TV_CLIENT_OK;
}

tv_client_code tv_client_rotation_status(tv_client *client, tv_client_result **out_result,
                                         tv_client_error *err) {
  Tokenvault__V1__GetRotationStatusRequest req;
  tokenvault__v1__get_rotation_status_request__init(&req);
  tv_client_code code;
  const void *m = admin_call(client, out_result, TVC_SERVICE "GetRotationStatus", 1, &req.base,
                     &tokenvault__v1__get_rotation_status_response__descriptor, &code, err);
  if (m == NULL) {
    return code;
  }
  const Tokenvault__V1__GetRotationStatusResponse *s = m;
  (*out_result)->kek_version = s->kek_version;
  (*out_result)->data_keys_pending_rewrap = s->data_keys_pending_rewrap;
  code = proposals_views(*out_result, s->proposals, s->n_proposals, out_result, err);
  if (code != TV_CLIENT_OK) {
    return code;
  }
  return rotations_views(*out_result, s->data_key_rotations, s->n_data_key_rotations, out_result, err);
}

tv_client_code tv_client_audit_verify(tv_client *client, tv_client_result **out_result,
                                      uint64_t from_seq, uint64_t to_seq, tv_client_error *err) {
  Tokenvault__V1__VerifyAuditRequest req;
  tokenvault__v1__verify_audit_request__init(&req);
  req.from_seq = from_seq;
  req.to_seq = to_seq;
  tv_client_code code;
  const void *m = admin_call(client, out_result, TVC_SERVICE "VerifyAudit", 1, &req.base,
                     &tokenvault__v1__verify_audit_response__descriptor, &code, err);
  if (m == NULL) {
    return code;
  }
  const Tokenvault__V1__VerifyAuditResponse *v = m;
  tv_client_result *r = *out_result;
  r->audit_intact = v->intact ? 1 : 0;
  r->audit_entries_checked = v->entries_checked;
  r->audit_checkpoints_checked = v->checkpoints_checked;
  r->audit_first_bad_seq = v->first_bad_seq;
  r->audit_problem = v->status != NULL ? v->status->name : "";
  return TV_CLIENT_OK;
}

/* One namespace's view; its versions go to |versions| (room enough). */
static int store_ns_view(tv_client_store_namespace *v, tv_client_key_version_count *versions,
                         const Tokenvault__V1__NamespaceVerification *d) {
  for (size_t i = 0; i < d->n_versions; i++) {
    if (d->versions[i] == NULL) {
      return -1;
    }
    versions[i] = (tv_client_key_version_count){d->versions[i]->key_version, d->versions[i]->records};
  }
  *v = (tv_client_store_namespace){
      .namespace_name = d->namespace_,
      .records = d->records,
      .values = d->values,
      .failed = d->failed,
      .no_key = d->no_key,
      .tombstones = d->tombstones,
      .expired_stubs = d->expired_stubs,
      .versions_count = d->n_versions,
      .versions = versions,
      .other_versions = d->other_versions,
      .failed_tokens_count = d->n_failed_tokens,
      .failed_tokens = (const char *const *)d->failed_tokens,
  };
  return 0;
}

static tv_client_code store_views(tv_client_result *r, const Tokenvault__V1__VerifyStoreResponse *v,
                                  tv_client_result **out, tv_client_error *err) {
  size_t n = v->n_namespaces, total = 0;
  for (size_t i = 0; i < n; i++) {
    if (v->namespaces[i] == NULL) {
      return tvc_result_done(r, tvc_fail(err, TV_CLIENT_E_PROTOCOL, "the server sent an empty namespace"), out);
    }
    total += v->namespaces[i]->n_versions;
  }
  r->owned_->store_namespaces = calloc(n > 0 ? n : 1, sizeof *r->owned_->store_namespaces);
  r->owned_->store_versions = calloc(total > 0 ? total : 1, sizeof *r->owned_->store_versions);
  if (r->owned_->store_namespaces == NULL || r->owned_->store_versions == NULL) {
    return tvc_result_done(r, tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory"), out);
  }
  for (size_t i = 0, at = 0; i < n; at += v->namespaces[i]->n_versions, i++) {
    if (store_ns_view(&r->owned_->store_namespaces[i], r->owned_->store_versions + at, v->namespaces[i]) != 0) {
      return tvc_result_done(r, tvc_fail(err, TV_CLIENT_E_PROTOCOL, "the server sent an empty key version"), out);
    }
  }
  r->store_intact = v->intact ? 1 : 0;
  r->store_namespaces = r->owned_->store_namespaces;
  r->store_namespaces_count = n;
  return TV_CLIENT_OK;
}

tv_client_code tv_client_store_verify(tv_client *client, tv_client_result **out_result, const char *ns,
                                      tv_client_error *err) {
  Tokenvault__V1__VerifyStoreRequest req;
  tokenvault__v1__verify_store_request__init(&req);
  req.namespace_ = tvc_mut(ns != NULL ? ns : "");
  tv_client_code code;
  const void *m = admin_call(client, out_result, TVC_SERVICE "VerifyStore", 1, &req.base,
                     &tokenvault__v1__verify_store_response__descriptor, &code, err);
  if (m == NULL) {
    return code;
  }
  return store_views(*out_result, m, out_result, err);
}

tv_client_code tv_client_health(tv_client *client, tv_client_result **out_result,
                                tv_client_error *err) {
  Grpc__Health__V1__HealthCheckRequest req;
  grpc__health__v1__health_check_request__init(&req);
  req.service = tvc_mut("tokenvault.v1.TokenVault");
  tv_client_code code;
  const void *m = admin_call(client, out_result, TVC_HEALTH_CHECK, 1, &req.base,
                     &grpc__health__v1__health_check_response__descriptor, &code, err);
  if (m == NULL) {
    return code;
  }
  const Grpc__Health__V1__HealthCheckResponse *h = m;
  (*out_result)->serving = h->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
  return TV_CLIENT_OK;
}

tv_client_code tv_client_whoami(tv_client *client, tv_client_result **out_result,
                                tv_client_error *err) {
  Tokenvault__V1__WhoAmIRequest req;
  tokenvault__v1__who_am_irequest__init(&req);
  tv_client_code code;
  const void *m = admin_call(client, out_result, TVC_SERVICE "WhoAmI", 1, &req.base,
                     &tokenvault__v1__who_am_iresponse__descriptor, &code, err);
  if (m == NULL) {
    return code;
  }
  const Tokenvault__V1__WhoAmIResponse *w = m;
  tv_client_result *r = *out_result;
  r->principal = w->principal;
  r->identity_source = w->identity_source;
  r->transport_security = w->transport_security;
  r->authenticated = w->authenticated ? 1 : 0;
  return TV_CLIENT_OK;
}
