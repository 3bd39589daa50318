/* What the library's files share: the client object, the one unary-call
 * helper with retries, result assembly and error texts. Not installed. */
#ifndef TV_CLIENT_INTERNAL_H
#define TV_CLIENT_INTERNAL_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "client/c/lib/tokenvault.h"

/* Full method names ("/package.Service/Method"). */
#define TVC_SERVICE "/tokenvault.v1.TokenVault/"
#define TVC_HEALTH_CHECK "/grpc.health.v1.Health/Check"

/* Limits of the library, each with its reason. */
enum {
  /* Responses the server may send (its TV_RESPONSE_BYTES_MAX) plus room. */
  TVC_RECEIVE_BYTES_MAX = 8 * 1024 * 1024,
  /* A stream never keeps more requests in flight than this, whatever the
   * option says: each costs up to a full request of memory. */
  TVC_STREAM_WINDOW_MAX = 64,
  /* ReadAudit entries gathered into one result. */
  TVC_AUDIT_ENTRIES_MAX = 10000,
  /* Strings the library passes as namespace, reason or id. */
  TVC_STRING_BYTES_MAX = 256,
};

struct tv_client {
  grpc_channel *channel;
  uint32_t deadline_ms;
  uint32_t retries_max;
  uint32_t backoff_initial_ms;
  uint32_t backoff_max_ms;
  int retry_tokenize;
  uint32_t batch_items;
  uint32_t stream_window;
};

/* tvc_arena: bump-allocated memory for one decoded response (arena.c);
 * protobuf-c allocates through |allocator|, tvc_arena_free wipes every
 * byte handed out and frees it all. */
typedef struct tvc_arena {
  ProtobufCAllocator allocator;
  struct tvc_arena_chunk *chunks;
  size_t chunk_bytes;
} tvc_arena;

/* tvc_arena_init readies |a| (no allocation yet); chunks are at least
 * |expected_bytes|. */
void tvc_arena_init(tvc_arena *a, size_t expected_bytes);

/* tvc_arena_free wipes and frees |a|'s chunks; |a| itself is the
 * caller's. Safe on NULL and twice. */
void tvc_arena_free(tvc_arena *a);

/* What a tv_client_result's views point into: the decoded responses. */
struct tv_client_result_owned {
  /* Set: every message lives in it (a stream's answer), so they are
   * wiped and freed with it, not one by one. */
  tvc_arena *arena;
  ProtobufCMessage **messages;
  size_t messages_count;
  size_t messages_cap;
  tv_client_item *items;
  tv_client_key *keys;
  tv_client_proposal *proposals;
  tv_client_rotation *rotations;
  tv_client_audit_entry *audit_entries;
  tv_client_store_namespace *store_namespaces;
  tv_client_key_version_count *store_versions;
};

/* tvc_fail records |code| and a printf-style sentence in |err| (may be
 * NULL) and returns |code|. */
tv_client_code tvc_fail(tv_client_error *err, tv_client_code code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* tvc_deadline returns the absolute deadline |ms| from now. */
gpr_timespec tvc_deadline(uint32_t ms);

/* tvc_pack serialises |msg| into a new byte buffer (caller destroys), or
 * NULL when out of memory. */
grpc_byte_buffer *tvc_pack(const ProtobufCMessage *msg);

/* tvc_unpack decodes |bb| as |desc| into |*out_msg| (caller frees with
 * protobuf_c_message_free_unpacked) and wipes the flat copy it made. */
tv_client_code tvc_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                          ProtobufCMessage **out_msg, tv_client_error *err);

/* tvc_unpack_into is tvc_unpack with the message's memory taken from
 * |arena| (ready, empty; tvc_arena_free it whatever the outcome). */
tv_client_code tvc_unpack_into(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                               tvc_arena *arena, ProtobufCMessage **out_msg, tv_client_error *err);

/* tvc_status_code turns a finished |call|'s status into a tv_client_code
 * and, on failure, |err|'s sentence (server details included) and
 * whether a server gave it (tv_client_error.from_server). */
tv_client_code tvc_status_code(grpc_call *call, grpc_status_code status, grpc_slice details, const char *method,
                               tv_client_error *err);

/* tvc_unary calls |method| with |request| and decodes the answer as
 * |response_desc| into |*out_response|. Idempotent calls are repeated on
 * UNAVAILABLE per the client's retry options. */
tv_client_code tvc_unary(tv_client *client, const char *method, int idempotent,
                         const ProtobufCMessage *request,
                         const ProtobufCMessageDescriptor *response_desc,
                         ProtobufCMessage **out_response, tv_client_error *err);

/* tvc_result_new returns an empty result, or NULL when out of memory. */
tv_client_result *tvc_result_new(void);

/* tvc_result_adopt hands |msg| to |result| (freed, wiped, with it). On
 * failure |msg| is freed too. */
tv_client_code tvc_result_adopt(tv_client_result *result, ProtobufCMessage *msg,
                                tv_client_error *err);

/* tvc_item_from_status fills |item|'s code, name and message from |st|
 * (which may be NULL: a server that sent no status is an internal error). */
void tvc_item_from_status(tv_client_item *item, const ProtobufCMessage *st);

/* tvc_wipe_message wipes every string and bytes field of |msg| and its
 * submessages in place. */
void tvc_wipe_message(ProtobufCMessage *msg);

/* tvc_check_items validates a batch argument (1..1000 non-NULL items). */
tv_client_code tvc_check_items(const char *const *items, size_t count, tv_client_error *err);

/* tvc_text returns |s| or "" when NULL, for optional string arguments. */
const char *tvc_text(const char *s);

/* tvc_mut lends a caller's const string to a protobuf-c request field,
 * which is declared non-const but only read when packing. */
static inline char *tvc_mut(const char *s) {
  union {
    const char *in;
    char *out;
  } u = {.in = s};
  return u.out;
}

/* tvc_strv lends a const string array the same way; same reasoning. */
static inline char **tvc_strv(const char *const *v) {
  union {
    const char *const *in;
    char **out;
  } u = {.in = v};
  return u.out;
}

/* TVC_TRY returns a failed tv_client_code from the enclosing function. */
#define TVC_TRY(expr)                      \
  do {                                     \
    tv_client_code tvc_try_code_ = (expr); \
    if (tvc_try_code_ != TV_CLIENT_OK) {   \
      return tvc_try_code_;                \
    }                                      \
  } while (0)

/* tvc_items_from_response appends the items of a decoded TokenizeResponse
 * or DetokenizeResponse |msg| (adopted by |result| first) to |result|;
 * |expected| is the number of items sent. */
tv_client_code tvc_items_from_response(tv_client_result *result, ProtobufCMessage *msg,
                                       size_t expected, tv_client_error *err);

/* tvc_result_done stores |result| in |*out| on success, frees it on
 * failure, and returns |code|. */
tv_client_code tvc_result_done(tv_client_result *result, tv_client_code code,
                               tv_client_result **out);

/* tvc_items_grow appends |n| zeroed items to |result| and returns the
 * first, or NULL when out of memory. */
tv_client_item *tvc_items_grow(tv_client_result *result, size_t n);

#endif
