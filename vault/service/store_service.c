/* VerifyStore (tokenvault store verify): the running vault checks that
 * every stored value of each namespace authenticates under its key
 * version (tv_engine_verify: a scan of the store, either backend). The
 * answer holds counts and, for failures, tokens — never a value. Needs
 * keys:read on the namespace ("*" for all of them) and is audited like
 * every call. The scan runs on the calling thread: an operator command,
 * as long as the store is large (VerifyAudit does the same). */
#include <stdlib.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/service/authz.h"
#include "vault/service/engine_service.h"
#include "vault/service/svc_call.h"

typedef struct ns_answer {
  tv_verify_report report;
  Tokenvault__V1__NamespaceVerification pb;
  Tokenvault__V1__KeyVersionCount versions[TV_ENGINE_VERIFY_VERSIONS_MAX];
  Tokenvault__V1__KeyVersionCount *version_ptrs[TV_ENGINE_VERIFY_VERSIONS_MAX];
  char *token_ptrs[TV_ENGINE_VERIFY_FAILED_NAMED_MAX];
} ns_answer;

typedef struct verify_store_call {
  svc_call base; /* first: the default cleanup frees the whole call */
  Tokenvault__V1__VerifyStoreResponse resp;
  ns_answer answers[CONFIG_NAMESPACES_MAX];
  Tokenvault__V1__NamespaceVerification *answer_ptrs[CONFIG_NAMESPACES_MAX];
} verify_store_call;

/* Copies |a|'s report into its message (pointers into |a| itself). */
static void fill_answer(ns_answer *a, const char *ns) {
  const tv_verify_report *r = &a->report;
  tokenvault__v1__namespace_verification__init(&a->pb);
  a->pb.namespace_ = (char *)(uintptr_t)ns;
  a->pb.records = r->records;
  a->pb.values = r->values;
  a->pb.failed = r->failed;
  a->pb.no_key = r->no_key;
  a->pb.tombstones = r->tombstones;
  a->pb.expired_stubs = r->expired_stubs;
  a->pb.other_versions = r->other_versions;
  for (size_t i = 0; i < r->num_versions; i++) {
    tokenvault__v1__key_version_count__init(&a->versions[i]);
    a->versions[i].key_version = r->versions[i];
    a->versions[i].records = r->per_version[i];
    a->version_ptrs[i] = &a->versions[i];
  }
  a->pb.n_versions = r->num_versions;
  a->pb.versions = a->version_ptrs;
  for (size_t i = 0; i < r->num_failed_tokens; i++) {
    a->token_ptrs[i] = (char *)(uintptr_t)r->failed_tokens[i];
  }
  a->pb.n_failed_tokens = r->num_failed_tokens;
  a->pb.failed_tokens = a->token_ptrs;
}

/* Verifies namespace |ns| into the next answer. */
static tv_status verify_one(verify_store_call *v, const char *ns) {
  size_t i = v->resp.n_namespaces;
  TV_ENSURE(i < CONFIG_NAMESPACES_MAX, TV_E_INTERNAL);
  ns_answer *a = &v->answers[i];
  TV_TRY(tv_engine_verify(v->base.vault->engine, &a->report, ns));
  fill_answer(a, ns);
  v->answer_ptrs[i] = &a->pb;
  v->resp.n_namespaces = i + 1;
  if (a->report.failed != 0 || a->report.no_key != 0) {
    v->resp.intact = 0;
  }
  return TV_OK;
}

/* |ns| alone, or every namespace of the configuration. */
static tv_status verify_run(verify_store_call *v, const char *ns) {
  v->resp.intact = 1;
  v->resp.namespaces = v->answer_ptrs;
  if (ns != NULL) {
    return verify_one(v, ns);
  }
  const tv_config *config = v->base.vault->config;
  for (size_t i = 0; i < config->namespaces_len; i++) {
    TV_TRY(verify_one(v, config->namespaces[i].name));
  }
  return TV_OK;
}

static void handle_verify_store(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__VerifyStoreRequest *r = (const Tokenvault__V1__VerifyStoreRequest *)request;
  verify_store_call *v = calloc(1, sizeof *v);
  if (v == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  const char *ns = r->namespace_ != NULL && r->namespace_[0] != '\0' ? r->namespace_ : NULL;
  svc_call_begin(&v->base, call, impl, ns, r->request_id, 1);
  if (!svc_authorize_method(&v->base, 0, NULL)) {
    svc_call_end(&v->base); /* refused: audited and answered */
    return;
  }
  tokenvault__v1__verify_store_response__init(&v->resp);
  v->resp.request_id = r->request_id;
  v->base.response = &v->resp.base;
  tv_status st = verify_run(v, ns);
  if (st != TV_OK) {
    svc_call_fail(&v->base, st, NULL);
    return;
  }
  svc_call_end(&v->base);
}

void tv_store_service_fill(tv_service *service, tv_vault *vault) {
  service->handlers[TV_METHOD_VERIFY_STORE] = (tv_handler){handle_verify_store, vault};
}
