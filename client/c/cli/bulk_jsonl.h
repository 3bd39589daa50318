/* bulk_jsonl — JSON Lines: one JSON object per line, whose named
 * top-level string fields are (de)tokenized. The line's other bytes
 * (spacing, key order, other fields, nested values) are kept as they
 * were. Empty lines pass through. */
#ifndef TV_CLI_BULK_JSONL_H
#define TV_CLI_BULK_JSONL_H

#include <stdint.h>
#include <stdio.h>

#include "client/c/cli/bulk_batch.h"
#include "client/c/cli/cli_diag.h"

typedef struct bulk_jsonl_map {
  const char *names[BULK_TARGETS_MAX];
  uint16_t target_ns[BULK_TARGETS_MAX];
  size_t count;
  const char *ns_field; /* --namespace-column: the row's namespace; NULL */
} bulk_jsonl_map;

/* bulk_jsonl_read reads one line from |in| into |b| with a cell for the
 * first occurrence of each named top-level field (string: value decoded;
 * null: skipped; anything else: marked not_string). Sets |*out_eof| and
 * adds nothing at the end of input. A line that is not one JSON object,
 * or over BULK_ROW_BYTES_MAX, fails with |diag| naming the line. */
tv_status bulk_jsonl_read(bulk_in *in, bulk_batch *b, const bulk_jsonl_map *map, int *out_eof,
                          cli_diag *diag);

/* bulk_json_write_string writes |text| as a JSON string (quotes, escapes
 * for quote, backslash and control characters). */
void bulk_json_write_string(FILE *out, const char *text, size_t len);

#endif
