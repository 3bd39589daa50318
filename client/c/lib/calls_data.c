/* Data calls: tokenize, detokenize (single request and any-size batch),
 * delete, erase, token info. */
#include <stdlib.h>
#include <string.h>

#include "client/c/lib/client_internal.h"
#include "tokenvault/v1/tokenvault.pb-c.h"

tv_client_code tvc_result_done(tv_client_result *result, tv_client_code code,
                               tv_client_result **out) {
  if (code != TV_CLIENT_OK) {
    tv_client_result_free(result);
    result = NULL;
  }
  *out = result;
  return code;
}

static tv_client_code count_mismatch(size_t got, size_t expected, tv_client_error *err) {
  return tvc_fail(err, TV_CLIENT_E_PROTOCOL, "the server answered %zu items for %zu sent", got, expected);
}

tv_client_code tvc_items_from_response(tv_client_result *result, ProtobufCMessage *msg,
                                       size_t expected, tv_client_error *err) {
  TVC_TRY(tvc_result_adopt(result, msg, err));
  int tokenize = msg->descriptor == &tokenvault__v1__tokenize_response__descriptor;
  const Tokenvault__V1__TokenizeResponse *t = (const void *)msg;
  const Tokenvault__V1__DetokenizeResponse *d = (const void *)msg;
  size_t n = tokenize ? t->n_results : d->n_results;
  if (n != expected) {
    return count_mismatch(n, expected, err);
  }
  tv_client_item *items = tvc_items_grow(result, n);
  if (items == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    const ProtobufCMessage *st = tokenize ? (const ProtobufCMessage *)t->results[i]->status
                                          : (const ProtobufCMessage *)d->results[i]->status;
    tvc_item_from_status(&items[i], st);
    items[i].text = tokenize ? t->results[i]->token : d->results[i]->value;
    items[i].text_len = strlen(items[i].text);
  }
  return TV_CLIENT_OK;
}

static tv_client_code tokenize_into(tv_client *c, tv_client_result *r, const char *ns,
                                    const char *const *values, size_t count, tv_client_error *err) {
  Tokenvault__V1__TokenizeRequest req;
  tokenvault__v1__tokenize_request__init(&req);
  req.namespace_ = tvc_mut(ns);
  req.n_values = count;
  req.values = tvc_strv(values);
  ProtobufCMessage *resp = NULL;
  TVC_TRY(tvc_unary(c, TVC_SERVICE "Tokenize", c->retry_tokenize, &req.base,
                    &tokenvault__v1__tokenize_response__descriptor, &resp, err));
  return tvc_items_from_response(r, resp, count, err);
}

static tv_client_code detokenize_into(tv_client *c, tv_client_result *r, const char *ns,
                                      const char *const *tokens, size_t count,
                                      tv_client_reveal reveal, const char *reason,
                                      tv_client_error *err) {
  Tokenvault__V1__DetokenizeRequest req;
  tokenvault__v1__detokenize_request__init(&req);
  req.namespace_ = tvc_mut(ns);
  req.n_tokens = count;
  req.tokens = tvc_strv(tokens);
  req.reveal = (Tokenvault__V1__Reveal)reveal;
  req.reason = tvc_mut(tvc_text(reason));
  ProtobufCMessage *resp = NULL;
  TVC_TRY(tvc_unary(c, TVC_SERVICE "Detokenize", 1, &req.base,
                    &tokenvault__v1__detokenize_response__descriptor, &resp, err));
  return tvc_items_from_response(r, resp, count, err);
}

static tv_client_code check_call(const tv_client *c, const void *out, const char *ns,
                                 tv_client_error *err) {
  if (c == NULL || out == NULL || ns == NULL || ns[0] == '\0') {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "client, result and namespace are required");
  }
  return TV_CLIENT_OK;
}

static tv_client_code check_reveal(tv_client_reveal reveal, tv_client_error *err) {
  if (reveal != TV_CLIENT_REVEAL_FULL && reveal != TV_CLIENT_REVEAL_MASKED &&
      reveal != TV_CLIENT_REVEAL_NONE) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "reveal must be full, masked or none");
  }
  return TV_CLIENT_OK;
}

static tv_client_code new_result(tv_client_result **out, tv_client_error *err) {
  *out = tvc_result_new();
  return *out != NULL ? TV_CLIENT_OK : tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
}

