/* Layout (PostgreSQL array_send): int32 ndim, int32 has_null, uint32
 * element oid, then per dimension int32 size and int32 lower bound, then
 * per element int32 length (-1: NULL) and the bytes; all big-endian. */
#include "client/c/cli/db_text_array.h"

#include <stdlib.h>
#include <string.h>

#include "client/c/lib/tokenvault.h"

#define HEADER_BYTES 20u
/* PostgreSQL refuses a field over 1 GiB. */
#define ARRAY_BYTES_MAX (1u << 30)

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static int reserve(db_text_array *a, size_t more) {
  if (a->failed) return -1;
  if (a->cap == 0) a->len = HEADER_BYTES;
  size_t need = a->len + more;
  if (need > ARRAY_BYTES_MAX) {
    a->failed = 1;
    return -1;
  }
  if (need <= a->cap) return 0;
  size_t cap = a->cap < 4096 ? 4096 : a->cap;
  while (cap < need) cap *= 2;
  uint8_t *grown = malloc(cap);
  if (grown == NULL) {
    a->failed = 1;
    return -1;
  }
  if (a->buf != NULL) {
    memcpy(grown, a->buf, a->len);
    tv_client_wipe(a->buf, a->cap);
    free(a->buf);
  }
  a->buf = grown;
  a->cap = cap;
  return 0;
}

void db_text_array_reset(db_text_array *a) {
  if (a->buf != NULL) tv_client_wipe(a->buf, a->len);
  a->len = HEADER_BYTES;
  a->count = 0;
  a->failed = 0;
}

void db_text_array_push(db_text_array *a, const char *text) {
  size_t n = text != NULL ? strlen(text) : 0;
  if (reserve(a, 4 + n) != 0) return;
  put32(a->buf + a->len, text != NULL ? (uint32_t)n : 0xffffffffu);
  if (n > 0) memcpy(a->buf + a->len + 4, text, n);
  a->len += 4 + n;
  a->count++;
}

const char *db_text_array_finish(db_text_array *a, int *out_len) {
  if (reserve(a, 0) != 0) return NULL;
  put32(a->buf, 1);
  put32(a->buf + 4, 1); /* may contain NULLs: the server checks per element */
  put32(a->buf + 8, DB_TEXT_OID);
  put32(a->buf + 12, a->count);
  put32(a->buf + 16, 1);
  *out_len = (int)a->len;
  return (const char *)a->buf;
}

void db_text_array_free(db_text_array *a) {
  if (a->buf != NULL) tv_client_wipe(a->buf, a->cap);
  free(a->buf);
  memset(a, 0, sizeof *a);
}
