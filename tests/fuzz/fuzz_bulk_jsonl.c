/* libFuzzer target: arbitrary bytes as a JSON Lines file for `tokenvault
 * tokenize --jsonl` with fields "a", "b" and "pan". Properties:
 *   - the reader never over-reads, crashes or recurses without bound;
 *   - the raw bytes it keeps are exactly the input read so far (everything
 *     not tokenized is written back byte for byte);
 *   - each string cell's decoded value, written back by
 *     bulk_json_write_string inside an object, reads again to the same
 *     bytes, and its raw text starts and ends with a quote. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/bulk_jsonl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buffer[BULK_IN_BUFFER_BYTES];

static void check(int cond) {
  if (!cond) {
    abort();
  }
}

static void map_init(bulk_jsonl_map *map) {
  memset(map, 0, sizeof *map);
  map->names[0] = "a";
  map->names[1] = "b";
  map->names[2] = "pan";
  map->target_ns[2] = 1;
  map->count = 3;
}

/* reencode_reads_back writes {"a":<value>}\n and reads it again. */
static void reencode_reads_back(const char *value, size_t len) {
  char *line = NULL;
  size_t line_len = 0;
  FILE *out = open_memstream(&line, &line_len);
  check(out != NULL);
  fputs("{\"a\":", out);
  bulk_json_write_string(out, value, len);
  fputs("}\n", out);
  check(fclose(out) == 0);
  FILE *file = fmemopen(line, line_len, "rb");
  check(file != NULL);
  static uint8_t again_buffer[BULK_IN_BUFFER_BYTES];
  bulk_in in = {.file = file, .buf = again_buffer};
  bulk_batch b = {0};
  bulk_batch_reset(&b, 1);
  bulk_jsonl_map map;
  map_init(&map);
  int eof = 0;
  cli_diag diag;
  check(bulk_jsonl_read(&in, &b, &map, &eof, &diag) == TV_OK && !eof && b.cells_count == 1);
  check(b.cells[0].val_len == len && memcmp(b.values + b.cells[0].val_off, value, len) == 0);
  bulk_batch_cleanup(&b);
  fclose(file);
  free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *file = fmemopen((void *)(uintptr_t)data, size, "rb");
  if (file == NULL) {
    return 0; /* glibc refuses a zero-length buffer */
  }
  bulk_in in = {.file = file, .buf = buffer};
  bulk_batch b = {0};
  bulk_batch_reset(&b, 1);
  bulk_jsonl_map map;
  map_init(&map);
  tv_status st = TV_OK;
  for (int eof = 0; st == TV_OK && !eof;) {
    cli_diag diag;
    st = bulk_jsonl_read(&in, &b, &map, &eof, &diag);
    check(b.raw_len <= size && (b.raw_len == 0 || memcmp(b.raw, data, b.raw_len) == 0));
  }
  if (st == TV_OK) {
    check(b.raw_len == size);
  }
  for (size_t i = 0; i < b.cells_count; i++) {
    const bulk_cell *c = &b.cells[i];
    check(c->raw_off + c->raw_len <= b.raw_len && c->raw_len > 0);
    if (c->quoted) {
      check(c->raw_len >= 2 && b.raw[c->raw_off] == '"' && b.raw[c->raw_off + c->raw_len - 1] == '"');
      reencode_reads_back(b.values + c->val_off, c->val_len);
    }
  }
  bulk_batch_cleanup(&b);
  fclose(file);
  return 0;
}
