#include "vault/store/record.h"

#include <assert.h>
#include <string.h>

#include "vault/store/crc32c.h"
#include "vault/store/cursor.h"

#define HEADER_CRC_OFFSET 28u
#define HEADER_RESERVED_OFFSET 24u

static size_t align_up(size_t n) {
  return (n + TV_STORE_RECORD_ALIGN - 1) & ~(size_t)(TV_STORE_RECORD_ALIGN - 1);
}

static int key_fields_ok(size_t ns_len, size_t token_len) {
  return ns_len >= 1 && ns_len <= TV_STORE_NAMESPACE_LEN_MAX && token_len >= 1 &&
         token_len <= TV_STORE_TOKEN_LEN_MAX;
}

static int put_fields_ok(const tv_record_put *p) {
  return key_fields_ok(p->ns_len, p->token_len) && p->ciphertext_len <= TV_STORE_CIPHERTEXT_LEN_MAX &&
         p->metadata_len <= TV_STORE_METADATA_LEN_MAX;
}

/* payload_len returns the payload size of |r|, or 0 if a field is out of
 * range (no valid record has an empty payload). */
static size_t payload_len(const tv_record *r) {
  switch (r->header.type) {
    case TV_RECORD_PUT:
    case TV_RECORD_REPUT: {
      const tv_record_put *p = &r->body.put;
      if (!put_fields_ok(p)) {
        return 0;
      }
      return 1 + p->ns_len + 1 + p->token_len + TV_RECORD_FINGERPRINT_LEN + 4 + TV_RECORD_NONCE_LEN + 8 + 8 +
             2 + p->ciphertext_len + TV_RECORD_TAG_LEN + 2 + p->metadata_len;
    }
    case TV_RECORD_DELETE:
      if (!key_fields_ok(r->body.del.ns_len, r->body.del.token_len)) {
        return 0;
      }
      return 1 + r->body.del.ns_len + 1 + r->body.del.token_len + 8;
    case TV_RECORD_SEGMENT_HEADER:
      return 4 + 8 + 8;
    case TV_RECORD_CHECKPOINT:
      return 8 + 8;
    default:
      return 0;
  }
}

size_t tv_record_encoded_len(const tv_record *r) {
  size_t n = payload_len(r);
  if (n == 0 || n > TV_STORE_RECORD_PAYLOAD_LEN_MAX) {
    return 0;
  }
  return align_up(TV_STORE_RECORD_HEADER_LEN + n);
}

static tv_status encode_put(tv_builder *b, const tv_record_put *p) {
  TV_TRY(tv_builder_u8(b, (uint8_t)p->ns_len));
  TV_TRY(tv_builder_bytes(b, p->ns, p->ns_len));
  TV_TRY(tv_builder_u8(b, (uint8_t)p->token_len));
  TV_TRY(tv_builder_bytes(b, p->token, p->token_len));
  TV_TRY(tv_builder_bytes(b, p->fingerprint, TV_RECORD_FINGERPRINT_LEN));
  TV_TRY(tv_builder_u32(b, p->key_version));
  TV_TRY(tv_builder_bytes(b, p->nonce, TV_RECORD_NONCE_LEN));
  TV_TRY(tv_builder_u64(b, p->created_ms));
  TV_TRY(tv_builder_u64(b, p->expires_ms));
  TV_TRY(tv_builder_u16(b, (uint16_t)p->ciphertext_len));
  TV_TRY(tv_builder_bytes(b, p->ciphertext, p->ciphertext_len));
  TV_TRY(tv_builder_bytes(b, p->tag, TV_RECORD_TAG_LEN));
  TV_TRY(tv_builder_u16(b, (uint16_t)p->metadata_len));
  return tv_builder_bytes(b, p->metadata, p->metadata_len);
}

static tv_status encode_payload(tv_builder *b, const tv_record *r) {
  switch (r->header.type) {
    case TV_RECORD_PUT:
    case TV_RECORD_REPUT:
      return encode_put(b, &r->body.put);
    case TV_RECORD_DELETE:
      TV_TRY(tv_builder_u8(b, (uint8_t)r->body.del.ns_len));
      TV_TRY(tv_builder_bytes(b, r->body.del.ns, r->body.del.ns_len));
      TV_TRY(tv_builder_u8(b, (uint8_t)r->body.del.token_len));
      TV_TRY(tv_builder_bytes(b, r->body.del.token, r->body.del.token_len));
      return tv_builder_u64(b, r->body.del.deleted_ms);
    case TV_RECORD_SEGMENT_HEADER:
      TV_TRY(tv_builder_u32(b, r->body.segment.segment_id));
      TV_TRY(tv_builder_u64(b, r->body.segment.created_ms));
      return tv_builder_u64(b, r->body.segment.segment_bytes);
    case TV_RECORD_CHECKPOINT:
      TV_TRY(tv_builder_u64(b, r->body.checkpoint.checkpoint_id));
      return tv_builder_u64(b, r->body.checkpoint.covered_seq);
    default:
      return TV_E_STORE_RECORD_TYPE;
  }
}

