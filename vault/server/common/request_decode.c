#include "vault/server/common/request_decode.h"

#include <assert.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/service/limits.h"
#include "vault/server/common/utf8.h"
#include "vault/server/common/wire_scan.h"

/* ---- a protobuf-c allocator with a budget per request ---- */

/* Chunks the decoder's memory is carved from: the first sized for the
 * message (decoded strings are their wire bytes plus a NUL and the
 * pointer arrays), more as needed. Nothing is freed before the end, so
 * what the decoder frees on the way (only on failure) stays counted. */
#define REQUEST_CHUNK_BYTES_MIN 4096u

typedef struct tv_request_chunk {
  struct tv_request_chunk *next;
  size_t size; /* usable bytes after the header */
  max_align_t data[];
} tv_request_chunk;

static size_t align_up(size_t n) {
  return (n + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1);
}

static tv_request_chunk *chunk_add(tv_request *req, size_t size) {
  tv_request_chunk *c = malloc(sizeof *c + size);
  if (c == NULL) {
    return NULL;
  }
  c->size = size;
  c->next = req->chunks;
  req->chunks = c;
  req->chunk_used = 0;
  return c;
}

static void *budget_alloc(void *data, size_t size) {
  tv_request *req = data;
  if (size > TV_DECODE_BYTES_MAX - req->alloc_bytes) {
    req->budget_exceeded = 1;
    return NULL;
  }
  size_t need = align_up(size > 0 ? size : 1);
  tv_request_chunk *c = req->chunks;
  if (c == NULL || c->size - req->chunk_used < need) {
    size_t grow = c != NULL ? c->size * 2 : REQUEST_CHUNK_BYTES_MIN;
    if ((c = chunk_add(req, need > grow ? need : grow)) == NULL) {
      return NULL;
    }
  }
  void *p = (char *)c->data + req->chunk_used;
  req->chunk_used += need;
  req->alloc_bytes += size;
  return p;
}

static void budget_free(void *data, void *p) {
  (void)data;
  (void)p; /* the chunks go all at once in tv_request_cleanup */
}

static void chunks_free(tv_request *req) {
  while (req->chunks != NULL) {
    tv_request_chunk *c = req->chunks;
    req->chunks = c->next;
    free(c);
  }
  req->chunk_used = 0;
  req->alloc_bytes = 0;
}

/* ---- field rules ---- */

/* Which limits apply to strings and lists at this point of the message. */
typedef struct field_rules {
  int in_metadata; /* inside a metadata map entry */
} field_rules;

static size_t string_bytes_max(const ProtobufCFieldDescriptor *f, field_rules rules) {
  if (rules.in_metadata) {
    return TV_METADATA_BYTES_MAX;
  }
  if (strcmp(f->name, "request_id") == 0) {
    return TV_REQUEST_ID_BYTES_MAX;
  }
  if (strcmp(f->name, "namespace") == 0) {
    return TV_NAMESPACE_BYTES_MAX;
  }
  if (strcmp(f->name, "reason") == 0) {
    return TV_REASON_BYTES_MAX;
  }
  if (strcmp(f->name, "values") == 0 || strcmp(f->name, "tokens") == 0 || strcmp(f->name, "value") == 0) {
    return TV_ITEM_BYTES_MAX;
  }
  return TV_STRING_BYTES_MAX;
}

static tv_status check_message(const ProtobufCMessage *m, field_rules rules, int depth, char *out_err,
                               size_t out_err_len);

/* Checks one value of field |f| at |member| (an element, for lists). */
static tv_status check_value(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                             const void *member, field_rules rules, int depth, char *out_err, size_t out_err_len) {
  if (f->type == PROTOBUF_C_TYPE_STRING) {
    const char *s = *(char *const *)member;
    size_t len = s != NULL ? strlen(s) : 0;
    size_t max = string_bytes_max(f, rules);
    if (len > max) {
      snprintf(out_err, out_err_len, "%s.%s is %zu bytes, the limit is %zu", d->short_name, f->name, len, max);
      return TV_E_SERVER_REQUEST_TOO_LARGE;
    }
    if (!tv_utf8_valid((const uint8_t *)s, len)) {
      snprintf(out_err, out_err_len, "%s.%s is not valid UTF-8", d->short_name, f->name);
      return TV_E_SERVER_REQUEST_MALFORMED;
    }
  } else if (f->type == PROTOBUF_C_TYPE_ENUM) {
    int v = *(const int *)member;
    if (protobuf_c_enum_descriptor_get_value(f->descriptor, v) == NULL) {
      snprintf(out_err, out_err_len, "%s.%s has unknown enum value %d", d->short_name, f->name, v);
      return TV_E_SERVER_REQUEST_MALFORMED;
    }
  } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
    const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
    if (sub != NULL) {
      field_rules sub_rules = {rules.in_metadata || strcmp(f->name, "metadata") == 0};
      return check_message(sub, sub_rules, depth + 1, out_err, out_err_len);
    }
  }
  return TV_OK;
}

