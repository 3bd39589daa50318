/* JSON request body -> protobuf-c message -> packed -> tv_request_decode.
 * See json_codec.h for the mapping and why it ends in the gRPC decoder. */
#include "vault/server/http/json_codec.h"
#include "vault/server/http/json_arena.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vault/service/limits.h"
#include "vault/util/secure_mem.h"

typedef struct decode_ctx {
  char *err;
  size_t err_len;
} decode_ctx;

/* The intermediate message's memory comes from the jansson arena scope
 * the whole decode runs in (json_arena.h): one bump region wiped at the
 * end rather than a malloc/free per token (blocks the region cannot hold
 * are malloc'ed and wiped when freed). */
static void *scope_calloc(size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) {
    return NULL;
  }
  void *p = tv_json_arena_malloc(n * size);
  if (p != NULL) {
    memset(p, 0, n * size);
  }
  return p;
}

static void *scope_alloc(void *data, size_t size) {
  (void)data;
  return tv_json_arena_malloc(size);
}

static void scope_free(void *data, void *p) {
  (void)data;
  tv_json_arena_free(p);
}

static ProtobufCAllocator scope_allocator = {.alloc = scope_alloc, .free = scope_free};

static tv_status failf(decode_ctx *c, tv_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static tv_status failf(decode_ctx *c, tv_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->err_len, fmt, ap);
  va_end(ap);
  return st;
}

static tv_status decode_message(decode_ctx *c, const ProtobufCMessageDescriptor *d, json_t *obj, int depth,
                                ProtobufCMessage **out);

/* ---- names ---- */

int tv_json_camel_name(const char *name, char *out, size_t out_len) {
  size_t n = 0;
  int upper = 0;
  for (const char *p = name; *p != '\0'; p++) {
    if (*p == '_') {
      upper = 1;
      continue;
    }
    if (n + 1 >= out_len) {
      return 0;
    }
    char ch = *p;
    out[n++] = upper && ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
    upper = 0;
  }
  out[n] = '\0';
  return 1;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d, const char *key) {
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
  for (unsigned i = 0; f == NULL && i < d->n_fields; i++) {
    char camel[128];
    if (tv_json_camel_name(d->fields[i].name, camel, sizeof camel) && strcmp(camel, key) == 0) {
      f = &d->fields[i];
    }
  }
  return f;
}

/* A key is named in an error only if it looks like a field name (a
 * letter, then letters, '_' and at most 3 digits): a key is caller text
 * and could be anything, a card number included. */
static const char *printable_key(const char *key) {
  size_t n = strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
  size_t digits = 0;
  for (size_t i = 0; i < n; i++) {
    digits += key[i] >= '0' && key[i] <= '9';
  }
  int letter = (key[0] >= 'a' && key[0] <= 'z') || (key[0] >= 'A' && key[0] <= 'Z');
  return letter && n <= 64 && key[n] == '\0' && digits < 4 ? key : "(a key that is not a field name)";
}

/* protobuf-c has no map flag: a map field is a repeated message whose
 * type is the generated "...Entry" with exactly key = 1 and value = 2. */
int tv_json_is_map(const ProtobufCFieldDescriptor *f) {
  if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label != PROTOBUF_C_LABEL_REPEATED) {
    return 0;
  }
  const ProtobufCMessageDescriptor *e = f->descriptor;
  size_t len = strlen(e->short_name);
  return e->n_fields == 2 && len > 5 && strcmp(e->short_name + len - 5, "Entry") == 0 &&
         strcmp(e->fields[0].name, "key") == 0 && strcmp(e->fields[1].name, "value") == 0;
}

/* ---- scalars ---- */

/* An integer given as a JSON integer or a decimal string (proto3 JSON
 * prints 64-bit integers as strings), within [min, max] (signed) or
 * [0, umax] (unsigned). */
static tv_status read_integer(decode_ctx *c, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                              json_t *v, int is_signed, int64_t min, int64_t max, uint64_t umax, int64_t *out_s,
                              uint64_t *out_u) {
  int ok = 0;
  if (json_is_integer(v)) {
    json_int_t x = json_integer_value(v);
    ok = is_signed ? x >= min && x <= max : x >= 0 && (uint64_t)x <= umax;
    *out_s = (int64_t)x;
    *out_u = (uint64_t)x;
  } else if (json_is_string(v)) {
    const char *s = json_string_value(v);
    size_t digits = strspn(s[0] == '-' ? s + 1 : s, "0123456789");
    if (digits > 0 && digits <= 20 && (s[0] == '-' ? s + 1 : s)[digits] == '\0') {
      char *end = NULL;
      errno = 0;
      if (is_signed) {
        long long x = strtoll(s, &end, 10);
        ok = errno == 0 && x >= min && x <= max;
        *out_s = x;
      } else if (s[0] != '-') {
        unsigned long long x = strtoull(s, &end, 10);
        ok = errno == 0 && x <= umax;
        *out_u = x;
      }
    } else {
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s must be an integer (a JSON integer or a decimal string)",
                   d->short_name, f->name);
    }
  } else {
    return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s must be an integer (a JSON integer or a decimal string)",
                 d->short_name, f->name);
  }
  if (!ok) {
    return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s is out of range for its type", d->short_name, f->name);
  }
  return TV_OK;
}

