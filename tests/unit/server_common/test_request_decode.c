/* tv_request_decode: every limit at its boundary, every kind of malformed
 * input, and every method's request type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/service/limits.h"
#include "vault/server/common/request_decode.h"
#include "vault/server/common/wire_scan.h"

typedef struct packed {
  uint8_t *data;
  size_t len;
} packed;

static packed pack(const ProtobufCMessage *msg) {
  packed p;
  p.len = protobuf_c_message_get_packed_size(msg);
  p.data = malloc(p.len + 1);
  assert_non_null(p.data);
  assert_int_equal(protobuf_c_message_pack(msg, p.data), p.len);
  return p;
}

/* Decodes |len| bytes for |id|, checks the status and, on failure, that the
 * error text contains |needle|. */
static void expect(tv_method_id id, const uint8_t *data, size_t len, tv_status want, const char *needle) {
  tv_request req;
  char err[TV_ERROR_TEXT_BYTES_MAX];
  tv_status st = tv_request_decode(&req, tv_method_get(id), data, len, err, sizeof err);
  if (st != want) {
    fail_msg("want %d got %d (%s)", want, st, err);
  }
  if (st == TV_OK) {
    assert_non_null(req.msg);
    assert_true(req.alloc_bytes > 0 || len == 0);
    tv_request_cleanup(&req);
    assert_null(req.msg);
    assert_int_equal(req.alloc_bytes, 0);
    tv_request_cleanup(&req); /* twice is fine */
  } else {
    assert_null(req.msg);
    assert_int_equal(req.alloc_bytes, 0); /* nothing leaked on failure */
    assert_true(err[0] != '\0');
    if (needle != NULL && strstr(err, needle) == NULL) {
      fail_msg("error '%s' lacks '%s'", err, needle);
    }
  }
}

static void expect_msg(tv_method_id id, const ProtobufCMessage *msg, tv_status want, const char *needle) {
  packed p = pack(msg);
  expect(id, p.data, p.len, want, needle);
  free(p.data);
}

/* A TokenizeRequest with |n| values, each |value_len| bytes of '4'. */
static void tokenize_with(size_t n, size_t value_len, tv_status want, const char *needle) {
  char *value = malloc(value_len + 1);
  char **values = calloc(n, sizeof *values);
  assert_non_null(value);
  assert_non_null(values);
  memset(value, '4', value_len);
  value[value_len] = '\0';
  for (size_t i = 0; i < n; i++) {
    values[i] = value;
  }
  Tokenvault__V1__TokenizeRequest req;
  tokenvault__v1__tokenize_request__init(&req);
  req.namespace_ = "pan";
  req.n_values = n;
  req.values = values;
  expect_msg(TV_METHOD_TOKENIZE, &req.base, want, needle);
  free(values);
  free(value);
}

/* The decoded message's item count (HTTP's admission) equals the wire
 * count gRPC's admission takes before decoding, for values, tokens and a
 * message without repeated strings. */
static void test_count_items(void **state) {
  (void)state;
  char *tokens[3] = {"4111110000001111", "4111110000002222", "4111110000003333"};
  Tokenvault__V1__DetokenizeRequest det;
  tokenvault__v1__detokenize_request__init(&det);
  det.namespace_ = "pan";
  det.n_tokens = 3;
  det.tokens = tokens;
  det.reveal = TOKENVAULT__V1__REVEAL__REVEAL_MASKED;
  Tokenvault__V1__WhoAmIRequest who;
  tokenvault__v1__who_am_irequest__init(&who);
  const ProtobufCMessage *msgs[] = {&det.base, &who.base};
  const tv_method_id ids[] = {TV_METHOD_DETOKENIZE, TV_METHOD_WHO_AM_I};
  const size_t want[] = {3, 0};
  for (size_t i = 0; i < 2; i++) {
    packed p = pack(msgs[i]);
    tv_request req;
    char err[TV_ERROR_TEXT_BYTES_MAX];
    tv_status st = tv_request_decode(&req, tv_method_get(ids[i]), p.data, p.len, err, sizeof err);
    if (st != TV_OK) {
      fail_msg("decode: %s", err);
    }
    assert_int_equal(tv_request_count_items(req.msg), want[i]);
    assert_int_equal(tv_wire_count_items(msgs[i]->descriptor, p.data, p.len), want[i]);
    tv_request_cleanup(&req);
    free(p.data);
  }
  assert_int_equal(tv_request_count_items(NULL), 0);
}

