/* protobuf-c message -> proto3 JSON text (json_codec.h), and the wiping
 * allocator jansson uses for both directions. */
#include "vault/server/http/json_codec.h"

#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "vault/server/http/json_arena.h"
#include "vault/util/secure_mem.h"

/* ---- wiping allocator ---- */

/* Parsed bodies and encoded answers hold values: no block goes back to
 * the heap with one in it (json_arena.h: blocks of a request's scope are
 * wiped together at its end, others when freed). */
static void wiping_free(void *p) {
  if (p != NULL) {
    tv_wipe(p, malloc_usable_size(p));
    free(p);
  }
}

static void install_allocator(void) { json_set_alloc_funcs(tv_json_arena_malloc, tv_json_arena_free); }

void tv_json_use_wiping_allocator(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  (void)pthread_once(&once, install_allocator);
}

void tv_json_text_free(void *text) { wiping_free(text); }

/* ---- values ---- */

static json_t *encode_message(const ProtobufCMessage *m);

static json_t *decimal_string(int is_signed, int64_t s, uint64_t u) {
  char text[24];
  if (is_signed) {
    snprintf(text, sizeof text, "%" PRId64, s);
  } else {
    snprintf(text, sizeof text, "%" PRIu64, u);
  }
  return json_string(text);
}

static json_t *encode_bytes(const ProtobufCBinaryData *b) {
  if (b->len > (size_t)INT32_MAX / 2) {
    return NULL;
  }
  char *text = malloc(4 * ((b->len + 2) / 3) + 1);
  if (text == NULL) {
    return NULL;
  }
  int n = EVP_EncodeBlock((unsigned char *)text, b->data, (int)b->len);
  json_t *v = n >= 0 ? json_stringn(text, (size_t)n) : NULL;
  free(text);
  return v;
}

static json_t *encode_enum(const ProtobufCFieldDescriptor *f, int value) {
  const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, value);
  return ev != NULL ? json_string(ev->name) : json_integer(value); /* proto3: unknown values as numbers */
}

static json_t *encode_value(const ProtobufCFieldDescriptor *f, const void *member) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      return json_integer(*(const int32_t *)member);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      return json_integer(*(const uint32_t *)member);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      return decimal_string(1, *(const int64_t *)member, 0);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      return decimal_string(0, 0, *(const uint64_t *)member);
    case PROTOBUF_C_TYPE_FLOAT:
      return json_real(*(const float *)member);
    case PROTOBUF_C_TYPE_DOUBLE:
      return json_real(*(const double *)member);
    case PROTOBUF_C_TYPE_BOOL:
      return json_boolean(*(const protobuf_c_boolean *)member);
    case PROTOBUF_C_TYPE_ENUM:
      return encode_enum(f, *(const int *)member);
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(const char *const *)member;
      return json_string(s != NULL ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES:
      return encode_bytes((const ProtobufCBinaryData *)member);
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)member;
      return sub != NULL ? encode_message(sub) : json_null();
    }
  }
  return NULL;
}


/* A map field as a JSON object of its entries' key -> value. */
static json_t *encode_map(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *const *entries, size_t n) {
  json_t *obj = json_object();
  const ProtobufCMessageDescriptor *e = f->descriptor;
  for (size_t i = 0; obj != NULL && i < n; i++) {
    const char *key = *(const char *const *)((const char *)entries[i] + e->fields[0].offset);
    json_t *v = encode_value(&e->fields[1], (const char *)entries[i] + e->fields[1].offset);
    if (v == NULL || json_object_set_new(obj, key != NULL ? key : "", v) != 0) {
      json_decref(obj);
      obj = NULL;
    }
  }
  return obj;
}

static json_t *encode_list(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m) {
  size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
  const char *items = *(const char *const *)((const char *)m + f->offset);
  if (tv_json_is_map(f)) {
    return encode_map(f, (const ProtobufCMessage *const *)(const void *)items, n);
  }
  json_t *arr = json_array();
  size_t size = tv_json_element_size(f);
  for (size_t i = 0; arr != NULL && i < n; i++) {
    json_t *v = encode_value(f, items + i * size);
    if (v == NULL || json_array_append_new(arr, v) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  return arr;
}

/* 1 if |f| has no value to print: an unset oneof member or optional. */
static int field_absent(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m) {
  if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
    return *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id;
  }
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
      f->type != PROTOBUF_C_TYPE_MESSAGE) {
    return !*(const protobuf_c_boolean *)((const char *)m + f->quantifier_offset);
  }
  return 0;
}

static json_t *encode_message(const ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  json_t *obj = json_object();
  for (unsigned i = 0; obj != NULL && i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (field_absent(f, m)) {
      continue;
    }
    json_t *v = f->label == PROTOBUF_C_LABEL_REPEATED ? encode_list(f, m) : encode_value(f, (const char *)m + f->offset);
    if (v == NULL || json_object_set_new(obj, f->name, v) != 0) {
      json_decref(obj);
      obj = NULL;
    }
  }
  return obj;
}

/* The answer's text, out of the arena (it outlives the scope): a
 * malloc'ed buffer that grows by doubling, the old one wiped. */
typedef struct text_buf {
  char *data;
  size_t len, cap;
} text_buf;

static int text_append(const char *p, size_t n, void *ud) {
  text_buf *t = ud;
  if (n + 1 > t->cap - t->len) {
    size_t cap = t->cap * 2;
    while (cap < t->len + n + 1) {
      cap *= 2;
    }
    char *grown = malloc(cap);
    if (grown == NULL) {
      return -1;
    }
    memcpy(grown, t->data, t->len);
    wiping_free(t->data);
    t->data = grown;
    t->cap = cap;
  }
  memcpy(t->data + t->len, p, n);
  t->len += n;
  return 0;
}

/* The tree is built and printed inside one arena scope (json_arena.h). */
static tv_status encode_in_scope(const ProtobufCMessage *msg, text_buf *t) {
  json_t *root = encode_message(msg);
  if (root == NULL) {
    return TV_E_NO_MEMORY;
  }
  int rc = json_dump_callback(root, text_append, t, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(root);
  return rc == 0 ? TV_OK : TV_E_NO_MEMORY;
}

tv_status tv_json_message_encode(const ProtobufCMessage *msg, char **out_text, size_t *out_len) {
  TV_ENSURE(msg != NULL && out_text != NULL && out_len != NULL, TV_E_INVALID_ARGUMENT);
  tv_json_use_wiping_allocator();
  *out_text = NULL;
  *out_len = 0;
  text_buf t = {.data = malloc(4096), .cap = 4096};
  if (t.data == NULL) {
    return TV_E_NO_MEMORY;
  }
  tv_json_arena_begin();
  tv_status st = encode_in_scope(msg, &t);
  tv_json_arena_end();
  if (st != TV_OK) {
    wiping_free(t.data);
    return st;
  }
  t.data[t.len] = '\0';
  *out_text = t.data;
  *out_len = t.len;
  return TV_OK;
}
