#include "vault/server/common/wire_scan.h"

#include <stdio.h>
#include <string.h>

#include "vault/service/limits.h"

/* A read cursor that refuses to run past its end. */
typedef struct wire_reader {
  const uint8_t *p;
  size_t len;
  size_t pos;
} wire_reader;

static int wire_read_varint(wire_reader *r, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (r->pos >= r->len) {
      return 0;
    }
    uint8_t b = r->p[r->pos++];
    v |= (uint64_t)(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      *out = v;
      return 1;
    }
  }
  return 0; /* more than 10 bytes */
}

static int wire_skip(wire_reader *r, uint64_t n) {
  if (n > r->len - r->pos) {
    return 0;
  }
  r->pos += (size_t)n;
  return 1;
}

static tv_status scan_message(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, int depth,
                              char *out_err, size_t out_err_len);

/* Checks one length-delimited field's payload against its declared type. */
static tv_status scan_delimited(const ProtobufCMessageDescriptor *desc, uint32_t number, const uint8_t *p,
                                size_t len, int depth, char *out_err, size_t out_err_len) {
  const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field(desc, (unsigned)number);
  if (field == NULL) {
    return TV_OK; /* unknown field: protobuf-c keeps it; it is never used */
  }
  if (field->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, len) != NULL) {
    snprintf(out_err, out_err_len, "%s.%s contains a NUL byte", desc->short_name, field->name);
    return TV_E_SERVER_REQUEST_MALFORMED;
  }
  if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
    return scan_message(field->descriptor, p, len, depth + 1, out_err, out_err_len);
  }
  return TV_OK;
}

static tv_status scan_message(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, int depth,
                              char *out_err, size_t out_err_len) {
  if (depth > TV_MESSAGE_DEPTH_MAX) {
    snprintf(out_err, out_err_len, "%s nested deeper than %d (TV_MESSAGE_DEPTH_MAX)", desc->short_name,
             TV_MESSAGE_DEPTH_MAX);
    return TV_E_SERVER_REQUEST_MALFORMED;
  }
  wire_reader r = {p, len, 0};
  while (r.pos < r.len) {
    size_t at = r.pos;
    uint64_t key = 0;
    uint64_t n = 0;
    int ok = wire_read_varint(&r, &key);
    uint64_t number = key >> 3;
    if (ok && (number == 0 || number > 536870911u)) {
      ok = 0;
    }
    switch (ok ? (unsigned)(key & 7) : 8u) {
      case 0:
        ok = wire_read_varint(&r, &n);
        break;
      case 1:
        ok = wire_skip(&r, 8);
        break;
      case 5:
        ok = wire_skip(&r, 4);
        break;
      case 2:
        ok = wire_read_varint(&r, &n) && n <= r.len - r.pos;
        if (ok) {
          TV_TRY(scan_delimited(desc, (uint32_t)number, r.p + r.pos, (size_t)n, depth, out_err, out_err_len));
          r.pos += (size_t)n;
        }
        break;
      default: /* groups (3, 4), 6, 7, or an unreadable key */
        ok = 0;
        break;
    }
    if (!ok) {
      snprintf(out_err, out_err_len, "%s is not a valid protobuf message: bad or truncated field at byte %zu of %zu",
               desc->short_name, at, len);
      return TV_E_SERVER_REQUEST_MALFORMED;
    }
  }
  return TV_OK;
}

tv_status tv_wire_scan(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, char *out_err,
                       size_t out_err_len) {
  TV_ENSURE(desc != NULL && (p != NULL || len == 0), TV_E_INVALID_ARGUMENT);
  return scan_message(desc, p, len, 0, out_err, out_err_len);
}

/* Admission counts items before decoding: one pass over the top-level
 * fields, no allocation. Malformed input stops the count (the decoder
 * refuses it later). */
size_t tv_wire_count_items(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len) {
  if (desc == NULL || p == NULL) {
    return 0;
  }
  wire_reader r = {p, len, 0};
  size_t items = 0;
  uint64_t key = 0;
  uint64_t n = 0;
  while (r.pos < r.len && wire_read_varint(&r, &key)) {
    unsigned type = (unsigned)(key & 7);
    int ok = type == 0 ? wire_read_varint(&r, &n)
             : type == 1 ? wire_skip(&r, 8)
             : type == 5 ? wire_skip(&r, 4)
             : type == 2 ? wire_read_varint(&r, &n) && wire_skip(&r, n)
                         : 0;
    if (!ok) {
      break;
    }
    const ProtobufCFieldDescriptor *f =
        key >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(key >> 3)) : NULL;
    if (type == 2 && f != NULL && f->label == PROTOBUF_C_LABEL_REPEATED &&
        (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES)) {
      items++;
    }
  }
  return items;
}