/* The item count and item length limits, each at its boundary. */
static void test_item_limits(void **state) {
  (void)state;
  static const struct {
    size_t n;
    size_t value_len;
    tv_status want;
    const char *needle;
  } cases[] = {
      {1, 16, TV_OK, NULL},
      {TV_REQUEST_ITEMS_MAX, 16, TV_OK, NULL},
      {TV_REQUEST_ITEMS_MAX + 1, 16, TV_E_SERVER_REQUEST_TOO_LARGE, "values has 1001 items"},
      {0, 16, TV_E_SERVER_REQUEST_MALFORMED, "values is required"},
      {3, TV_ITEM_BYTES_MAX, TV_OK, NULL},
      {3, TV_ITEM_BYTES_MAX + 1, TV_E_SERVER_REQUEST_TOO_LARGE, "values is 257 bytes"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tokenize_with(cases[i].n, cases[i].value_len, cases[i].want, cases[i].needle);
  }
}

static void test_namespace_and_reason_limits(void **state) {
  (void)state;
  char ns[TV_NAMESPACE_BYTES_MAX + 2];
  char reason[TV_REASON_BYTES_MAX + 2];
  char *tokens[] = {"tok"};
  Tokenvault__V1__DetokenizeRequest req;
  tokenvault__v1__detokenize_request__init(&req);
  req.n_tokens = 1;
  req.tokens = tokens;
  req.reveal = TOKENVAULT__V1__REVEAL__REVEAL_MASKED;
  memset(ns, 'n', sizeof ns);
  memset(reason, 'r', sizeof reason);
  ns[TV_NAMESPACE_BYTES_MAX] = '\0';
  reason[TV_REASON_BYTES_MAX] = '\0';
  req.namespace_ = ns;
  req.reason = reason;
  expect_msg(TV_METHOD_DETOKENIZE, &req.base, TV_OK, NULL);
  ns[TV_NAMESPACE_BYTES_MAX] = 'n';
  ns[TV_NAMESPACE_BYTES_MAX + 1] = '\0';
  expect_msg(TV_METHOD_DETOKENIZE, &req.base, TV_E_SERVER_REQUEST_TOO_LARGE, "namespace is 65 bytes");
  ns[TV_NAMESPACE_BYTES_MAX] = '\0';
  reason[TV_REASON_BYTES_MAX] = 'r';
  reason[TV_REASON_BYTES_MAX + 1] = '\0';
  expect_msg(TV_METHOD_DETOKENIZE, &req.base, TV_E_SERVER_REQUEST_TOO_LARGE, "reason is 257 bytes");
}

static void test_metadata_limits(void **state) {
  (void)state;
  Tokenvault__V1__TokenizeRequest__MetadataEntry entries[TV_METADATA_ENTRIES_MAX + 1];
  Tokenvault__V1__TokenizeRequest__MetadataEntry *ptrs[TV_METADATA_ENTRIES_MAX + 1];
  char long_value[TV_METADATA_BYTES_MAX + 2];
  memset(long_value, 'v', sizeof long_value);
  long_value[TV_METADATA_BYTES_MAX] = '\0';
  for (size_t i = 0; i <= TV_METADATA_ENTRIES_MAX; i++) {
    tokenvault__v1__tokenize_request__metadata_entry__init(&entries[i]);
    entries[i].key = "k";
    entries[i].value = long_value;
    ptrs[i] = &entries[i];
  }
  char *values[] = {"4111111111111111"};
  Tokenvault__V1__TokenizeRequest req;
  tokenvault__v1__tokenize_request__init(&req);
  req.namespace_ = "pan";
  req.n_values = 1;
  req.values = values;
  req.metadata = ptrs;
  req.n_metadata = TV_METADATA_ENTRIES_MAX;
  expect_msg(TV_METHOD_TOKENIZE, &req.base, TV_OK, NULL);
  req.n_metadata = TV_METADATA_ENTRIES_MAX + 1;
  expect_msg(TV_METHOD_TOKENIZE, &req.base, TV_E_SERVER_REQUEST_TOO_LARGE, "metadata has 17 items");
  req.n_metadata = 1;
  long_value[TV_METADATA_BYTES_MAX] = 'v';
  long_value[TV_METADATA_BYTES_MAX + 1] = '\0';
  expect_msg(TV_METHOD_TOKENIZE, &req.base, TV_E_SERVER_REQUEST_TOO_LARGE, "MetadataEntry.value is 129 bytes");
}

static void test_expiry_rules(void **state) {
  (void)state;
  char *values[] = {"1"};
  Tokenvault__V1__TokenizeRequest req;
  tokenvault__v1__tokenize_request__init(&req);
  req.namespace_ = "pan";
  req.n_values = 1;
  req.values = values;
  req.expiry_case = TOKENVAULT__V1__TOKENIZE_REQUEST__EXPIRY_TTL_SECONDS;
  req.ttl_seconds = 60;
  expect_msg(TV_METHOD_TOKENIZE, &req.base, TV_OK, NULL);
  req.ttl_seconds = 0;
  expect_msg(TV_METHOD_TOKENIZE, &req.base, TV_E_SERVER_REQUEST_MALFORMED, "ttl_seconds must be positive");
  req.expiry_case = TOKENVAULT__V1__TOKENIZE_REQUEST__EXPIRY_EXPIRES_AT_UNIX_MS;
  req.expires_at_unix_ms = -1;
  expect_msg(TV_METHOD_TOKENIZE, &req.base, TV_E_SERVER_REQUEST_MALFORMED, "expires_at_unix_ms must be positive");
}

static void test_reveal_rules(void **state) {
  (void)state;
  char *tokens[] = {"tok"};
  Tokenvault__V1__DetokenizeRequest req;
  tokenvault__v1__detokenize_request__init(&req);
  req.namespace_ = "pan";
  req.n_tokens = 1;
  req.tokens = tokens;
  expect_msg(TV_METHOD_DETOKENIZE, &req.base, TV_E_SERVER_REQUEST_MALFORMED, "reveal is required");
  req.reveal = TOKENVAULT__V1__REVEAL__REVEAL_FULL;
  expect_msg(TV_METHOD_DETOKENIZE_STREAM, &req.base, TV_OK, NULL);
  req.reveal = (Tokenvault__V1__Reveal)42;
  expect_msg(TV_METHOD_DETOKENIZE, &req.base, TV_E_SERVER_REQUEST_MALFORMED, "unknown enum value 42");
}

/* Wire-level garbage: each must be refused with a sentence, never crash. */
static void test_malformed_bytes(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    size_t len;
    const char *needle;
  } cases[] = {
      {"\x1a\x05" "ab", 4, "truncated field at byte 0"},       /* length past the end */
      {"\x12\x03pan\x1a", 6, "truncated field at byte 5"},      /* key without value */
      {"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, "bad or truncated"}, /* 11-byte varint */
      {"\x00\x01", 2, "bad or truncated"},                      /* field number 0 */
      {"\x1b\x1c", 2, "bad or truncated"},                      /* group wire types */
      {"\x1e", 1, "bad or truncated"},                          /* wire type 6 */
      {"\x15\x01\x02", 3, "bad or truncated"},                  /* fixed32 cut short */
      {"\x12\x03p\x00n\x1a\x01" "1", 8, "namespace contains a NUL byte"},
      {"\x12\x03pan\x1a\x02\xc0\xaf", 9, "values is not valid UTF-8"}, /* overlong '/' */
      {"\x12\x03pan\x1a\x01" "1\x32\x04\x0a\x02k\x00", 14, "MetadataEntry.key contains a NUL byte"},
      {"\x12\x03pan\x1a\x01" "1\x32\x03\x0a\x05k", 13, "MetadataEntry is not a valid protobuf message"},
      {"\x12\x03pan\x1a\x01" "1\x10\x05", 10, "wrong wire type"}, /* string field as varint: unpack refuses */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    expect(TV_METHOD_TOKENIZE, (const uint8_t *)cases[i].bytes, cases[i].len, TV_E_SERVER_REQUEST_MALFORMED,
           cases[i].needle);
  }
}

/* Every prefix of a valid message either decodes (it ends on a field
 * boundary) or is refused as malformed: never anything else. */
static void test_every_truncation(void **state) {
  (void)state;
  char *values[] = {"4111111111111111", "5500000000000004"};
  Tokenvault__V1__TokenizeRequest__MetadataEntry entry;
  tokenvault__v1__tokenize_request__metadata_entry__init(&entry);
  Tokenvault__V1__TokenizeRequest__MetadataEntry *entries[] = {&entry};
  entry.key = "source";
  entry.value = "crm";
  Tokenvault__V1__TokenizeRequest req;
  tokenvault__v1__tokenize_request__init(&req);
  req.request_id = "r-1";
  req.namespace_ = "pan";
  req.n_values = 2;
  req.values = values;
  req.n_metadata = 1;
  req.metadata = entries;
  packed p = pack(&req.base);
  size_t refused = 0;
  for (size_t len = 0; len < p.len; len++) {
    tv_request out;
    char err[TV_ERROR_TEXT_BYTES_MAX];
    tv_status st = tv_request_decode(&out, tv_method_get(TV_METHOD_TOKENIZE), p.data, len, err, sizeof err);
    assert_true(st == TV_OK || st == TV_E_SERVER_REQUEST_MALFORMED);
    refused += st != TV_OK;
    tv_request_cleanup(&out);
  }
  assert_true(refused > p.len / 2);
  expect(TV_METHOD_TOKENIZE, p.data, p.len, TV_OK, NULL);
  free(p.data);
}

static void test_size_limits(void **state) {
  (void)state;
  /* Over the wire limit: refused before any parsing. */
  size_t big_len = TV_MESSAGE_BYTES_MAX + 1;
  uint8_t *big = calloc(1, big_len);
  assert_non_null(big);
  expect(TV_METHOD_TOKENIZE, big, big_len, TV_E_SERVER_REQUEST_TOO_LARGE, "TV_MESSAGE_BYTES_MAX");
  free(big);
  /* Under the wire limit but huge once decoded: 400000 empty values. */
  size_t n = 400000;
  uint8_t *many = malloc(5 + 2 * n);
  assert_non_null(many);
  memcpy(many, "\x12\x03pan", 5);
  for (size_t i = 0; i < n; i++) {
    many[5 + 2 * i] = 0x1a;
    many[6 + 2 * i] = 0x00;
  }
  expect(TV_METHOD_TOKENIZE, many, 5 + 2 * n, TV_E_SERVER_REQUEST_TOO_LARGE, "TV_DECODE_BYTES_MAX");
  free(many);
}

/* Every method's request type decodes an empty message or names the first
 * required field, and decodes unknown fields without complaint. */
static void test_every_method(void **state) {
  (void)state;
  static const uint8_t unknown_field[] = {0xf8, 0x01, 0x05}; /* field 31, varint */
  for (int id = 0; id < TV_METHOD_COUNT; id++) {
    const tv_method *m = tv_method_get((tv_method_id)id);
    tv_request req;
    char err[TV_ERROR_TEXT_BYTES_MAX];
    tv_status st = tv_request_decode(&req, m, NULL, 0, err, sizeof err);
    if (st == TV_OK) {
      assert_string_equal(req.msg->descriptor->name, m->request->name);
      tv_request_cleanup(&req);
      expect((tv_method_id)id, unknown_field, sizeof unknown_field, TV_OK, NULL);
    } else {
      assert_int_equal(st, TV_E_SERVER_REQUEST_MALFORMED);
      assert_non_null(strstr(err, "is required"));
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_count_items),        cmocka_unit_test(test_item_limits),        cmocka_unit_test(test_namespace_and_reason_limits),
      cmocka_unit_test(test_metadata_limits),
      cmocka_unit_test(test_expiry_rules),       cmocka_unit_test(test_reveal_rules),
      cmocka_unit_test(test_malformed_bytes),    cmocka_unit_test(test_every_truncation),
      cmocka_unit_test(test_size_limits),        cmocka_unit_test(test_every_method),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