static tv_status set_integer(decode_ctx *c, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                             json_t *v, void *member) {
  int64_t s = 0;
  uint64_t u = 0;
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      TV_TRY(read_integer(c, d, f, v, 1, INT32_MIN, INT32_MAX, 0, &s, &u));
      *(int32_t *)member = (int32_t)s;
      return TV_OK;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      TV_TRY(read_integer(c, d, f, v, 0, 0, 0, UINT32_MAX, &s, &u));
      *(uint32_t *)member = (uint32_t)u;
      return TV_OK;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      TV_TRY(read_integer(c, d, f, v, 1, INT64_MIN, INT64_MAX, 0, &s, &u));
      *(int64_t *)member = s;
      return TV_OK;
    default: /* UINT64, FIXED64 */
      TV_TRY(read_integer(c, d, f, v, 0, 0, 0, UINT64_MAX, &s, &u));
      *(uint64_t *)member = u;
      return TV_OK;
  }
}

static tv_status set_enum(decode_ctx *c, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                          json_t *v, void *member) {
  const ProtobufCEnumDescriptor *e = f->descriptor;
  const ProtobufCEnumValue *ev = NULL;
  if (json_is_string(v)) {
    ev = protobuf_c_enum_descriptor_get_value_by_name(e, json_string_value(v));
  } else if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN && json_integer_value(v) <= INT32_MAX) {
    ev = protobuf_c_enum_descriptor_get_value(e, (int)json_integer_value(v));
  } else {
    return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s must be a %s name (a JSON string)", d->short_name, f->name,
                 e->short_name);
  }
  if (ev == NULL) {
    return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s is not a %s name (e.g. %s)", d->short_name, f->name,
                 e->short_name, e->n_values > 1 ? e->values[1].name : e->values[0].name);
  }
  *(int *)member = ev->value;
  return TV_OK;
}

/* One value of field |f| (an element, for lists) into |member|. */
static tv_status set_value(decode_ctx *c, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                           json_t *v, int depth, void *member) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
      if (!json_is_string(v)) {
        return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s must be a string", d->short_name, f->name);
      }
      size_t len = json_string_length(v); /* no NUL inside: jansson refuses \u0000 */
      char *s = tv_json_arena_malloc(len + 1);
      if (s == NULL) {
        return TV_E_NO_MEMORY;
      }
      memcpy(s, json_string_value(v), len + 1);
      *(char **)member = s;
      return TV_OK;
    }
    case PROTOBUF_C_TYPE_BOOL:
      if (!json_is_boolean(v)) {
        return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s must be true or false", d->short_name, f->name);
      }
      *(protobuf_c_boolean *)member = json_is_true(v);
      return TV_OK;
    case PROTOBUF_C_TYPE_ENUM:
      return set_enum(c, d, f, v, member);
    case PROTOBUF_C_TYPE_MESSAGE:
      return decode_message(c, f->descriptor, v, depth + 1, (ProtobufCMessage **)member);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_BYTES:
      /* No request of tokenvault.v1 has one. */
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s cannot be given as JSON", d->short_name, f->name);
    default:
      return set_integer(c, d, f, v, member);
  }
}

/* ---- lists and maps ---- */

size_t tv_json_element_size(const ProtobufCFieldDescriptor *f) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
      return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
      return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
      return sizeof(ProtobufCBinaryData);
    default:
      return 4; /* 32-bit integers, float, enum, protobuf_c_boolean */
  }
}

/* A map entry message for |key| and JSON value |v|. */
static tv_status map_entry(decode_ctx *c, const ProtobufCFieldDescriptor *f, const char *key, json_t *v, int depth,
                           ProtobufCMessage **out) {
  const ProtobufCMessageDescriptor *e = f->descriptor;
  ProtobufCMessage *m = scope_calloc(1, e->sizeof_message);
  if (m == NULL) {
    return TV_E_NO_MEMORY;
  }
  protobuf_c_message_init(e, m);
  *out = m;
  json_t *k = json_string(key);
  tv_status st = k != NULL ? set_value(c, e, &e->fields[0], k, depth, (char *)m + e->fields[0].offset) : TV_E_NO_MEMORY;
  json_decref(k);
  TV_TRY(st);
  return set_value(c, e, &e->fields[1], v, depth, (char *)m + e->fields[1].offset);
}

