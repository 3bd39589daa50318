/* The data methods of the engine adapter (see engine_service.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/service/authz.h"
#include "vault/service/engine_service.h"
#include "vault/service/metadata_check.h"
#include "vault/service/svc_call.h"
#include "vault/service/tokenize_meter.h"
#include "vault/service/vault_core.h"
#include "vault/util/expiry.h"
#include "vault/util/secure_mem.h"

typedef Tokenvault__V1__ItemStatus item_status_pb;

/* A batch whose every item failed with one store fault fails as a whole
 * (tv_item_fault): a COMMIT's answer may have been lost, so "no item was
 * acknowledged" rather than "nothing was stored". */
#define STORE_FAULT_DETAIL "the store's database is unreachable or too slow: no item was acknowledged; retry"

static void set_item_status(item_status_pb *st, tv_status code) {
  tokenvault__v1__item_status__init(st);
  st->code = (uint32_t)code;
  st->name = (char *)(uintptr_t)tv_status_name(code);
  st->message = (char *)(uintptr_t)tv_status_message(code);
}

static void unknown_namespace(svc_call *c, tv_status st) {
  if (st == TV_E_ENGINE_NAMESPACE) {
    char msg[128];
    snprintf(msg, sizeof msg, "unknown namespace '%s'", c->ns != NULL ? c->ns : "");
    svc_call_fail(c, st, msg);
  } else {
    svc_call_fail(c, st, NULL);
  }
}

/* Metadata map -> engine bytes: key 0x1f value 0x1e per entry (neither
 * byte is printable, so entries split back unambiguously). */
static tv_status encode_metadata(uint8_t *out, size_t *out_len, const Tokenvault__V1__TokenizeRequest *req) {
  size_t len = 0;
  for (size_t i = 0; i < req->n_metadata; i++) {
    size_t k = strlen(req->metadata[i]->key), v = strlen(req->metadata[i]->value);
    if (len + k + v + 2 > TV_ENGINE_METADATA_LEN_MAX) {
      return TV_E_ENGINE_METADATA_TOO_LARGE;
    }
    memcpy(out + len, req->metadata[i]->key, k);
    out[len + k] = 0x1f;
    memcpy(out + len + k + 1, req->metadata[i]->value, v);
    out[len + k + 1 + v] = 0x1e;
    len += k + v + 2;
  }
  *out_len = len;
  return TV_OK;
}

/* ---- Tokenize --------------------------------------------------------- */

typedef struct tok_call {
  svc_call base;
  tv_tokenize_req req;
  tv_tokenize_item *items;
  Tokenvault__V1__TokenizeResponse resp;
  Tokenvault__V1__TokenizeResult *results;
  Tokenvault__V1__TokenizeResult **result_ptrs;
  item_status_pb *statuses;
  uint8_t metadata[TV_ENGINE_METADATA_LEN_MAX];
  const Tokenvault__V1__TokenizeRequest *request;
  svc_tokenize_meter meter; /* new tokens per kept group (tokenize_meter.h) */
} tok_call;

/* Overwrites a request string that held a value once it is no longer
 * needed: the decoded request is ours until the call finishes, and no
 * one reads the values after the engine is done with them. */
static void wipe_request_text(const char *text) {
  tv_wipe((void *)(uintptr_t)text, strlen(text));
}

static void tok_cleanup(svc_call *c) {
  tok_call *t = (tok_call *)c;
  free(t->items);
  free(t->results);
  free(t->result_ptrs);
  free(t->statuses);
  free(t);
}

/* Engine completion (store thread): every item is final and durable. */
static void tok_done(tv_tokenize_req *req) {
  tok_call *t = req->user;
  tv_item_fault fault = {0};
  for (size_t i = 0; i < req->num_items; i++) {
    tv_item_fault_add(&fault, t->items[i].status);
    tokenvault__v1__tokenize_result__init(&t->results[i]);
    set_item_status(&t->statuses[i], t->items[i].status);
    tv_item_outcome_add(&t->base.outcome, t->items[i].status);
    t->results[i].token = t->items[i].status == TV_OK ? t->items[i].token : (char *)(uintptr_t) "";
    t->results[i].status = &t->statuses[i];
    t->result_ptrs[i] = &t->results[i];
  }
  t->resp.n_results = req->num_items;
  t->resp.results = t->result_ptrs;
  for (size_t i = 0; i < t->request->n_values; i++) {
    wipe_request_text(t->request->values[i]);
  }
  if (tv_item_fault_whole(&fault) != TV_OK) {
    svc_call_fail(&t->base, tv_item_fault_whole(&fault), STORE_FAULT_DETAIL);
    return;
  }
  svc_call_end(&t->base);
}

