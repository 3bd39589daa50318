#include "client/c/cli/bulk_batch.h"

#include <stdlib.h>
#include <string.h>

#include "vault/util/secure_mem.h"

static tv_status grow(void **p, size_t *cap, size_t need, size_t elt) {
  if (need <= *cap) {
    return TV_OK;
  }
  size_t cap2 = *cap == 0 ? 1024 : *cap;
  while (cap2 < need) cap2 *= 2;
  void *q = realloc(*p, cap2 * elt);
  if (q == NULL) {
    return TV_E_NO_MEMORY;
  }
  *p = q;
  *cap = cap2;
  return TV_OK;
}

void bulk_batch_reset(bulk_batch *b, uint64_t first_row) {
  if (b->raw != NULL) tv_wipe(b->raw, b->raw_len);
  if (b->values != NULL) tv_wipe(b->values, b->values_len);
  for (size_t i = 0; i < BULK_NS_MAX; i++) {
    tv_client_result_free(b->results[i]);
    b->results[i] = NULL;
    b->ns_items[i] = 0;
  }
  b->raw_len = 0;
  b->values_len = 0;
  b->rows = 0;
  b->cells_count = 0;
  b->first_row = first_row;
}

void bulk_batch_cleanup(bulk_batch *b) {
  bulk_batch_reset(b, 0);
  free(b->raw);
  free(b->values);
  free(b->row_ends);
  free(b->cells);
  memset(b, 0, sizeof *b);
}

tv_status bulk_raw_push_slow(bulk_batch *b, size_t row_start, uint8_t c) {
  if (b->raw_len - row_start >= BULK_ROW_BYTES_MAX) {
    return TV_E_FORMAT_TOO_LONG;
  }
  TV_TRY(grow((void **)&b->raw, &b->raw_cap, b->raw_len + 1, 1));
  b->raw[b->raw_len++] = c;
  return TV_OK;
}

tv_status bulk_value_push_slow(bulk_batch *b, char c) {
  TV_TRY(grow((void **)&b->values, &b->values_cap, b->values_len + 1, 1));
  b->values[b->values_len++] = c;
  return TV_OK;
}

tv_status bulk_cell_add(bulk_batch *b, const bulk_cell *cell) {
  TV_TRY(grow((void **)&b->cells, &b->cells_cap, b->cells_count + 1, sizeof *b->cells));
  b->cells[b->cells_count++] = *cell;
  return TV_OK;
}

tv_status bulk_row_end(bulk_batch *b) {
  TV_TRY(grow((void **)&b->row_ends, &b->rows_cap, b->rows + 1, sizeof *b->row_ends));
  b->row_ends[b->rows++] = b->raw_len;
  return TV_OK;
}
