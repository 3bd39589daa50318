/* Decoding and validation of request messages: untrusted bytes from the
 * network become a protobuf-c message only after a structural scan of the
 * wire format, a bounded-memory unpack, and checks of every field against
 * vault/service/limits.h. Free of gRPC so it can be unit-tested and fuzzed. */
#ifndef TV_SERVER_COMMON_REQUEST_DECODE_H
#define TV_SERVER_COMMON_REQUEST_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "vault/service/methods.h"
#include "vault/util/status.h"

/* A decoded request and the allocator that owns its memory. Must stay at
 * the same address from tv_request_decode to tv_request_cleanup (the
 * allocator points back into it). */
typedef struct tv_request {
  ProtobufCMessage *msg;
  ProtobufCAllocator allocator;
  size_t alloc_bytes;   /* allocated by the decoder (never given back) */
  int budget_exceeded;  /* the decoder asked for more than TV_DECODE_BYTES_MAX */
  /* The decoder's memory: bump-allocated from a list of chunks, all freed
   * at once by tv_request_cleanup (a 1,000-item request is 1,000 strings:
   * one malloc and free each was ~3 % of a detokenize's server CPU). */
  struct tv_request_chunk *chunks;
  size_t chunk_used; /* bytes used of chunks (the newest) */
} tv_request;

/* tv_request_decode parses the |data_len| bytes at |data| as the request
 * type of |method| and validates it. On success returns TV_OK and sets
 * |req->msg| (free with tv_request_cleanup). On failure returns
 * TV_E_SERVER_REQUEST_MALFORMED (not a valid message, bad UTF-8, a NUL in a
 * string, a required field missing) or TV_E_SERVER_REQUEST_TOO_LARGE (a
 * limit exceeded), writes a sentence naming the field and the problem to
 * |out_err| (never any field content) and leaves |req->msg| NULL.
 * |data| may be NULL when |data_len| is 0 (an empty message). */
tv_status tv_request_decode(tv_request *req, const tv_method *method, const uint8_t *data, size_t data_len,
                            char *out_err, size_t out_err_len);

/* tv_request_count_items counts the elements of |msg|'s top-level
 * repeated string and bytes fields (the values or tokens of a request):
 * what tv_wire_count_items counts on the wire, for a transport that only
 * has the decoded message (HTTP's admission control). */
size_t tv_request_count_items(const ProtobufCMessage *msg);

/* tv_request_cleanup frees the decoded message, if any, and the decoder's
 * memory; safe to call twice and on a zeroed tv_request. */
void tv_request_cleanup(tv_request *req);

#endif