static tv_status tok_prepare(tok_call *t, const Tokenvault__V1__TokenizeRequest *r) {
  size_t n = r->n_values, meta_len = 0;
  TV_TRY(encode_metadata(t->metadata, &meta_len, r));
  uint64_t ttl_ms = 0, expires_ms = 0;
  /* Range-checked before any arithmetic; the sentence names the field. */
  if (r->expiry_case == TOKENVAULT__V1__TOKENIZE_REQUEST__EXPIRY_TTL_SECONDS) {
    TV_TRY(tv_ttl_seconds_to_ms(r->ttl_seconds, &ttl_ms, t->base.detail, sizeof t->base.detail));
  } else if (r->expiry_case == TOKENVAULT__V1__TOKENIZE_REQUEST__EXPIRY_EXPIRES_AT_UNIX_MS) {
    TV_TRY(tv_expires_at_check(r->expires_at_unix_ms, svc_now_ms(), t->base.detail, sizeof t->base.detail));
    expires_ms = (uint64_t)r->expires_at_unix_ms;
  }
  t->items = calloc(n, sizeof *t->items);
  t->results = calloc(n, sizeof *t->results);
  t->result_ptrs = calloc(n, sizeof *t->result_ptrs);
  t->statuses = calloc(n, sizeof *t->statuses);
  TV_ENSURE(t->items != NULL && t->results != NULL && t->result_ptrs != NULL && t->statuses != NULL,
            TV_E_NO_MEMORY);
  for (size_t i = 0; i < n; i++) {
    t->items[i].value = r->values[i];
    t->items[i].value_len = strlen(r->values[i]);
    t->items[i].ttl_ms = ttl_ms;
    t->items[i].expires_ms = expires_ms;
    t->items[i].metadata = t->metadata;
    t->items[i].metadata_len = meta_len;
  }
  return TV_OK;
}

static void handle_tokenize_one(void *impl, tv_call *call, const ProtobufCMessage *request, int stream) {
  const Tokenvault__V1__TokenizeRequest *r = (const Tokenvault__V1__TokenizeRequest *)request;
  tok_call *t = calloc(1, sizeof *t);
  if (t == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&t->base, call, impl, r->namespace_, r->request_id, r->n_values);
  t->base.counted = 1;
  t->base.cleanup = tok_cleanup;
  t->base.stream = stream;
  t->request = r;
  tokenvault__v1__tokenize_response__init(&t->resp);
  t->resp.request_id = r->request_id;
  t->base.response = &t->resp.base;
  uint64_t group_limit = 0;
  if (!svc_authorize_tokenize(&t->base, &group_limit)) {
    for (size_t i = 0; i < r->n_values; i++) {
      wipe_request_text(r->values[i]); /* refused values are not kept either */
    }
    svc_call_end(&t->base); /* refused before any engine work: audited and answered */
    return;
  }
  char why[sizeof t->base.detail];
  if (tv_metadata_check(r, why, sizeof why) != TV_OK) {
    for (size_t i = 0; i < r->n_values; i++) {
      wipe_request_text(r->values[i]);
    }
    svc_call_fail(&t->base, TV_E_INVALID_ARGUMENT, why);
    return;
  }
  if (r->n_values == 0) {
    svc_call_end(&t->base); /* nothing to do: an empty answer */
    return;
  }
  tv_status st = tok_prepare(t, r);
  if (st == TV_OK) {
    t->req = (tv_tokenize_req){.ns = r->namespace_, .items = t->items, .num_items = r->n_values,
                               .done = tok_done, .user = t,
                               .meter = svc_tokenize_meter_init(&t->meter, &t->base, group_limit)};
    st = tv_engine_tokenize_submit(t->base.vault->engine, &t->req);
  }
  if (st == TV_E_INVALID_ARGUMENT && t->base.detail[0] != '\0') {
    for (size_t i = 0; i < r->n_values; i++) {
      wipe_request_text(r->values[i]);
    }
    char named[sizeof t->base.detail];
    snprintf(named, sizeof named, "%s", t->base.detail);
    svc_call_fail(&t->base, st, named); /* an expiry out of range, named */
  } else if (st != TV_OK) {
    unknown_namespace(&t->base, st);
  }
}

