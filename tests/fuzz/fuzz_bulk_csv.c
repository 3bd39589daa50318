/* libFuzzer target: arbitrary bytes as a CSV file for `tokenvault
 * tokenize --csv`. Properties on every input:
 *   - the reader never over-reads or crashes, and stops (every record
 *     takes at least one byte);
 *   - the raw bytes it keeps are exactly the input read so far, so the
 *     writer puts every untouched byte back unchanged;
 *   - each cell's decoded value encodes back to its raw field: a quoted
 *     field through bulk_csv_write_field, an unquoted one as itself.
 * The first byte picks the column map: every column (as for the header)
 * or only columns 0 and 2. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/bulk_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond) {
  if (!cond) {
    abort();
  }
}

static void check_cell(const bulk_batch *b, const bulk_cell *c) {
  const char *value = b->values + c->val_off;
  const uint8_t *raw = b->raw + c->raw_off;
  check(value[c->val_len] == '\0');
  if (!c->quoted) {
    check(c->raw_len == c->val_len && memcmp(raw, value, c->val_len) == 0);
    return;
  }
  char *encoded = NULL;
  size_t encoded_len = 0;
  FILE *out = open_memstream(&encoded, &encoded_len);
  check(out != NULL);
  bulk_csv_write_field(out, value, c->val_len, 1);
  check(fclose(out) == 0);
  check(encoded_len == c->raw_len && memcmp(encoded, raw, encoded_len) == 0);
  free(encoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *raw, size_t raw_size) {
  static uint8_t buffer[BULK_IN_BUFFER_BYTES];
  if (raw_size == 0) {
    return 0;
  }
  const uint8_t *data = raw + 1;
  size_t size = raw_size - 1;
  bulk_csv_map some;
  memset(&some, 0, sizeof some);
  for (size_t i = 0; i < BULK_CSV_FIELDS_MAX; i++) {
    some.target[i] = -1;
  }
  some.target[0] = 0;
  some.target[2] = 1;
  some.target_ns[1] = 1;
  FILE *file = fmemopen((void *)(uintptr_t)data, size, "rb");
  if (file == NULL) {
    return 0; /* glibc refuses a zero-length buffer */
  }
  bulk_in in = {.file = file, .buf = buffer};
  bulk_batch b = {0};
  bulk_batch_reset(&b, 1);
  tv_status st = TV_OK;
  for (int eof = 0; st == TV_OK && !eof;) {
    cli_diag diag;
    st = bulk_csv_read(&in, &b, (raw[0] & 1) ? &some : NULL, &eof, &diag);
    check(b.raw_len <= size && (b.raw_len == 0 || memcmp(b.raw, data, b.raw_len) == 0));
  }
  if (st == TV_OK) {
    check(b.raw_len == size && (size == 0 || (b.rows > 0 && b.row_ends[b.rows - 1] == size)));
    for (size_t i = 0; i < b.cells_count; i++) {
      check_cell(&b, &b.cells[i]);
    }
  }
  bulk_batch_cleanup(&b);
  fclose(file);
  return 0;
}