/* Counts a list element made by |st|: a message element is counted even
 * when filling it failed (it is allocated and attached, and freeing the
 * request frees exactly the counted elements). */
static tv_status counted(tv_status st, const ProtobufCFieldDescriptor *f, const void *slot, size_t *count) {
  if (st == TV_OK || (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void *const *)slot != NULL)) {
    (*count)++;
  }
  return st;
}

static tv_status set_list(decode_ctx *c, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                          json_t *v, int depth, ProtobufCMessage *m) {
  int is_map = tv_json_is_map(f);
  if (is_map ? !json_is_object(v) : !json_is_array(v)) {
    return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s must be %s", d->short_name, f->name,
                 is_map ? "an object" : "a list");
  }
  size_t n = is_map ? json_object_size(v) : json_array_size(v);
  /* Checked again by tv_request_decode; here it bounds this allocation. */
  if (n > TV_REQUEST_ITEMS_MAX) {
    return failf(c, TV_E_SERVER_REQUEST_TOO_LARGE, "%s.%s has %zu items, the limit is %d", d->short_name, f->name, n,
                 TV_REQUEST_ITEMS_MAX);
  }
  size_t size = tv_json_element_size(f);
  char *items = scope_calloc(n > 0 ? n : 1, size);
  if (items == NULL) {
    return TV_E_NO_MEMORY;
  }
  size_t *count = (size_t *)((char *)m + f->quantifier_offset);
  *(char **)((char *)m + f->offset) = items;
  *count = 0; /* grows as elements are made, so a failure frees exactly those */
  if (is_map) {
    const char *key;
    json_t *value;
    json_object_foreach(v, key, value) {
      TV_TRY(counted(map_entry(c, f, key, value, depth, (ProtobufCMessage **)(items + *count * size)), f,
                     items + *count * size, count));
    }
    return TV_OK;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(v, i);
    if (json_is_null(e)) {
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s has a null item", d->short_name, f->name);
    }
    TV_TRY(counted(set_value(c, d, f, e, depth, items + i * size), f, items + i * size, count));
  }
  return TV_OK;
}

/* ---- messages ---- */

static tv_status set_field(decode_ctx *c, const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f,
                           json_t *v, int depth, ProtobufCMessage *m) {
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    return set_list(c, d, f, v, depth, m);
  }
  if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
    uint32_t *which = (uint32_t *)((char *)m + f->quantifier_offset);
    if (*which != 0 && *which != f->id) {
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s cannot be given with another member of its oneof",
                   d->short_name, f->name);
    }
    *which = f->id; /* first: a sub-message made before a failure is freed by its case */
    return set_value(c, d, f, v, depth, (char *)m + f->offset);
  }
  TV_TRY(set_value(c, d, f, v, depth, (char *)m + f->offset));
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
      f->type != PROTOBUF_C_TYPE_MESSAGE) {
    *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1; /* has_ */
  }
  return TV_OK;
}

static tv_status fill_message(decode_ctx *c, const ProtobufCMessageDescriptor *d, json_t *obj, int depth,
                              ProtobufCMessage *m) {
  unsigned char seen[64] = {0}; /* our messages have far fewer fields */
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    const ProtobufCFieldDescriptor *f = find_field(d, key);
    if (f == NULL) {
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s has no field %s", d->short_name, printable_key(key));
    }
    size_t index = (size_t)(f - d->fields);
    if (index < sizeof seen) {
      if (seen[index]) {
        return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s.%s is given twice (by its proto and its JSON name)",
                     d->short_name, f->name);
      }
      seen[index] = 1;
    }
    if (json_is_null(v)) {
      continue; /* proto3 JSON: null is the field's default */
    }
    TV_TRY(set_field(c, d, f, v, depth, m));
  }
  return TV_OK;
}

