/* The proto3 JSON mapping of the tokenvault.v1 messages, done generically
 * from protobuf-c's field descriptors with jansson, so an HTTP caller and
 * a gRPC caller read the same field names and no message has its own
 * hand-written JSON code.
 *
 * Requests: a JSON object becomes the protobuf-c message, which is packed
 * and then decoded by tv_request_decode (vault/server/common/request_decode.h)
 * — the same bounded-memory decoding and field checks (lengths, UTF-8,
 * required fields, item limits) as a gRPC request, never a second copy.
 *
 * Mapping (https://protobuf.dev/programming-guides/proto3/#json): keys are
 * the proto field names ("request_id"); the lowerCamelCase JSON names
 * ("requestId") are accepted too. int64/uint64 are JSON strings in answers
 * and strings or integers in requests; enums are their names (integers are
 * accepted in requests); bytes are base64; maps are objects; null means the
 * default. Answers carry every field, also at its default value (so a
 * client never has to know proto3's defaults), except unset oneof members.
 * Refused, with a sentence that names the field but never quotes a value:
 * not JSON, invalid UTF-8, duplicate keys, \u0000, an unknown field, a wrong
 * type, a number out of range, an unknown enum name, two members of one
 * oneof. */
#ifndef TV_SERVER_HTTP_JSON_CODEC_H
#define TV_SERVER_HTTP_JSON_CODEC_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "vault/server/common/request_decode.h"
#include "vault/service/methods.h"
#include "vault/util/status.h"

/* Nesting accepted in a request body: requests nest two levels (a map
 * entry); a deeper body is malformed before any allocation for it. */
#define TV_JSON_DEPTH_MAX 8

/* tv_json_request_decode parses the |body_len| bytes at |body| as the
 * proto3 JSON of |method|'s request and decodes it into |req| (free with
 * tv_request_cleanup). Returns TV_OK; TV_E_SERVER_REQUEST_MALFORMED or
 * TV_E_SERVER_REQUEST_TOO_LARGE with a sentence in |out_err| (never any
 * value) and |req->msg| NULL; TV_E_NO_MEMORY. An empty body is "{}". */
tv_status tv_json_request_decode(tv_request *req, const tv_method *method, const char *body, size_t body_len,
                                 char *out_err, size_t out_err_len);

/* tv_json_message_encode writes the proto3 JSON of |msg| into a new buffer
 * |*out_text| of |*out_len| bytes (not NUL-counted; free with
 * tv_json_text_free, which wipes it: answers carry revealed values).
 * Returns TV_OK or TV_E_NO_MEMORY. */
tv_status tv_json_message_encode(const ProtobufCMessage *msg, char **out_text, size_t *out_len);

/* tv_json_text_free wipes and frees a buffer of tv_json_message_encode or
 * tv_json_problem_encode; accepts NULL. */
void tv_json_text_free(void *text);

/* tv_json_use_wiping_allocator makes jansson wipe every block it frees
 * (parsed request bodies hold values); idempotent, thread-safe. */
void tv_json_use_wiping_allocator(void);

/* tv_json_camel_name writes the lowerCamelCase JSON name of proto field
 * |name| ("request_id" -> "requestId") into |out|; returns 0 if it does
 * not fit. */
int tv_json_camel_name(const char *name, char *out, size_t out_len);

/* tv_json_is_map returns 1 if |f| is a proto map field (protobuf-c has no
 * flag: a repeated "...Entry" message with exactly key = 1, value = 2). */
int tv_json_is_map(const ProtobufCFieldDescriptor *f);

/* tv_json_element_size returns the size of one element of repeated field
 * |f| in its message's array (protobuf-c lays them out by type). */
size_t tv_json_element_size(const ProtobufCFieldDescriptor *f);

#endif