static size_t element_size(const ProtobufCFieldDescriptor *f) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
      return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
      return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_ENUM:
      return sizeof(int);
    default:
      return 0; /* scalars: nothing to check per element */
  }
}

static tv_status check_list(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                            const ProtobufCMessage *m, field_rules rules, int depth, char *out_err,
                            size_t out_err_len) {
  size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
  size_t max = strcmp(f->name, "metadata") == 0 ? TV_METADATA_ENTRIES_MAX : TV_REQUEST_ITEMS_MAX;
  if (n > max) {
    snprintf(out_err, out_err_len, "%s.%s has %zu items, the limit is %zu", d->short_name, f->name, n, max);
    return TV_E_SERVER_REQUEST_TOO_LARGE;
  }
  size_t size = element_size(f);
  const char *items = *(const char *const *)((const char *)m + f->offset);
  for (size_t i = 0; size != 0 && i < n; i++) {
    TV_TRY(check_value(d, f, items + i * size, rules, depth, out_err, out_err_len));
  }
  return TV_OK;
}

static tv_status check_message(const ProtobufCMessage *m, field_rules rules, int depth, char *out_err,
                               size_t out_err_len) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  TV_ENSURE(depth <= TV_MESSAGE_DEPTH_MAX, TV_E_SERVER_REQUEST_MALFORMED);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      TV_TRY(check_list(d, f, m, rules, depth, out_err, out_err_len));
      continue;
    }
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
        *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id) {
      continue; /* another member of the oneof is set */
    }
    TV_TRY(check_value(d, f, (const char *)m + f->offset, rules, depth, out_err, out_err_len));
  }
  return TV_OK;
}

/* ---- per-method rules: fields that must be set ---- */

typedef struct required_fields {
  tv_method_id id;
  const char *names[3];
} required_fields;

static const required_fields required_by_method[] = {
    {TV_METHOD_TOKENIZE, {"namespace", "values", NULL}},
    {TV_METHOD_TOKENIZE_STREAM, {"namespace", "values", NULL}},
    {TV_METHOD_DETOKENIZE, {"namespace", "tokens", "reveal"}},
    {TV_METHOD_DETOKENIZE_STREAM, {"namespace", "tokens", "reveal"}},
    {TV_METHOD_DELETE_TOKENS, {"namespace", "tokens", NULL}},
    {TV_METHOD_ERASE_VALUE, {"namespace", "value", NULL}},
    {TV_METHOD_GET_TOKEN_INFO, {"namespace", "tokens", NULL}},
    {TV_METHOD_ROTATE_DATA_KEY, {"namespace", NULL, NULL}},
    {TV_METHOD_APPROVE_KEK_ROTATION, {"proposal_id", NULL, NULL}},
};

/* Returns 1 if field |name| of |m| holds something other than its default:
 * a non-empty string or list, a non-zero enum. */
static int field_is_set(const ProtobufCMessage *m, const char *name) {
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
  assert(f != NULL); /* the table names fields of the method's own type */
  const char *member = (const char *)m + f->offset;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    return *(const size_t *)((const char *)m + f->quantifier_offset) > 0;
  }
  if (f->type == PROTOBUF_C_TYPE_STRING) {
    const char *s = *(const char *const *)member;
    return s != NULL && s[0] != '\0';
  }
  if (f->type == PROTOBUF_C_TYPE_ENUM) {
    return *(const int *)member != 0;
  }
  return 1;
}