tv_client_code tv_client_tokenize(tv_client *client, tv_client_result **out_result,
                                  const char *namespace_name, const char *const *values,
                                  size_t count, tv_client_error *err) {
  TVC_TRY(check_call(client, out_result, namespace_name, err));
  *out_result = NULL;
  TVC_TRY(tvc_check_items(values, count, err));
  tv_client_result *r;
  TVC_TRY(new_result(&r, err));
  return tvc_result_done(r, tokenize_into(client, r, namespace_name, values, count, err), out_result);
}

tv_client_code tv_client_detokenize(tv_client *client, tv_client_result **out_result,
                                    const char *namespace_name, const char *const *tokens,
                                    size_t count, tv_client_reveal reveal, const char *reason,
                                    tv_client_error *err) {
  TVC_TRY(check_call(client, out_result, namespace_name, err));
  *out_result = NULL;
  TVC_TRY(check_reveal(reveal, err));
  TVC_TRY(tvc_check_items(tokens, count, err));
  tv_client_result *r;
  TVC_TRY(new_result(&r, err));
  tv_client_code code = detokenize_into(client, r, namespace_name, tokens, count, reveal, reason, err);
  return tvc_result_done(r, code, out_result);
}

/* Splits |count| items into requests of batch_items; |reveal| 0 means
 * tokenize. */
static tv_client_code batch_into(tv_client *c, tv_client_result *r, const char *ns,
                                 const char *const *items, size_t count, tv_client_reveal reveal,
                                 const char *reason, tv_client_error *err) {
  for (size_t done = 0; done < count;) {
    size_t n = count - done < c->batch_items ? count - done : c->batch_items;
    TVC_TRY(tvc_check_items(items + done, n, err));
    TVC_TRY((int)reveal == 0 ? tokenize_into(c, r, ns, items + done, n, err)
                             : detokenize_into(c, r, ns, items + done, n, reveal, reason, err));
    done += n;
  }
  return TV_CLIENT_OK;
}

tv_client_code tv_client_tokenize_batch(tv_client *client, tv_client_result **out_result,
                                        const char *namespace_name, const char *const *values,
                                        size_t count, tv_client_error *err) {
  TVC_TRY(check_call(client, out_result, namespace_name, err));
  *out_result = NULL;
  TVC_TRY(values == NULL || count == 0 ? tvc_fail(err, TV_CLIENT_E_ARGUMENT, "no values") : TV_CLIENT_OK);
  tv_client_result *r;
  TVC_TRY(new_result(&r, err));
  tv_client_code code = batch_into(client, r, namespace_name, values, count, (tv_client_reveal)0, NULL, err);
  return tvc_result_done(r, code, out_result);
}

tv_client_code tv_client_detokenize_batch(tv_client *client, tv_client_result **out_result,
                                          const char *namespace_name, const char *const *tokens,
                                          size_t count, tv_client_reveal reveal,
                                          const char *reason, tv_client_error *err) {
  TVC_TRY(check_call(client, out_result, namespace_name, err));
  *out_result = NULL;
  TVC_TRY(check_reveal(reveal, err));
  TVC_TRY(tokens == NULL || count == 0 ? tvc_fail(err, TV_CLIENT_E_ARGUMENT, "no tokens") : TV_CLIENT_OK);
  tv_client_result *r;
  TVC_TRY(new_result(&r, err));
  tv_client_code code = batch_into(client, r, namespace_name, tokens, count, reveal, reason, err);
  return tvc_result_done(r, code, out_result);
}

static tv_client_code delete_into(tv_client *c, tv_client_result *r, const char *ns,
                                  const char *const *tokens, size_t count, const char *reason,
                                  tv_client_error *err) {
  Tokenvault__V1__DeleteTokensRequest req;
  tokenvault__v1__delete_tokens_request__init(&req);
  req.namespace_ = tvc_mut(ns);
  req.n_tokens = count;
  req.tokens = tvc_strv(tokens);
  req.reason = tvc_mut(tvc_text(reason));
  ProtobufCMessage *resp = NULL;
  TVC_TRY(tvc_unary(c, TVC_SERVICE "DeleteTokens", 1, &req.base,
                    &tokenvault__v1__delete_tokens_response__descriptor, &resp, err));
  TVC_TRY(tvc_result_adopt(r, resp, err));
  const Tokenvault__V1__DeleteTokensResponse *d = (const void *)resp;
  if (d->n_results != count) {
    return count_mismatch(d->n_results, count, err);
  }
  tv_client_item *items = tvc_items_grow(r, count);
  if (items == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    tvc_item_from_status(&items[i], (const ProtobufCMessage *)d->results[i]);
    items[i].text = "";
  }
  return TV_CLIENT_OK;
}