/* ---- Detokenize ------------------------------------------------------- */

typedef struct detok_call {
  svc_call base;
  tv_detokenize_item *items; /* hold plaintext: wiped in cleanup */
  size_t num_items;
  Tokenvault__V1__DetokenizeResponse resp;
  Tokenvault__V1__DetokenizeResult *results;
  Tokenvault__V1__DetokenizeResult **result_ptrs;
  item_status_pb *statuses;
} detok_call;

static void detok_cleanup(svc_call *c) {
  detok_call *d = (detok_call *)c;
  if (d->items != NULL) {
    tv_wipe(d->items, d->num_items * sizeof *d->items);
  }
  free(d->items);
  free(d->results);
  free(d->result_ptrs);
  free(d->statuses);
  free(d);
}

/* The reveal level as the audit line names it. */
static const char *reveal_name(Tokenvault__V1__Reveal r) {
  switch (r) {
    case TOKENVAULT__V1__REVEAL__REVEAL_FULL: return "FULL";
    case TOKENVAULT__V1__REVEAL__REVEAL_MASKED: return "MASKED";
    default: return "NONE";
  }
}

static tv_reveal reveal_of(Tokenvault__V1__Reveal r) {
  switch (r) {
    case TOKENVAULT__V1__REVEAL__REVEAL_FULL: return TV_REVEAL_FULL;
    case TOKENVAULT__V1__REVEAL__REVEAL_MASKED: return TV_REVEAL_MASKED;
    default: return TV_REVEAL_NONE;
  }
}

static tv_status detok_run(detok_call *d, const Tokenvault__V1__DetokenizeRequest *r) {
  size_t n = r->n_tokens;
  d->items = calloc(n, sizeof *d->items);
  d->results = calloc(n, sizeof *d->results);
  d->result_ptrs = calloc(n, sizeof *d->result_ptrs);
  d->statuses = calloc(n, sizeof *d->statuses);
  TV_ENSURE(d->items != NULL && d->results != NULL && d->result_ptrs != NULL && d->statuses != NULL,
            TV_E_NO_MEMORY);
  d->num_items = n;
  for (size_t i = 0; i < n; i++) {
    d->items[i].token = r->tokens[i];
    d->items[i].token_len = strlen(r->tokens[i]);
  }
  TV_TRY(tv_engine_detokenize(d->base.vault->engine, r->namespace_, d->items, n, reveal_of(r->reveal)));
  for (size_t i = 0; i < n; i++) {
    tokenvault__v1__detokenize_result__init(&d->results[i]);
    set_item_status(&d->statuses[i], d->items[i].status);
    tv_item_outcome_add(&d->base.outcome, d->items[i].status);
    d->items[i].value[d->items[i].value_len] = '\0';
    d->results[i].value = d->items[i].status == TV_OK ? d->items[i].value : (char *)(uintptr_t) "";
    d->results[i].status = &d->statuses[i];
    d->result_ptrs[i] = &d->results[i];
  }
  d->resp.n_results = n;
  d->resp.results = d->result_ptrs;
  return TV_OK;
}

