/* tv_json_request_decode / tv_json_message_encode: the proto3 JSON mapping
 * of requests (both field-name spellings, enums by name, 64-bit integers
 * as strings, maps, oneofs) and every kind of bad body, each refused with a
 * sentence that names the field and never quotes a value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/server/http/json_codec.h"
#include "vault/service/limits.h"

/* Decodes |body| as |id|'s request; on TV_OK returns the message (the
 * caller cleans |req|), else checks the error names |needle|. */
static void expect(tv_request *req, tv_method_id id, const char *body, tv_status want, const char *needle) {
  char err[TV_ERROR_TEXT_BYTES_MAX];
  tv_status st = tv_json_request_decode(req, tv_method_get(id), body, strlen(body), err, sizeof err);
  if (st != want) {
    fail_msg("want %d got %d (%s) for %s", want, st, err, body);
  }
  if (st != TV_OK) {
    assert_null(req->msg);
    assert_int_equal(req->alloc_bytes, 0);
    if (needle != NULL && strstr(err, needle) == NULL) {
      fail_msg("error '%s' lacks '%s'", err, needle);
    }
  }
}

static void test_tokenize_request(void **state) {
  (void)state;
  tv_request req;
  expect(&req, TV_METHOD_TOKENIZE,
         "{\"namespace\":\"pan\",\"values\":[\"4111111111111111\",\"42\"],\"requestId\":\"r-1\","
         "\"ttl_seconds\":\"60\",\"metadata\":{\"crm\":\"acme\"}}",
         TV_OK, NULL);
  const Tokenvault__V1__TokenizeRequest *m = (const void *)req.msg;
  assert_string_equal(m->namespace_, "pan");
  assert_int_equal(m->n_values, 2);
  assert_string_equal(m->values[1], "42");
  assert_string_equal(m->request_id, "r-1");
  assert_int_equal(m->expiry_case, TOKENVAULT__V1__TOKENIZE_REQUEST__EXPIRY_TTL_SECONDS);
  assert_int_equal(m->ttl_seconds, 60);
  assert_int_equal(m->n_metadata, 1);
  assert_string_equal(m->metadata[0]->key, "crm");
  assert_string_equal(m->metadata[0]->value, "acme");
  tv_request_cleanup(&req);
}

static void test_enums_and_integers(void **state) {
  (void)state;
  tv_request req;
  expect(&req, TV_METHOD_DETOKENIZE, "{\"namespace\":\"pan\",\"tokens\":[\"t\"],\"reveal\":\"REVEAL_MASKED\"}", TV_OK,
         NULL);
  assert_int_equal(((const Tokenvault__V1__DetokenizeRequest *)(const void *)req.msg)->reveal,
                   TOKENVAULT__V1__REVEAL__REVEAL_MASKED);
  tv_request_cleanup(&req);
  expect(&req, TV_METHOD_DETOKENIZE, "{\"namespace\":\"pan\",\"tokens\":[\"t\"],\"reveal\":3}", TV_OK, NULL);
  tv_request_cleanup(&req);
  expect(&req, TV_METHOD_VERIFY_AUDIT, "{\"from_seq\":\"18446744073709551615\",\"to_seq\":7}", TV_OK, NULL);
  assert_true(((const Tokenvault__V1__VerifyAuditRequest *)(const void *)req.msg)->from_seq == UINT64_MAX);
  tv_request_cleanup(&req);
  expect(&req, TV_METHOD_WHO_AM_I, "", TV_OK, NULL); /* an empty body is {} */
  tv_request_cleanup(&req);
  expect(&req, TV_METHOD_WHO_AM_I, "{\"request_id\":null}", TV_OK, NULL);
  tv_request_cleanup(&req);
}

