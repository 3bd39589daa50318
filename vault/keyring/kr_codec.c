#include "vault/keyring/kr_codec.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void kr_reader_init(kr_reader *r, const uint8_t *data, size_t len) {
  r->data = data;
  r->len = data != NULL ? len : 0;
  r->off = 0;
}

size_t kr_reader_left(const kr_reader *r) {
  assert(r->off <= r->len);
  return r->len - r->off;
}

tv_status kr_read_bytes(kr_reader *r, uint8_t *out, size_t len) {
  TV_ENSURE(len <= kr_reader_left(r), TV_E_KEYRING_CORRUPT);
  if (len > 0) {
    memcpy(out, r->data + r->off, len);
  }
  r->off += len;
  return TV_OK;
}

static tv_status read_be(kr_reader *r, uint64_t *out, size_t width) {
  uint8_t bytes[8];
  TV_TRY(kr_read_bytes(r, bytes, width));
  uint64_t v = 0;
  for (size_t i = 0; i < width; i++) {
    v = (v << 8) | bytes[i];
  }
  *out = v;
  return TV_OK;
}

tv_status kr_read_u8(kr_reader *r, uint8_t *out) {
  uint64_t v = 0;
  TV_TRY(read_be(r, &v, 1));
  *out = (uint8_t)v;
  return TV_OK;
}

tv_status kr_read_u16(kr_reader *r, uint16_t *out) {
  uint64_t v = 0;
  TV_TRY(read_be(r, &v, 2));
  *out = (uint16_t)v;
  return TV_OK;
}

tv_status kr_read_u32(kr_reader *r, uint32_t *out) {
  uint64_t v = 0;
  TV_TRY(read_be(r, &v, 4));
  *out = (uint32_t)v;
  return TV_OK;
}

tv_status kr_read_u64(kr_reader *r, uint64_t *out) { return read_be(r, out, 8); }

tv_status kr_read_str(kr_reader *r, char *out, size_t out_max, int allow_empty) {
  assert(out_max > 0);
  uint8_t len = 0;
  TV_TRY(kr_read_u8(r, &len));
  TV_ENSURE(len < out_max && (len > 0 || allow_empty), TV_E_KEYRING_CORRUPT);
  TV_TRY(kr_read_bytes(r, (uint8_t *)out, len));
  out[len] = '\0';
  for (size_t i = 0; i < len; i++) {
    TV_ENSURE(out[i] >= 0x20 && out[i] <= 0x7e, TV_E_KEYRING_CORRUPT);
  }
  return TV_OK;
}

static int writer_grow(kr_writer *w, size_t more) {
  if (w->failed) {
    return 0;
  }
  if (w->cap - w->len >= more) {
    return 1;
  }
  size_t cap = w->cap != 0 ? w->cap : 4096;
  while (cap - w->len < more) {
    cap *= 2;
  }
  uint8_t *buf = realloc(w->buf, cap);
  if (buf == NULL) {
    w->failed = 1;
    return 0;
  }
  w->buf = buf;
  w->cap = cap;
  return 1;
}

void kr_write_bytes(kr_writer *w, const uint8_t *p, size_t len) {
  if (len == 0 || !writer_grow(w, len)) {
    return;
  }
  memcpy(w->buf + w->len, p, len);
  w->len += len;
}

static void write_be(kr_writer *w, uint64_t v, size_t width) {
  uint8_t bytes[8];
  for (size_t i = width; i > 0; i--) {
    bytes[i - 1] = (uint8_t)v;
    v >>= 8;
  }
  kr_write_bytes(w, bytes, width);
}

void kr_write_u8(kr_writer *w, uint8_t v) { write_be(w, v, 1); }
void kr_write_u16(kr_writer *w, uint16_t v) { write_be(w, v, 2); }
void kr_write_u32(kr_writer *w, uint32_t v) { write_be(w, v, 4); }
void kr_write_u64(kr_writer *w, uint64_t v) { write_be(w, v, 8); }

void kr_write_str(kr_writer *w, const char *s) {
  size_t len = strlen(s);
  assert(len <= 255);
  kr_write_u8(w, (uint8_t)len);
  kr_write_bytes(w, (const uint8_t *)s, len);
}

void kr_writer_reset(kr_writer *w) {
  free(w->buf);
  memset(w, 0, sizeof *w);
}