static void handle_detokenize_one(void *impl, tv_call *call, const ProtobufCMessage *request, int stream) {
  const Tokenvault__V1__DetokenizeRequest *r = (const Tokenvault__V1__DetokenizeRequest *)request;
  detok_call *d = calloc(1, sizeof *d);
  if (d == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&d->base, call, impl, r->namespace_, r->request_id, r->n_tokens);
  d->base.cleanup = detok_cleanup;
  d->base.stream = stream;
  d->base.counted = 1;
  d->base.reveal = reveal_name(r->reveal);
  d->base.purpose = r->reason; /* every level: the log says why, whenever told */
  tokenvault__v1__detokenize_response__init(&d->resp);
  d->resp.request_id = r->request_id;
  d->base.response = &d->resp.base;
  if (!svc_authorize_method(&d->base, r->reveal == TOKENVAULT__V1__REVEAL__REVEAL_FULL, r->reason)) {
    svc_call_end(&d->base);
    return;
  }
  tv_status st = r->n_tokens == 0 ? TV_OK : detok_run(d, r);
  if (st != TV_OK) {
    unknown_namespace(&d->base, st);
    return;
  }
  svc_call_end(&d->base);
}

/* ---- DeleteTokens ----------------------------------------------------- */

typedef struct del_call {
  svc_call base;
  tv_delete_req req;
  const char **tokens;
  size_t *lens;
  tv_status *statuses;
  Tokenvault__V1__DeleteTokensResponse resp;
  item_status_pb *results;
  item_status_pb **result_ptrs;
} del_call;

static void del_cleanup(svc_call *c) {
  del_call *d = (del_call *)c;
  free(d->tokens);
  free(d->lens);
  free(d->statuses);
  free(d->results);
  free(d->result_ptrs);
  free(d);
}

static void del_done(tv_delete_req *req) {
  del_call *d = req->user;
  tv_item_fault fault = {0};
  for (size_t i = 0; i < req->num_tokens; i++) {
    tv_item_fault_add(&fault, d->statuses[i]);
    set_item_status(&d->results[i], d->statuses[i]);
    tv_item_outcome_add(&d->base.outcome, d->statuses[i]);
    d->result_ptrs[i] = &d->results[i];
  }
  d->resp.n_results = req->num_tokens;
  d->resp.results = d->result_ptrs;
  if (tv_item_fault_whole(&fault) != TV_OK) {
    svc_call_fail(&d->base, tv_item_fault_whole(&fault), STORE_FAULT_DETAIL);
    return;
  }
  svc_call_end(&d->base);
}

static tv_status del_submit(del_call *d, const Tokenvault__V1__DeleteTokensRequest *r) {
  size_t n = r->n_tokens;
  d->tokens = calloc(n, sizeof *d->tokens);
  d->lens = calloc(n, sizeof *d->lens);
  d->statuses = calloc(n, sizeof *d->statuses);
  d->results = calloc(n, sizeof *d->results);
  d->result_ptrs = calloc(n, sizeof *d->result_ptrs);
  TV_ENSURE(d->tokens != NULL && d->lens != NULL && d->statuses != NULL && d->results != NULL &&
                d->result_ptrs != NULL,
            TV_E_NO_MEMORY);
  for (size_t i = 0; i < n; i++) {
    d->tokens[i] = r->tokens[i];
    d->lens[i] = strlen(r->tokens[i]);
  }
  d->req = (tv_delete_req){.ns = r->namespace_, .tokens = d->tokens, .token_lens = d->lens,
                           .out_statuses = d->statuses, .num_tokens = n, .done = del_done, .user = d};
  return tv_engine_delete_submit(d->base.vault->engine, &d->req);
}

static void handle_delete(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__DeleteTokensRequest *r = (const Tokenvault__V1__DeleteTokensRequest *)request;
  del_call *d = calloc(1, sizeof *d);
  if (d == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&d->base, call, impl, r->namespace_, r->request_id, r->n_tokens);
  d->base.cleanup = del_cleanup;
  d->base.counted = 1;
  d->base.purpose = r->reason;
  tokenvault__v1__delete_tokens_response__init(&d->resp);
  d->resp.request_id = r->request_id;
  d->base.response = &d->resp.base;
  if (!svc_authorize_method(&d->base, 0, NULL)) {
    svc_call_end(&d->base);
    return;
  }
  if (r->n_tokens == 0) {
    svc_call_end(&d->base);
    return;
  }
  tv_status st = del_submit(d, r);
  if (st != TV_OK) {
    unknown_namespace(&d->base, st);
  }
}

/* ---- EraseValue ------------------------------------------------------- */