static void test_bad_bodies(void **state) {
  (void)state;
  tv_request req;
  const tv_status bad = TV_E_SERVER_REQUEST_MALFORMED;
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":", bad, "ends inside");
  expect(&req, TV_METHOD_TOKENIZE, "[1]", bad, "must be a JSON object");
  expect(&req, TV_METHOD_TOKENIZE, "{} {}", bad, "more after");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"valuez\":[]}", bad, "TokenizeRequest has no field valuez");
  expect(&req, TV_METHOD_TOKENIZE, "{\"4111111111111111\":1}", bad, "not a field name");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"namespace\":\"x\"}", bad, "duplicate key");
  expect(&req, TV_METHOD_TOKENIZE, "{\"request_id\":\"a\",\"requestId\":\"b\",\"namespace\":\"pan\"}", bad, "twice");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"values\":[1]}", bad, "values must be a string");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"values\":\"4111\"}", bad, "values must be a list");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"values\":[null]}", bad, "null item");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"values\":[\"1\"],\"ttl_seconds\":1.5}", bad,
         "must be an integer");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"values\":[\"1\"],\"ttl_seconds\":99999999999999999999}",
         bad, "too large");
  expect(&req, TV_METHOD_TOKENIZE,
         "{\"namespace\":\"pan\",\"values\":[\"1\"],\"ttl_seconds\":5,\"expires_at_unix_ms\":\"9\"}", bad, "oneof");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"values\":[\"a\\u0000b\"]}", bad, "NUL");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"values\":[\"\xff\xfe\"]}", bad, "UTF-8");
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"metadata\":[\"x\"]}", bad, "metadata must be an object");
  /* A map value of the wrong type after a good entry: both entries freed
   * (found leaking by fuzz_http_json; the ASan build checks it). */
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\",\"metadata\":{\"a\":\"x\",\"b\":{}}}", bad,
         "value must be a string");
  expect(&req, TV_METHOD_DETOKENIZE, "{\"namespace\":\"pan\",\"tokens\":[\"t\"],\"reveal\":\"FULL\"}", bad,
         "not a Reveal name");
  expect(&req, TV_METHOD_DETOKENIZE, "{\"namespace\":\"pan\",\"tokens\":[\"t\"],\"reveal\":true}", bad,
         "must be a Reveal name");
  expect(&req, TV_METHOD_VERIFY_AUDIT, "{\"from_seq\":-1}", bad, "out of range");
  expect(&req, TV_METHOD_VERIFY_AUDIT, "{\"from_seq\":\"12x\"}", bad, "must be an integer");
  expect(&req, TV_METHOD_WHO_AM_I, "{\"request_id\":{}}", bad, "must be a string");
  /* The gRPC decoder's own checks apply: required fields and limits. */
  expect(&req, TV_METHOD_TOKENIZE, "{\"namespace\":\"pan\"}", bad, "TokenizeRequest.values is required");
  expect(&req, TV_METHOD_DETOKENIZE, "{\"namespace\":\"pan\",\"tokens\":[\"t\"]}", bad, "reveal is required");
}

/* Never a value in an error: jansson's own messages quote the input. */
static void test_errors_hold_no_value(void **state) {
  (void)state;
  static const char *const bodies[] = {
      "{\"namespace\":\"pan\",\"values\":[\"4111111111111111\" \"x\"]}",
      "{\"namespace\":\"pan\",\"values\":[4111111111111111]}",
      "{\"namespace\":\"pan\",\"values\":[\"4111111111111111\xff\"]}",
      "{\"namespace\":\"pan\",\"values\":[\"4111111111111111\"],\"4111111111111111\":1}",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    tv_request req;
    char err[TV_ERROR_TEXT_BYTES_MAX];
    tv_status st = tv_json_request_decode(&req, tv_method_get(TV_METHOD_TOKENIZE), bodies[i], strlen(bodies[i]),
                                          err, sizeof err);
    assert_int_not_equal(st, TV_OK);
    if (strstr(err, "4111") != NULL) {
      fail_msg("error '%s' quotes the value", err);
    }
  }
}

