/* Checked cursors over byte buffers: every read and write is bounds-checked
 * against what remains, so a length field read from disk can never move a
 * pointer past the end of the data it came with. All integers are
 * little-endian on disk. */
#ifndef TV_STORE_CURSOR_H
#define TV_STORE_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vault/util/status.h"

/* tv_cursor reads from |data|; |len| bytes remain. */
typedef struct tv_cursor {
  const uint8_t *data;
  size_t len;
} tv_cursor;

/* The readers are inline: replay decodes millions of records per second
 * and a call per field would cost more than the field. */

/* tv_le32/tv_le64 load little-endian integers from a position the caller
 * has already bounds-checked; tv_put_le32/tv_put_le64 store them. */
static inline uint32_t tv_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t tv_le64(const uint8_t *p) { return (uint64_t)tv_le32(p) | (uint64_t)tv_le32(p + 4) << 32; }

void tv_put_le32(uint8_t *p, uint32_t v);
void tv_put_le64(uint8_t *p, uint64_t v);

/* tv_cursor_init points |c| at |len| bytes of |data| (not copied). */
static inline void tv_cursor_init(tv_cursor *c, const uint8_t *data, size_t len) {
  c->data = data;
  c->len = len;
}

/* tv_cursor_bytes sets |*out| to the next |len| bytes (not copied) and
 * advances, or returns TV_E_STORE_RECORD_TRUNCATED and leaves |c| as it
 * was. */
static inline tv_status tv_cursor_bytes(tv_cursor *c, const uint8_t **out, size_t len) {
  TV_ENSURE(c->len >= len, TV_E_STORE_RECORD_TRUNCATED);
  *out = c->data;
  c->data += len;
  c->len -= len;
  return TV_OK;
}

/* tv_cursor_u8/u16/u32/u64 read a little-endian integer into |out|, or
 * return TV_E_STORE_RECORD_TRUNCATED (cursor unchanged). */
static inline tv_status tv_cursor_u8(tv_cursor *c, uint8_t *out) {
  const uint8_t *p;
  TV_TRY(tv_cursor_bytes(c, &p, 1));
  *out = p[0];
  return TV_OK;
}

static inline tv_status tv_cursor_u16(tv_cursor *c, uint16_t *out) {
  const uint8_t *p;
  TV_TRY(tv_cursor_bytes(c, &p, 2));
  *out = (uint16_t)(p[0] | p[1] << 8);
  return TV_OK;
}

static inline tv_status tv_cursor_u32(tv_cursor *c, uint32_t *out) {
  const uint8_t *p;
  TV_TRY(tv_cursor_bytes(c, &p, 4));
  *out = tv_le32(p);
  return TV_OK;
}

static inline tv_status tv_cursor_u64(tv_cursor *c, uint64_t *out) {
  const uint8_t *p;
  TV_TRY(tv_cursor_bytes(c, &p, 8));
  *out = tv_le64(p);
  return TV_OK;
}

/* tv_cursor_copy copies the next |len| bytes into |out|, or returns
 * TV_E_STORE_RECORD_TRUNCATED. */
static inline tv_status tv_cursor_copy(tv_cursor *c, uint8_t *out, size_t len) {
  const uint8_t *p;
  TV_TRY(tv_cursor_bytes(c, &p, len));
  if (len > 0) {
    memcpy(out, p, len);
  }
  return TV_OK;
}

/* tv_builder writes into |data| of capacity |cap|; |len| bytes are used. */
typedef struct tv_builder {
  uint8_t *data;
  size_t cap;
  size_t len;
} tv_builder;

/* tv_builder_init starts writing at |data| (capacity |cap|, not owned). */
void tv_builder_init(tv_builder *b, uint8_t *data, size_t cap);

/* tv_builder_u8/u16/u32/u64/bytes append, or return TV_E_INVALID_ARGUMENT
 * (and write nothing) if the buffer is too small. */
tv_status tv_builder_u8(tv_builder *b, uint8_t v);
tv_status tv_builder_u16(tv_builder *b, uint16_t v);
tv_status tv_builder_u32(tv_builder *b, uint32_t v);
tv_status tv_builder_u64(tv_builder *b, uint64_t v);
tv_status tv_builder_bytes(tv_builder *b, const void *p, size_t len);

#endif