typedef struct erase_call {
  svc_call base;
  Tokenvault__V1__EraseValueResponse resp;
} erase_call;

/* Blocks this worker until the tombstones are durable: erasure is rare and
 * the engine has no asynchronous form of it. */
static void handle_erase(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__EraseValueRequest *r = (const Tokenvault__V1__EraseValueRequest *)request;
  erase_call *e = calloc(1, sizeof *e);
  if (e == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&e->base, call, impl, r->namespace_, r->request_id, 1);
  e->base.counted = 1;
  e->base.purpose = r->reason;
  tokenvault__v1__erase_value_response__init(&e->resp);
  e->resp.request_id = r->request_id;
  e->base.response = &e->resp.base;
  if (!svc_authorize_method(&e->base, 0, NULL)) {
    wipe_request_text(r->value); /* before the end: the request goes with the call */
    svc_call_end(&e->base);
    return;
  }
  size_t erased = 0;
  tv_status st = tv_engine_erase_value(e->base.vault->engine, &erased, r->namespace_, r->value, strlen(r->value));
  wipe_request_text(r->value);
  if (st != TV_OK) {
    unknown_namespace(&e->base, st);
    return;
  }
  e->resp.tokens_erased = erased;
  e->base.outcome.ok = 1; /* the one item, the value: erased (0 tokens is still an answer) */
  svc_call_end(&e->base);
}

/* ---- GetTokenInfo ----------------------------------------------------- */

typedef Tokenvault__V1__TokenInfo__MetadataEntry meta_pb;

typedef struct info_call {
  svc_call base;
  Tokenvault__V1__GetTokenInfoResponse resp;
  Tokenvault__V1__TokenInfo *infos;
  Tokenvault__V1__TokenInfo **info_ptrs;
  item_status_pb *statuses;
  tv_token_info *raw;
  /* Metadata decoded in place: key/value strings inside raw[i].metadata
   * (plus one NUL), entries at most metadata_len / 2 per token. */
  char (*text)[TV_ENGINE_METADATA_LEN_MAX + 1];
  meta_pb (*entries)[TV_ENGINE_METADATA_LEN_MAX / 2];
  meta_pb *(*entry_ptrs)[TV_ENGINE_METADATA_LEN_MAX / 2];
  size_t num_items;
} info_call;

static void info_cleanup(svc_call *c) {
  info_call *f = (info_call *)c;
  free(f->infos);
  free(f->info_ptrs);
  free(f->statuses);
  free(f->raw);
  free(f->text);
  free(f->entries);
  free(f->entry_ptrs);
  free(f);
}

static void decode_metadata(info_call *f, size_t i) {
  Tokenvault__V1__TokenInfo *info = &f->infos[i];
  char *text = f->text[i];
  memcpy(text, f->raw[i].metadata, f->raw[i].metadata_len);
  text[f->raw[i].metadata_len] = '\0';
  size_t n = 0;
  char *p = text, *end = text + f->raw[i].metadata_len;
  while (p < end && n < TV_ENGINE_METADATA_LEN_MAX / 2) {
    char *sep = memchr(p, 0x1f, (size_t)(end - p));
    char *rec = sep != NULL ? memchr(sep, 0x1e, (size_t)(end - sep)) : NULL;
    if (rec == NULL) {
      break; /* not ours: show nothing rather than guess */
    }
    *sep = '\0';
    *rec = '\0';
    meta_pb *m = &f->entries[i][n];
    tokenvault__v1__token_info__metadata_entry__init(m);
    m->key = p;
    m->value = sep + 1;
    f->entry_ptrs[i][n++] = m;
    p = rec + 1;
  }
  info->n_metadata = n;
  info->metadata = f->entry_ptrs[i];
}