static void test_limits(void **state) {
  (void)state;
  size_t n = TV_REQUEST_ITEMS_MAX + 1;
  char *body = malloc(64 + n * 4);
  assert_non_null(body);
  size_t len = (size_t)sprintf(body, "{\"namespace\":\"pan\",\"values\":[");
  for (size_t i = 0; i < n; i++) {
    len += (size_t)sprintf(body + len, "%s\"1\"", i > 0 ? "," : "");
  }
  strcpy(body + len, "]}");
  tv_request req;
  expect(&req, TV_METHOD_TOKENIZE, body, TV_E_SERVER_REQUEST_TOO_LARGE, "the limit is 1000");
  free(body);
  char ns[TV_NAMESPACE_BYTES_MAX + 40];
  memset(ns, 'a', sizeof ns);
  memcpy(ns, "{\"namespace\":\"", 14);
  strcpy(ns + 14 + TV_NAMESPACE_BYTES_MAX + 1, "\"}");
  expect(&req, TV_METHOD_TOKENIZE, ns, TV_E_SERVER_REQUEST_TOO_LARGE, "namespace is 65 bytes");
}

static void test_encode(void **state) {
  (void)state;
  Tokenvault__V1__ItemStatus st = TOKENVAULT__V1__ITEM_STATUS__INIT;
  st.name = "OK";
  st.message = "success";
  Tokenvault__V1__TokenInfo info = TOKENVAULT__V1__TOKEN_INFO__INIT;
  info.status = &st;
  info.created_at_unix_ms = 1700000000000;
  info.key_version = 2;
  Tokenvault__V1__TokenInfo__MetadataEntry e = TOKENVAULT__V1__TOKEN_INFO__METADATA_ENTRY__INIT;
  e.key = "crm";
  e.value = "a\"b";
  Tokenvault__V1__TokenInfo__MetadataEntry *entries[] = {&e};
  info.n_metadata = 1;
  info.metadata = entries;
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(tv_json_message_encode(&info.base, &text, &len), TV_OK);
  assert_string_equal(text, "{\"status\":{\"code\":0,\"name\":\"OK\",\"message\":\"success\"},"
                            "\"created_at_unix_ms\":\"1700000000000\",\"expires_at_unix_ms\":\"0\","
                            "\"key_version\":2,\"metadata\":{\"crm\":\"a\\\"b\"}}");
  assert_int_equal(len, strlen(text));
  tv_json_text_free(text);
  Tokenvault__V1__DataKeyInfo key = TOKENVAULT__V1__DATA_KEY_INFO__INIT;
  key.state = TOKENVAULT__V1__KEY_STATE__KEY_STATE_ACTIVE;
  assert_int_equal(tv_json_message_encode(&key.base, &text, &len), TV_OK);
  assert_non_null(strstr(text, "\"state\":\"KEY_STATE_ACTIVE\""));
  tv_json_text_free(text);
  Tokenvault__V1__AuditEntry a = TOKENVAULT__V1__AUDIT_ENTRY__INIT;
  uint8_t hash[3] = {0xfb, 0xff, 0x00};
  a.prev_hash.data = hash;
  a.prev_hash.len = 3;
  a.counted = 1;
  assert_int_equal(tv_json_message_encode(&a.base, &text, &len), TV_OK);
  assert_non_null(strstr(text, "\"prev_hash\":\"+/8A\""));
  assert_non_null(strstr(text, "\"counted\":true"));
  tv_json_text_free(text);
}

static void test_camel_name(void **state) {
  (void)state;
  char out[32];
  assert_true(tv_json_camel_name("expires_at_unix_ms", out, sizeof out));
  assert_string_equal(out, "expiresAtUnixMs");
  assert_false(tv_json_camel_name("expires_at_unix_ms", out, 8));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tokenize_request), cmocka_unit_test(test_enums_and_integers),
      cmocka_unit_test(test_bad_bodies),       cmocka_unit_test(test_errors_hold_no_value),
      cmocka_unit_test(test_limits),           cmocka_unit_test(test_encode),
      cmocka_unit_test(test_camel_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
