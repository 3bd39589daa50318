/* The row codec: a tv_tokens row (binary result columns, TV_PG_ROW_COLUMNS)
 * to a tv_store_item whose byte fields point into the caller's buffer. */
#include <stdlib.h>
#include <string.h>

#include "vault/store/pg/pg_internal.h"

enum { COL_ID, COL_NS, COL_TOKEN, COL_FP, COL_KEY_VERSION, COL_NONCE, COL_CREATED, COL_EXPIRES, COL_CT, COL_TAG,
       COL_META };

void tv_pg_put_u64(uint8_t out[8], uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    out[i] = (uint8_t)v;
    v >>= 8;
  }
}

uint64_t tv_pg_get_u64(const char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) {
    v = (v << 8) | (uint8_t)p[i];
  }
  return v;
}

tv_status tv_pg_buf_reserve(tv_store_buf *buf, size_t len) {
  if (buf->cap >= len) {
    return TV_OK;
  }
  uint8_t *p = realloc(buf->data, len);
  TV_ENSURE(p != NULL, TV_E_NO_MEMORY);
  buf->data = p;
  buf->cap = len;
  return TV_OK;
}

size_t tv_pg_rows_bytes(const PGresult *res) {
  size_t total = 0;
  for (int r = 0; r < PQntuples(res); r++) {
    total += (size_t)PQgetlength(res, r, COL_NS) + (size_t)PQgetlength(res, r, COL_TOKEN) +
             (size_t)PQgetlength(res, r, COL_CT) + (size_t)PQgetlength(res, r, COL_META);
  }
  return total;
}

/* copy_var copies a variable-length column into |*dst|. */
static const uint8_t *copy_var(const PGresult *res, int row, int col, uint8_t **dst, size_t *out_len) {
  size_t n = (size_t)PQgetlength(res, row, col);
  uint8_t *at = *dst;
  if (n > 0) {
    memcpy(at, PQgetvalue(res, row, col), n);
  }
  *dst += n;
  *out_len = n;
  return at;
}

/* fixed_ok checks that the fixed-size columns have their sizes. */
static int fixed_ok(const PGresult *res, int row) {
  return PQnfields(res) >= TV_PG_ROW_NCOLS && PQgetlength(res, row, COL_ID) == 8 &&
         PQgetlength(res, row, COL_FP) == TV_RECORD_FINGERPRINT_LEN && PQgetlength(res, row, COL_KEY_VERSION) == 8 &&
         PQgetlength(res, row, COL_NONCE) == TV_RECORD_NONCE_LEN && PQgetlength(res, row, COL_CREATED) == 8 &&
         PQgetlength(res, row, COL_EXPIRES) == 8 && PQgetlength(res, row, COL_TAG) == TV_RECORD_TAG_LEN;
}

tv_status tv_pg_row_decode(const PGresult *res, int row, uint8_t **dst, tv_store_item *out) {
  memset(out, 0, sizeof *out);
  TV_ENSURE(fixed_ok(res, row), TV_E_STORE_RECORD_FIELD);
  tv_record_put *p = &out->put;
  uint64_t version = tv_pg_get_u64(PQgetvalue(res, row, COL_KEY_VERSION));
  TV_ENSURE(version <= UINT32_MAX, TV_E_STORE_RECORD_FIELD);
  out->loc = tv_pg_get_u64(PQgetvalue(res, row, COL_ID));
  out->seq = out->loc;
  p->ns = copy_var(res, row, COL_NS, dst, &p->ns_len);
  p->token = copy_var(res, row, COL_TOKEN, dst, &p->token_len);
  p->ciphertext = copy_var(res, row, COL_CT, dst, &p->ciphertext_len);
  p->metadata = copy_var(res, row, COL_META, dst, &p->metadata_len);
  memcpy(p->fingerprint, PQgetvalue(res, row, COL_FP), TV_RECORD_FINGERPRINT_LEN);
  memcpy(p->nonce, PQgetvalue(res, row, COL_NONCE), TV_RECORD_NONCE_LEN);
  memcpy(p->tag, PQgetvalue(res, row, COL_TAG), TV_RECORD_TAG_LEN);
  p->key_version = (uint32_t)version;
  p->created_ms = tv_pg_get_u64(PQgetvalue(res, row, COL_CREATED));
  p->expires_ms = tv_pg_get_u64(PQgetvalue(res, row, COL_EXPIRES));
  out->status = TV_OK;
  return TV_OK;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
  return p + 4;
}

tv_status tv_pg_bytea_array(const uint8_t *const *ptrs, const size_t *lens, size_t n, tv_store_buf *buf,
                            size_t *out_len) {
  enum { BYTEA_OID = 17 };
  size_t total = 20 + 4 * n;
  for (size_t i = 0; i < n; i++) {
    total += lens[i];
  }
  TV_TRY(tv_pg_buf_reserve(buf, total));
  /* ndim, has-nulls, element type, then the one dimension's size and
   * lower bound, then each element as length + bytes. */
  uint8_t *p = put_u32(buf->data, 1);
  p = put_u32(p, 0);
  p = put_u32(p, BYTEA_OID);
  p = put_u32(p, (uint32_t)n);
  p = put_u32(p, 1);
  for (size_t i = 0; i < n; i++) {
    p = put_u32(p, (uint32_t)lens[i]);
    memcpy(p, ptrs[i], lens[i]);
    p += lens[i];
  }
  *out_len = total;
  return TV_OK;
}