static tv_status decode_message(decode_ctx *c, const ProtobufCMessageDescriptor *d, json_t *obj, int depth,
                                ProtobufCMessage **out) {
  *out = NULL;
  if (depth > TV_JSON_DEPTH_MAX) {
    return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s is nested too deeply", d->short_name);
  }
  if (!json_is_object(obj)) {
    return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s must be a JSON object", d->short_name);
  }
  if (d->n_fields > 64) {
    return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "%s has too many fields for the JSON mapping", d->short_name);
  }
  ProtobufCMessage *m = scope_calloc(1, d->sizeof_message);
  if (m == NULL) {
    return TV_E_NO_MEMORY;
  }
  protobuf_c_message_init(d, m);
  *out = m; /* the caller frees it on failure too: it is always consistent */
  return fill_message(c, d, obj, depth, m);
}

/* ---- the body ---- */

/* A sentence for jansson's error, by its code only: jansson's own text
 * quotes the input near the error, and the input may be a value. */
static tv_status parse_error(decode_ctx *c, const json_error_t *e) {
  switch (json_error_code(e)) {
    case json_error_out_of_memory:
      return TV_E_NO_MEMORY;
    case json_error_invalid_utf8:
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "the request body is not valid UTF-8 (byte %d)", e->position);
    case json_error_duplicate_key:
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "the request body has a duplicate key (line %d, column %d)",
                   e->line, e->column);
    case json_error_numeric_overflow:
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "a number in the request body is too large (line %d, column %d)",
                   e->line, e->column);
    case json_error_null_character:
    case json_error_null_byte_in_key:
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "the request body has a NUL character (\\u0000) in a string");
    case json_error_stack_overflow:
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "the request body is nested too deeply");
    case json_error_premature_end_of_input:
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "the request body ends inside its JSON value");
    case json_error_end_of_input_expected:
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "the request body has more after its JSON object (line %d, column %d)",
                   e->line, e->column);
    default:
      return failf(c, TV_E_SERVER_REQUEST_MALFORMED, "the request body is not valid JSON (line %d, column %d)",
                   e->line, e->column);
  }
}

static tv_status pack_and_decode(tv_request *req, const tv_method *method, const ProtobufCMessage *m, char *out_err,
                                 size_t out_err_len) {
  size_t len = protobuf_c_message_get_packed_size(m);
  uint8_t *wire = tv_json_arena_malloc(len > 0 ? len : 1);
  if (wire == NULL) {
    return TV_E_NO_MEMORY;
  }
  size_t packed = protobuf_c_message_pack(m, wire);
  tv_status st = tv_request_decode(req, method, wire, packed, out_err, out_err_len);
  tv_json_arena_free(wire); /* wiped: now if malloc'ed, else with the scope */
  return st;
}

/* Parses the body and maps it onto a new protobuf-c message |*out| (set
 * also on failure, for the caller to free). The tree is freed here. */
static tv_status parse_into_message(decode_ctx *c, const tv_method *method, const char *body, size_t body_len,
                                    ProtobufCMessage **out) {
  json_error_t jerr;
  json_t *root = body_len == 0 ? json_object() : json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL) {
    return body_len == 0 ? TV_E_NO_MEMORY : parse_error(c, &jerr);
  }
  tv_status st = json_is_object(root) ? decode_message(c, method->request, root, 0, out)
                                      : failf(c, TV_E_SERVER_REQUEST_MALFORMED, "the request body must be a JSON "
                                                                                "object (%s)",
                                              method->request->short_name);
  json_decref(root);
  return st;
}

tv_status tv_json_request_decode(tv_request *req, const tv_method *method, const char *body, size_t body_len,
                                 char *out_err, size_t out_err_len) {
  TV_ENSURE(req != NULL && method != NULL && out_err != NULL && out_err_len > 0, TV_E_INVALID_ARGUMENT);
  memset(req, 0, sizeof *req);
  out_err[0] = '\0';
  tv_json_use_wiping_allocator();
  decode_ctx c = {out_err, out_err_len};
  if (body_len > TV_MESSAGE_BYTES_MAX) {
    return failf(&c, TV_E_SERVER_REQUEST_TOO_LARGE, "the request body is %zu bytes, the limit is %d", body_len,
                 TV_MESSAGE_BYTES_MAX);
  }
  ProtobufCMessage *m = NULL;
  /* The parse tree, the intermediate message and its packed bytes live in
   * the arena (json_arena.h); tv_request_decode's result does not. */
  tv_json_arena_begin();
  tv_status st = parse_into_message(&c, method, body, body_len, &m);
  if (st == TV_OK) {
    st = pack_and_decode(req, method, m, out_err, out_err_len);
  }
  if (m != NULL) {
    protobuf_c_message_free_unpacked(m, &scope_allocator);
  }
  tv_json_arena_end();
  if (st == TV_E_NO_MEMORY && out_err[0] == '\0') {
    snprintf(out_err, out_err_len, "out of memory while decoding the request body");
  }
  return st;
}
