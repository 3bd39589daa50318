/* Results: the decoded responses a tv_client_result's views point into,
 * and their wiping release. */
#include <stdlib.h>
#include <string.h>

#include "client/c/lib/client_internal.h"
#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/util/secure_mem.h"

tv_client_result *tvc_result_new(void) {
  tv_client_result *r = calloc(1, sizeof *r);
  if (r == NULL) {
    return NULL;
  }
  r->owned_ = calloc(1, sizeof *r->owned_);
  if (r->owned_ == NULL) {
    free(r);
    return NULL;
  }
  return r;
}

tv_client_code tvc_result_adopt(tv_client_result *result, ProtobufCMessage *msg,
                                tv_client_error *err) {
  struct tv_client_result_owned *o = result->owned_;
  if (o->messages_count == o->messages_cap) {
    size_t cap = o->messages_cap == 0 ? 4 : o->messages_cap * 2;
    ProtobufCMessage **grown = realloc(o->messages, cap * sizeof *grown);
    if (grown == NULL) {
      if (o->arena == NULL) { /* else freed with the arena */
        tvc_wipe_message(msg);
        protobuf_c_message_free_unpacked(msg, NULL);
      }
      return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
    }
    o->messages = grown;
    o->messages_cap = cap;
  }
  o->messages[o->messages_count++] = msg;
  return TV_CLIENT_OK;
}

static void wipe_field(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f);

/* Generic over the descriptor, so no response type can be forgotten: every
 * string and bytes field, repeated or not, in every submessage. */
void tvc_wipe_message(ProtobufCMessage *msg) {
  if (msg == NULL) {
    return;
  }
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    wipe_field(msg, &d->fields[i]);
  }
}

static void wipe_one(ProtobufCType type, void *slot) {
  if (type == PROTOBUF_C_TYPE_STRING) {
    char *s = *(char **)slot;
    if (s != NULL && s != protobuf_c_empty_string) {
      tv_wipe(s, strlen(s));
    }
  } else if (type == PROTOBUF_C_TYPE_BYTES) {
    ProtobufCBinaryData *b = slot;
    if (b->data != NULL) {
      tv_wipe(b->data, b->len);
    }
  } else if (type == PROTOBUF_C_TYPE_MESSAGE) {
    tvc_wipe_message(*(ProtobufCMessage **)slot);
  }
}

static void wipe_field(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f) {
  if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES &&
      f->type != PROTOBUF_C_TYPE_MESSAGE) {
    return;
  }
  char *base = (char *)msg;
  if (f->label != PROTOBUF_C_LABEL_REPEATED) {
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      uint32_t which = *(uint32_t *)(void *)(base + f->quantifier_offset);
      if (which != f->id) {
        return;
      }
    }
    wipe_one(f->type, base + f->offset);
    return;
  }
  size_t n = *(size_t *)(void *)(base + f->quantifier_offset);
  char *array = *(char **)(void *)(base + f->offset);
  size_t elt = f->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData) : sizeof(void *);
  for (size_t i = 0; i < n && array != NULL; i++) {
    wipe_one(f->type, array + i * elt);
  }
}

void tv_client_result_free(tv_client_result *result) {
  if (result == NULL) {
    return;
  }
  struct tv_client_result_owned *o = result->owned_;
  if (o != NULL) {
    for (size_t i = 0; i < o->messages_count && o->arena == NULL; i++) {
      tvc_wipe_message(o->messages[i]);
      protobuf_c_message_free_unpacked(o->messages[i], NULL);
    }
    tvc_arena_free(o->arena); /* wipes every byte its messages used */
    free(o->arena);
    free(o->messages);
    free(o->items);
    free(o->keys);
    free(o->proposals);
    free(o->rotations);
    free(o->audit_entries);
    free(o->store_namespaces);
    free(o->store_versions);
    free(o);
  }
  free(result);
}

void tvc_item_from_status(tv_client_item *item, const ProtobufCMessage *st) {
  const Tokenvault__V1__ItemStatus *s = (const Tokenvault__V1__ItemStatus *)st;
  if (s == NULL) {
    item->code = 4; /* TV_E_INTERNAL: the server broke the API contract */
    item->name = "INTERNAL";
    item->message = "the server sent no item status";
    return;
  }
  item->code = s->code;
  item->name = s->name;
  item->message = s->message;
}

tv_client_code tvc_check_items(const char *const *items, size_t count, tv_client_error *err) {
  if (items == NULL || count == 0 || count > TV_CLIENT_BATCH_ITEMS_MAX) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "a batch needs 1..%u items (got %zu)",
                    TV_CLIENT_BATCH_ITEMS_MAX, count);
  }
  for (size_t i = 0; i < count; i++) {
    if (items[i] == NULL) {
      return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "item %zu is NULL", i);
    }
  }
  return TV_CLIENT_OK;
}

tv_client_item *tvc_items_grow(tv_client_result *result, size_t n) {
  struct tv_client_result_owned *o = result->owned_;
  size_t total = result->items_count + n;
  tv_client_item *grown = realloc(o->items, (total > 0 ? total : 1) * sizeof *grown);
  if (grown == NULL) {
    return NULL;
  }
  memset(grown + result->items_count, 0, n * sizeof *grown);
  o->items = grown;
  result->items = grown;
  tv_client_item *first = grown + result->items_count;
  result->items_count = total;
  return first;
}
