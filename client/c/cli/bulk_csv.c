#include "client/c/cli/bulk_csv.h"

#include <string.h>

typedef struct csv_ctx {
  bulk_in *in;
  bulk_batch *b;
  size_t row_start;
  uint64_t row_number;
  cli_diag *diag;
} csv_ctx;

static tv_status too_long(csv_ctx *x) {
  return cli_fail(x->diag, TV_E_FORMAT_TOO_LONG, "row %llu is over %u bytes (a missing closing quote?)",
                  (unsigned long long)x->row_number, BULK_ROW_BYTES_MAX);
}

static tv_status push(csv_ctx *x, int c) {
  if (bulk_raw_push(x->b, x->row_start, (uint8_t)c) != TV_OK) {
    return x->b->raw_len - x->row_start >= BULK_ROW_BYTES_MAX ? too_long(x)
                                                              : cli_fail(x->diag, TV_E_NO_MEMORY, "out of memory");
  }
  return TV_OK;
}

/* A quoted field, opening quote already pushed; leaves the byte after the
 * closing quote in |*c|. */
static tv_status quoted_field(csv_ctx *x, int decode, int *c) {
  for (;;) {
    int q = bulk_in_getc(x->in);
    if (q < 0) {
      return cli_fail(x->diag, TV_E_FORMAT_CHAR, "row %llu: a quoted field is not closed before the end of the file",
                      (unsigned long long)x->row_number);
    }
    TV_TRY(push(x, q));
    if (q == '"') {
      if (bulk_in_peek(x->in) != '"') {
        break;
      }
      TV_TRY(push(x, bulk_in_getc(x->in)));
    }
    if (decode) TV_TRY(bulk_value_push(x->b, (char)q));
  }
  *c = bulk_in_getc(x->in);
  if (*c >= 0 && *c != ',' && *c != '\n' && *c != '\r') {
    return cli_fail(x->diag, TV_E_FORMAT_CHAR, "row %llu: text after a closing quote (quote the whole field)",
                    (unsigned long long)x->row_number);
  }
  return TV_OK;
}

/* An unquoted field starting with |*c|; leaves the delimiter in |*c|. A
 * CR not followed by LF is data. */
static tv_status plain_field(csv_ctx *x, int decode, int *c) {
  while (*c >= 0 && *c != ',' && *c != '\n' && !(*c == '\r' && bulk_in_peek(x->in) == '\n')) {
    TV_TRY(push(x, *c));
    if (decode) TV_TRY(bulk_value_push(x->b, (char)*c));
    *c = bulk_in_getc(x->in);
  }
  return TV_OK;
}

static tv_status field(csv_ctx *x, const bulk_csv_map *map, size_t column, int *c) {
  int target = map == NULL ? (int)column : (column < BULK_CSV_FIELDS_MAX ? map->target[column] : -1);
  int ns_source = target == BULK_CSV_NS_SOURCE;
  int decode = target >= 0 || ns_source;
  bulk_cell cell = {.raw_off = x->b->raw_len, .val_off = x->b->values_len, .row = (uint32_t)x->b->rows};
  if (*c == '"') {
    cell.quoted = 1;
    TV_TRY(push(x, *c));
    TV_TRY(quoted_field(x, decode, c));
  } else {
    TV_TRY(plain_field(x, decode, c));
  }
  if (!decode) {
    return TV_OK;
  }
  cell.raw_len = x->b->raw_len - cell.raw_off;
  cell.val_len = x->b->values_len - cell.val_off;
  cell.ns_source = (uint8_t)ns_source;
  cell.target = ns_source ? 0 : (uint16_t)target;
  cell.ns = map == NULL || ns_source ? 0 : map->target_ns[target];
  cell.skip = cell.val_len == 0 || ns_source;
  if (bulk_value_end(x->b) != TV_OK || bulk_cell_add(x->b, &cell) != TV_OK) {
    return cli_fail(x->diag, TV_E_NO_MEMORY, "out of memory");
  }
  return TV_OK;
}

tv_status bulk_csv_read(bulk_in *in, bulk_batch *b, const bulk_csv_map *map, int *out_eof,
                        cli_diag *diag) {
  csv_ctx x = {.in = in, .b = b, .row_start = b->raw_len, .row_number = b->first_row + b->rows, .diag = diag};
  int c = bulk_in_getc(in);
  *out_eof = c < 0;
  if (c < 0) {
    return in->error ? cli_fail(diag, TV_E_IO, "reading the input failed") : TV_OK;
  }
  for (size_t column = 0;; column++) {
    if (column >= BULK_CSV_FIELDS_MAX) {
      return cli_fail(diag, TV_E_FORMAT_TOO_LONG, "row %llu has over %u columns",
                      (unsigned long long)x.row_number, BULK_CSV_FIELDS_MAX);
    }
    TV_TRY(field(&x, map, column, &c));
    if (c != ',') break;
    TV_TRY(push(&x, c));
    c = bulk_in_getc(in);
  }
  if (c == '\r') {
    TV_TRY(push(&x, c));
    c = bulk_in_getc(in);
    if (c >= 0 && c != '\n') {
      return cli_fail(diag, TV_E_FORMAT_CHAR, "row %llu: a CR after a quoted field must be followed by LF",
                      (unsigned long long)x.row_number);
    }
  }
  if (c == '\n') TV_TRY(push(&x, c));
  if (in->error) return cli_fail(diag, TV_E_IO, "reading the input failed");
  return bulk_row_end(b) == TV_OK ? TV_OK : cli_fail(diag, TV_E_NO_MEMORY, "out of memory");
}

void bulk_csv_write_field(FILE *out, const char *text, size_t len, int quoted) {
  if (!quoted) {
    for (size_t i = 0; i < len && !quoted; i++) {
      quoted = text[i] == ',' || text[i] == '"' || text[i] == '\r' || text[i] == '\n';
    }
  }
  if (!quoted) {
    fwrite(text, 1, len, out);
    return;
  }
  putc('"', out);
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '"') putc('"', out);
    putc(text[i], out);
  }
  putc('"', out);
}
