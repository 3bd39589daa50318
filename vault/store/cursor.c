#include "vault/store/cursor.h"

#include <string.h>

void tv_put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

void tv_put_le64(uint8_t *p, uint64_t v) {
  tv_put_le32(p, (uint32_t)v);
  tv_put_le32(p + 4, (uint32_t)(v >> 32));
}

void tv_builder_init(tv_builder *b, uint8_t *data, size_t cap) {
  b->data = data;
  b->cap = cap;
  b->len = 0;
}

static tv_status builder_reserve(tv_builder *b, uint8_t **out, size_t len) {
  TV_ENSURE(b->cap - b->len >= len, TV_E_INVALID_ARGUMENT);
  *out = b->data + b->len;
  b->len += len;
  return TV_OK;
}

tv_status tv_builder_u8(tv_builder *b, uint8_t v) {
  uint8_t *p;
  TV_TRY(builder_reserve(b, &p, 1));
  p[0] = v;
  return TV_OK;
}

tv_status tv_builder_u16(tv_builder *b, uint16_t v) {
  uint8_t *p;
  TV_TRY(builder_reserve(b, &p, 2));
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  return TV_OK;
}

tv_status tv_builder_u32(tv_builder *b, uint32_t v) {
  uint8_t *p;
  TV_TRY(builder_reserve(b, &p, 4));
  tv_put_le32(p, v);
  return TV_OK;
}

tv_status tv_builder_u64(tv_builder *b, uint64_t v) {
  uint8_t *p;
  TV_TRY(builder_reserve(b, &p, 8));
  tv_put_le64(p, v);
  return TV_OK;
}

tv_status tv_builder_bytes(tv_builder *b, const void *src, size_t len) {
  uint8_t *p;
  TV_TRY(builder_reserve(b, &p, len));
  if (len > 0) {
    memcpy(p, src, len);
  }
  return TV_OK;
}