static uint32_t record_crc(const uint8_t *rec, size_t len) {
  uint32_t crc = tv_crc32c_extend(0, rec, HEADER_CRC_OFFSET);
  return tv_crc32c_extend(crc, rec + TV_STORE_RECORD_HEADER_LEN, len - TV_STORE_RECORD_HEADER_LEN);
}

tv_status tv_record_encode(const tv_record *r, uint8_t *out, size_t out_cap, size_t *out_len) {
  TV_ENSURE(r->header.flags == 0 || r->header.flags == TV_RECORD_FLAG_COMMIT, TV_E_STORE_RECORD_FIELD);
  size_t plen = payload_len(r);
  TV_ENSURE(plen != 0, r->header.type >= TV_RECORD_SEGMENT_HEADER && r->header.type <= TV_RECORD_CHECKPOINT
                           ? TV_E_STORE_RECORD_FIELD
                           : TV_E_STORE_RECORD_TYPE);
  TV_ENSURE(plen <= TV_STORE_RECORD_PAYLOAD_LEN_MAX, TV_E_STORE_RECORD_TOO_LARGE);
  size_t total = align_up(TV_STORE_RECORD_HEADER_LEN + plen);
  TV_ENSURE(out_cap >= total, TV_E_INVALID_ARGUMENT);

  tv_builder b;
  tv_builder_init(&b, out, total);
  TV_TRY(tv_builder_u32(&b, TV_RECORD_MAGIC));
  TV_TRY(tv_builder_u8(&b, TV_RECORD_VERSION));
  TV_TRY(tv_builder_u8(&b, r->header.type));
  TV_TRY(tv_builder_u16(&b, r->header.flags));
  TV_TRY(tv_builder_u32(&b, (uint32_t)plen));
  TV_TRY(tv_builder_u32(&b, r->header.batch_index));
  TV_TRY(tv_builder_u64(&b, r->header.seq));
  TV_TRY(tv_builder_u32(&b, 0));  /* reserved */
  TV_TRY(tv_builder_u32(&b, 0));  /* CRC, filled below */
  TV_TRY(encode_payload(&b, r));
  assert(b.len == TV_STORE_RECORD_HEADER_LEN + plen);
  memset(out + b.len, 0, total - b.len);
  tv_put_le32(out + HEADER_CRC_OFFSET, record_crc(out, total));
  *out_len = total;
  return TV_OK;
}

void tv_record_set_commit(uint8_t *rec, size_t len) {
  assert(len >= TV_STORE_RECORD_HEADER_LEN);
  rec[6] = (uint8_t)(rec[6] | TV_RECORD_FLAG_COMMIT);
  tv_put_le32(rec + HEADER_CRC_OFFSET, record_crc(rec, len));
}

int tv_record_is_zero(const uint8_t *data, size_t len) {
  uint8_t acc = 0;
  for (size_t i = 0; i < len; i++) {
    acc |= data[i];
  }
  return acc == 0;
}

/* decode_key reads a length-prefixed namespace and token. */
static tv_status decode_key(tv_cursor *c, const uint8_t **ns, size_t *ns_len, const uint8_t **token,
                            size_t *token_len) {
  uint8_t n;
  TV_TRY(tv_cursor_u8(c, &n));
  TV_ENSURE(n >= 1 && n <= TV_STORE_NAMESPACE_LEN_MAX, TV_E_STORE_RECORD_FIELD);
  TV_TRY(tv_cursor_bytes(c, ns, n));
  *ns_len = n;
  TV_TRY(tv_cursor_u8(c, &n));
  TV_ENSURE(n >= 1 && n <= TV_STORE_TOKEN_LEN_MAX, TV_E_STORE_RECORD_FIELD);
  TV_TRY(tv_cursor_bytes(c, token, n));
  *token_len = n;
  return TV_OK;
}

static tv_status decode_put(tv_cursor *c, tv_record_put *p) {
  uint16_t n;
  TV_TRY(decode_key(c, &p->ns, &p->ns_len, &p->token, &p->token_len));
  TV_TRY(tv_cursor_copy(c, p->fingerprint, TV_RECORD_FINGERPRINT_LEN));
  TV_TRY(tv_cursor_u32(c, &p->key_version));
  TV_TRY(tv_cursor_copy(c, p->nonce, TV_RECORD_NONCE_LEN));
  TV_TRY(tv_cursor_u64(c, &p->created_ms));
  TV_TRY(tv_cursor_u64(c, &p->expires_ms));
  TV_TRY(tv_cursor_u16(c, &n));
  TV_ENSURE(n <= TV_STORE_CIPHERTEXT_LEN_MAX, TV_E_STORE_RECORD_FIELD);
  TV_TRY(tv_cursor_bytes(c, &p->ciphertext, n));
  p->ciphertext_len = n;
  TV_TRY(tv_cursor_copy(c, p->tag, TV_RECORD_TAG_LEN));
  TV_TRY(tv_cursor_u16(c, &n));
  TV_ENSURE(n <= TV_STORE_METADATA_LEN_MAX, TV_E_STORE_RECORD_FIELD);
  TV_TRY(tv_cursor_bytes(c, &p->metadata, n));
  p->metadata_len = n;
  return TV_OK;
}

