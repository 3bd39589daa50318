/* bulk_csv — RFC 4180 CSV records, read one at a time into a bulk_batch.
 *
 * Quoted fields may hold commas, doubled quotes and line breaks; records
 * end in LF or CRLF (kept as they were). Only the target columns' values
 * are decoded; every byte of the record is kept raw so the writer can put
 * it back unchanged. */
#ifndef TV_CLI_BULK_CSV_H
#define TV_CLI_BULK_CSV_H

#include <stdint.h>
#include <stdio.h>

#include "client/c/cli/bulk_batch.h"
#include "client/c/cli/cli_diag.h"

/* What to do with each column: its target index, or -1. NULL passed as
 * the map captures every column (target = column index, namespace 0): that
 * is how the header's names are read. */
/* map.target[column] of the --namespace-column column. */
#define BULK_CSV_NS_SOURCE (-2)

typedef struct bulk_csv_map {
  int16_t target[BULK_CSV_FIELDS_MAX]; /* -1: not a target */
  uint16_t target_ns[BULK_TARGETS_MAX];
} bulk_csv_map;

/* bulk_csv_read reads one record from |in| into |b| (raw bytes, target
 * cells, row end). Sets |*out_eof| and adds nothing at the end of input.
 * Malformed input (unterminated quote, text after a closing quote, a
 * record over BULK_ROW_BYTES_MAX) fails with TV_E_FORMAT_* and |diag|
 * naming the row. */
tv_status bulk_csv_read(bulk_in *in, bulk_batch *b, const bulk_csv_map *map, int *out_eof,
                        cli_diag *diag);

/* bulk_csv_write_field writes |text| as a CSV field: quoted when |quoted|
 * or when the text needs it (comma, quote, CR, LF). */
void bulk_csv_write_field(FILE *out, const char *text, size_t len, int quoted);

#endif