tv_client_code tv_client_delete(tv_client *client, tv_client_result **out_result,
                                const char *namespace_name, const char *const *tokens, size_t count,
                                const char *reason, tv_client_error *err) {
  TVC_TRY(check_call(client, out_result, namespace_name, err));
  *out_result = NULL;
  TVC_TRY(tvc_check_items(tokens, count, err));
  tv_client_result *r;
  TVC_TRY(new_result(&r, err));
  tv_client_code code = delete_into(client, r, namespace_name, tokens, count, reason, err);
  return tvc_result_done(r, code, out_result);
}

tv_client_code tv_client_erase(tv_client *client, tv_client_result **out_result,
                               const char *namespace_name, const char *value, const char *reason,
                               tv_client_error *err) {
  TVC_TRY(check_call(client, out_result, namespace_name, err));
  *out_result = NULL;
  TVC_TRY(value == NULL ? tvc_fail(err, TV_CLIENT_E_ARGUMENT, "no value to erase") : TV_CLIENT_OK);
  Tokenvault__V1__EraseValueRequest req;
  tokenvault__v1__erase_value_request__init(&req);
  req.namespace_ = tvc_mut(namespace_name);
  req.value = tvc_mut(value);
  req.reason = tvc_mut(tvc_text(reason));
  tv_client_result *r;
  TVC_TRY(new_result(&r, err));
  ProtobufCMessage *resp = NULL;
  tv_client_code code = tvc_unary(client, TVC_SERVICE "EraseValue", 1, &req.base,
                                  &tokenvault__v1__erase_value_response__descriptor, &resp, err);
  if (code == TV_CLIENT_OK) {
    code = tvc_result_adopt(r, resp, err);
  }
  if (code == TV_CLIENT_OK) {
    r->tokens_erased = ((const Tokenvault__V1__EraseValueResponse *)(const void *)resp)->tokens_erased;
  }
  return tvc_result_done(r, code, out_result);
}

static tv_client_code info_into(tv_client *c, tv_client_result *r, const char *ns,
                                const char *const *tokens, size_t count, tv_client_error *err) {
  Tokenvault__V1__GetTokenInfoRequest req;
  tokenvault__v1__get_token_info_request__init(&req);
  req.namespace_ = tvc_mut(ns);
  req.n_tokens = count;
  req.tokens = tvc_strv(tokens);
  ProtobufCMessage *resp = NULL;
  TVC_TRY(tvc_unary(c, TVC_SERVICE "GetTokenInfo", 1, &req.base,
                    &tokenvault__v1__get_token_info_response__descriptor, &resp, err));
  TVC_TRY(tvc_result_adopt(r, resp, err));
  const Tokenvault__V1__GetTokenInfoResponse *g = (const void *)resp;
  if (g->n_results != count) {
    return count_mismatch(g->n_results, count, err);
  }
  tv_client_item *items = tvc_items_grow(r, count);
  if (items == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    const Tokenvault__V1__TokenInfo *t = g->results[i];
    tvc_item_from_status(&items[i], (const ProtobufCMessage *)t->status);
    items[i].text = "";
    items[i].created_at_unix_ms = t->created_at_unix_ms;
    items[i].expires_at_unix_ms = t->expires_at_unix_ms;
    items[i].key_version = t->key_version;
  }
  return TV_CLIENT_OK;
}

tv_client_code tv_client_token_info(tv_client *client, tv_client_result **out_result,
                                    const char *namespace_name, const char *const *tokens,
                                    size_t count, tv_client_error *err) {
  TVC_TRY(check_call(client, out_result, namespace_name, err));
  *out_result = NULL;
  TVC_TRY(tvc_check_items(tokens, count, err));
  tv_client_result *r;
  TVC_TRY(new_result(&r, err));
  return tvc_result_done(r, info_into(client, r, namespace_name, tokens, count, err), out_result);
}