static tv_status info_run(info_call *f, const Tokenvault__V1__GetTokenInfoRequest *r) {
  size_t n = r->n_tokens;
  f->infos = calloc(n, sizeof *f->infos);
  f->info_ptrs = calloc(n, sizeof *f->info_ptrs);
  f->statuses = calloc(n, sizeof *f->statuses);
  f->raw = calloc(n, sizeof *f->raw);
  f->text = calloc(n, sizeof *f->text);
  f->entries = calloc(n, sizeof *f->entries);
  f->entry_ptrs = calloc(n, sizeof *f->entry_ptrs);
  TV_ENSURE(f->infos != NULL && f->info_ptrs != NULL && f->statuses != NULL && f->raw != NULL &&
                f->text != NULL && f->entries != NULL && f->entry_ptrs != NULL,
            TV_E_NO_MEMORY);
  for (size_t i = 0; i < n; i++) {
    tv_status st = tv_engine_token_info(f->base.vault->engine, &f->raw[i], r->namespace_, r->tokens[i],
                                        strlen(r->tokens[i]));
    if (st == TV_E_ENGINE_NAMESPACE) {
      return st;
    }
    Tokenvault__V1__TokenInfo *info = &f->infos[i];
    tokenvault__v1__token_info__init(info);
    set_item_status(&f->statuses[i], st);
    tv_item_outcome_add(&f->base.outcome, st);
    info->status = &f->statuses[i];
    info->created_at_unix_ms = (int64_t)f->raw[i].created_ms;
    info->expires_at_unix_ms = (int64_t)f->raw[i].expires_ms;
    info->key_version = f->raw[i].key_version;
    decode_metadata(f, i);
    f->info_ptrs[i] = info;
  }
  f->resp.n_results = n;
  f->resp.results = f->info_ptrs;
  return TV_OK;
}

static void handle_info(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__GetTokenInfoRequest *r = (const Tokenvault__V1__GetTokenInfoRequest *)request;
  info_call *f = calloc(1, sizeof *f);
  if (f == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&f->base, call, impl, r->namespace_, r->request_id, r->n_tokens);
  f->base.counted = 1;
  f->base.cleanup = info_cleanup;
  tokenvault__v1__get_token_info_response__init(&f->resp);
  f->resp.request_id = r->request_id;
  f->base.response = &f->resp.base;
  if (!svc_authorize_method(&f->base, 0, NULL)) {
    svc_call_end(&f->base);
    return;
  }
  tv_status st = r->n_tokens == 0 ? TV_OK : info_run(f, r);
  if (st != TV_OK) {
    unknown_namespace(&f->base, st);
    return;
  }
  svc_call_end(&f->base);
}

/* ---- streams: the same per message; a NULL request is the half-close -- */

static void handle_tokenize_stream(void *impl, tv_call *call, const ProtobufCMessage *request) {
  if (request == NULL) {
    tv_call_finish(call, TV_OK, NULL, NULL);
    return;
  }
  handle_tokenize_one(impl, call, request, 1);
}

static void handle_detokenize_stream(void *impl, tv_call *call, const ProtobufCMessage *request) {
  if (request == NULL) {
    tv_call_finish(call, TV_OK, NULL, NULL);
    return;
  }
  handle_detokenize_one(impl, call, request, 1);
}

static void handle_tokenize(void *impl, tv_call *call, const ProtobufCMessage *request) {
  handle_tokenize_one(impl, call, request, 0);
}

static void handle_detokenize(void *impl, tv_call *call, const ProtobufCMessage *request) {
  handle_detokenize_one(impl, call, request, 0);
}

void tv_engine_service_fill(tv_service *service, tv_vault *vault) {
  service->handlers[TV_METHOD_TOKENIZE_STREAM] = (tv_handler){handle_tokenize_stream, vault};
  service->handlers[TV_METHOD_DETOKENIZE_STREAM] = (tv_handler){handle_detokenize_stream, vault};
  service->handlers[TV_METHOD_TOKENIZE] = (tv_handler){handle_tokenize, vault};
  service->handlers[TV_METHOD_DETOKENIZE] = (tv_handler){handle_detokenize, vault};
  service->handlers[TV_METHOD_DELETE_TOKENS] = (tv_handler){handle_delete, vault};
  service->handlers[TV_METHOD_ERASE_VALUE] = (tv_handler){handle_erase, vault};
  service->handlers[TV_METHOD_GET_TOKEN_INFO] = (tv_handler){handle_info, vault};
  tv_key_service_fill(service, vault);
  tv_audit_service_fill(service, vault);
  tv_store_service_fill(service, vault);
  tv_vault_core_fill(service, vault);
}