static tv_status check_required(const tv_method *method, const ProtobufCMessage *m, char *out_err,
                                size_t out_err_len) {
  for (size_t i = 0; i < sizeof required_by_method / sizeof required_by_method[0]; i++) {
    if (required_by_method[i].id != method->id) {
      continue;
    }
    for (size_t k = 0; k < 3 && required_by_method[i].names[k] != NULL; k++) {
      if (!field_is_set(m, required_by_method[i].names[k])) {
        snprintf(out_err, out_err_len, "%s.%s is required", m->descriptor->short_name,
                 required_by_method[i].names[k]);
        return TV_E_SERVER_REQUEST_MALFORMED;
      }
    }
  }
  return TV_OK;
}

/* An expiry, when given, must be positive: a zero or negative TTL is more
 * likely a client bug than a wish for tokens that are born expired. */
static tv_status check_expiry(const ProtobufCMessage *m, char *out_err, size_t out_err_len) {
  static const char *const names[] = {"ttl_seconds", "expires_at_unix_ms"};
  for (size_t i = 0; i < 2; i++) {
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, names[i]);
    if (f == NULL || *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id) {
      continue;
    }
    if (*(const int64_t *)((const char *)m + f->offset) <= 0) {
      snprintf(out_err, out_err_len, "%s.%s must be positive", m->descriptor->short_name, names[i]);
      return TV_E_SERVER_REQUEST_MALFORMED;
    }
  }
  return TV_OK;
}

/* ---- entry points ---- */

tv_status tv_request_decode(tv_request *req, const tv_method *method, const uint8_t *data, size_t data_len,
                            char *out_err, size_t out_err_len) {
  assert(req != NULL && method != NULL && out_err != NULL && out_err_len > 0);
  memset(req, 0, sizeof *req);
  req->allocator.alloc = budget_alloc;
  req->allocator.free = budget_free;
  req->allocator.allocator_data = req;
  out_err[0] = '\0';
  if (data_len > TV_MESSAGE_BYTES_MAX) {
    snprintf(out_err, out_err_len, "%s is %zu bytes, the limit is %d (TV_MESSAGE_BYTES_MAX)",
             method->request->short_name, data_len, TV_MESSAGE_BYTES_MAX);
    return TV_E_SERVER_REQUEST_TOO_LARGE;
  }
  static const uint8_t empty[1] = {0};
  TV_TRY(tv_wire_scan(method->request, data != NULL ? data : empty, data_len, out_err, out_err_len));
  /* Decoded, the message is about its wire size plus a NUL, a pointer
   * and alignment per string: one chunk for most requests. */
  if (chunk_add(req, align_up(REQUEST_CHUNK_BYTES_MIN + 2 * data_len)) == NULL) {
    return TV_E_NO_MEMORY;
  }
  req->msg = protobuf_c_message_unpack(method->request, &req->allocator, data_len, data != NULL ? data : empty);
  if (req->msg == NULL) {
    chunks_free(req);
    if (req->budget_exceeded) {
      snprintf(out_err, out_err_len, "%s needs more than %d bytes of memory once decoded (TV_DECODE_BYTES_MAX)",
               method->request->short_name, TV_DECODE_BYTES_MAX);
      return TV_E_SERVER_REQUEST_TOO_LARGE;
    }
    snprintf(out_err, out_err_len, "%s is not a valid protobuf message of this type (wrong wire type for a field)",
             method->request->short_name);
    return TV_E_SERVER_REQUEST_MALFORMED;
  }
  field_rules rules = {0};
  tv_status st = check_message(req->msg, rules, 0, out_err, out_err_len);
  if (st == TV_OK) {
    st = check_required(method, req->msg, out_err, out_err_len);
  }
  if (st == TV_OK) {
    st = check_expiry(req->msg, out_err, out_err_len);
  }
  if (st != TV_OK) {
    tv_request_cleanup(req);
  }
  return st;
}

void tv_request_cleanup(tv_request *req) {
  if (req == NULL) {
    return;
  }
  req->msg = NULL; /* its every byte is in the chunks */
  chunks_free(req);
}

size_t tv_request_count_items(const ProtobufCMessage *msg) {
  size_t items = 0;
  for (unsigned i = 0; msg != NULL && i < msg->descriptor->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &msg->descriptor->fields[i];
    if (f->label == PROTOBUF_C_LABEL_REPEATED &&
        (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES)) {
      items += *(const size_t *)(const void *)((const char *)msg + f->quantifier_offset);
    }
  }
  return items;
}