/* decode_payload parses the CRC-checked payload; a length field that
 * points past the payload is reported as LENGTH, not TRUNCATED, because
 * the record itself was complete. */
static tv_status decode_payload(tv_cursor *c, tv_record *out) {
  tv_status st;
  switch (out->header.type) {
    case TV_RECORD_PUT:
    case TV_RECORD_REPUT:
      st = decode_put(c, &out->body.put);
      break;
    case TV_RECORD_DELETE:
      st = decode_key(c, &out->body.del.ns, &out->body.del.ns_len, &out->body.del.token, &out->body.del.token_len);
      if (st == TV_OK) {
        st = tv_cursor_u64(c, &out->body.del.deleted_ms);
      }
      break;
    case TV_RECORD_SEGMENT_HEADER:
      st = tv_cursor_u32(c, &out->body.segment.segment_id);
      if (st == TV_OK) {
        st = tv_cursor_u64(c, &out->body.segment.created_ms);
      }
      if (st == TV_OK) {
        st = tv_cursor_u64(c, &out->body.segment.segment_bytes);
      }
      break;
    case TV_RECORD_CHECKPOINT:
      st = tv_cursor_u64(c, &out->body.checkpoint.checkpoint_id);
      if (st == TV_OK) {
        st = tv_cursor_u64(c, &out->body.checkpoint.covered_seq);
      }
      break;
    default:
      return TV_E_STORE_RECORD_TYPE;
  }
  if (st == TV_E_STORE_RECORD_TRUNCATED) {
    return TV_E_STORE_RECORD_LENGTH;
  }
  TV_TRY(st);
  TV_ENSURE(c->len == 0, TV_E_STORE_RECORD_LENGTH); /* no trailing bytes */
  return TV_OK;
}

static tv_status decode_header(tv_cursor *c, tv_record_header *h) {
  uint32_t magic, reserved, crc;
  uint8_t version;
  TV_TRY(tv_cursor_u32(c, &magic));
  TV_ENSURE(magic == TV_RECORD_MAGIC, TV_E_STORE_RECORD_MAGIC);
  TV_TRY(tv_cursor_u8(c, &version));
  TV_ENSURE(version == TV_RECORD_VERSION, TV_E_STORE_RECORD_VERSION);
  TV_TRY(tv_cursor_u8(c, &h->type));
  TV_TRY(tv_cursor_u16(c, &h->flags));
  TV_TRY(tv_cursor_u32(c, &h->payload_len));
  TV_TRY(tv_cursor_u32(c, &h->batch_index));
  TV_TRY(tv_cursor_u64(c, &h->seq));
  TV_TRY(tv_cursor_u32(c, &reserved));
  TV_TRY(tv_cursor_u32(c, &crc));
  TV_ENSURE(h->payload_len <= TV_STORE_RECORD_PAYLOAD_LEN_MAX, TV_E_STORE_RECORD_TOO_LARGE);
  TV_ENSURE(h->payload_len > 0, TV_E_STORE_RECORD_LENGTH);
  return TV_OK;
}

tv_status tv_record_decode(const uint8_t *data, size_t len, tv_record *out, size_t *out_len) {
  tv_cursor c;
  tv_cursor_init(&c, data, len);
  memset(out, 0, sizeof *out);
  TV_TRY(decode_header(&c, &out->header));
  size_t total = align_up(TV_STORE_RECORD_HEADER_LEN + out->header.payload_len);
  TV_ENSURE(len >= total, TV_E_STORE_RECORD_TRUNCATED);
  TV_ENSURE(tv_le32(data + HEADER_CRC_OFFSET) == record_crc(data, total), TV_E_STORE_RECORD_CRC);
  /* Past the CRC the bytes are what a writer produced: anything odd now is
   * a writer bug or a forged record, refused all the same. */
  TV_ENSURE(tv_le32(data + HEADER_RESERVED_OFFSET) == 0, TV_E_STORE_RECORD_FIELD);
  TV_ENSURE((out->header.flags & ~TV_RECORD_FLAG_COMMIT) == 0, TV_E_STORE_RECORD_FIELD);
  size_t pad_start = TV_STORE_RECORD_HEADER_LEN + out->header.payload_len;
  TV_ENSURE(tv_record_is_zero(data + pad_start, total - pad_start), TV_E_STORE_RECORD_FIELD);
  tv_cursor_init(&c, data + TV_STORE_RECORD_HEADER_LEN, out->header.payload_len);
  TV_TRY(decode_payload(&c, out));
  *out_len = total;
  return TV_OK;
}
