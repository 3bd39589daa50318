/* bulk_batch — a batch of file rows on its way through the vault.
 *
 * A batch keeps the raw bytes of its rows exactly as read (so everything
 * that is not (de)tokenized is written back byte for byte), the decoded
 * values of the cells to send, and where each cell sits in the raw bytes.
 * Its buffers are reused from batch to batch: memory is bounded by the
 * largest batch, whatever the file size. */
#ifndef TV_CLI_BULK_BATCH_H
#define TV_CLI_BULK_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client/c/lib/tokenvault.h"
#include "vault/util/status.h"

/* Distinct namespaces one job may use (--streams streams each), those
 * named by rows (--namespace-column) included. */
#define BULK_NS_MAX 32u
/* cell.ns of a cell whose namespace its row names, until bulk_ns_resolve. */
#define BULK_NS_ROW UINT16_MAX
/* Named columns or fields one job may (de)tokenize. */
#define BULK_TARGETS_MAX 64u
/* Columns a CSV row may have: wider rows are not plausible CRM exports. */
#define BULK_CSV_FIELDS_MAX 4096u
/* One row (CSV record or JSON line): beyond it the input is refused, so a
 * missing quote cannot make the tool buffer a whole file. */
#define BULK_ROW_BYTES_MAX (1024u * 1024u)

typedef struct bulk_cell {
  size_t raw_off;  /* the field in the batch's raw bytes (quotes included) */
  size_t raw_len;
  size_t val_off;  /* its decoded value in the batch's values */
  size_t val_len;
  uint32_t row;    /* row index within the batch */
  uint32_t item;   /* index within its namespace's request */
  uint16_t ns;     /* namespace index */
  uint16_t target; /* index in the --columns list, for messages */
  uint8_t quoted;  /* CSV: the field was quoted; JSON: a string */
  uint8_t skip;    /* nothing to send: empty field or JSON null */
  uint8_t not_string; /* JSON: a number, object... where a string belongs */
  uint8_t ns_source;  /* the row's --namespace-column cell: written as is */
  const char *fail;   /* not sent: the status name it fails with (its row's
                       * namespace is missing or unusable), else NULL */
} bulk_cell;

/* bulk_cell_sent: the cell goes to the vault. */
static inline int bulk_cell_sent(const bulk_cell *c) {
  return !c->skip && !c->not_string && c->fail == NULL;
}

typedef struct bulk_batch {
  uint64_t first_row; /* 1-based number of the batch's first data row */
  uint8_t *raw;
  size_t raw_len, raw_cap;
  char *values;
  size_t values_len, values_cap;
  size_t *row_ends; /* end offset of each row in raw */
  size_t rows, rows_cap;
  bulk_cell *cells;
  size_t cells_count, cells_cap;
  size_t ns_items[BULK_NS_MAX];
  size_t lane; /* which of the namespace's streams carries it */
  tv_client_result *results[BULK_NS_MAX];
} bulk_batch;

/* bulk_batch_reset empties |b| for reuse, wiping the bytes it held (rows
 * of a tokenize job are plaintext). */
void bulk_batch_reset(bulk_batch *b, uint64_t first_row);

/* bulk_batch_cleanup wipes and frees |b|'s buffers. */
void bulk_batch_cleanup(bulk_batch *b);

/* The slow paths of the pushes below: grow the buffer, then append. */
tv_status bulk_raw_push_slow(bulk_batch *b, size_t row_start, uint8_t c);
tv_status bulk_value_push_slow(bulk_batch *b, char c);

/* bulk_raw_push appends byte |c| to the raw bytes (TV_E_FORMAT_TOO_LONG
 * past BULK_ROW_BYTES_MAX in the current row starting at |row_start|).
 * Inline: it runs once per input byte. */
static inline tv_status bulk_raw_push(bulk_batch *b, size_t row_start, uint8_t c) {
  if (b->raw_len < b->raw_cap && b->raw_len - row_start < BULK_ROW_BYTES_MAX) {
    b->raw[b->raw_len++] = c;
    return TV_OK;
  }
  return bulk_raw_push_slow(b, row_start, c);
}

/* bulk_value_push appends |c| to the values; bulk_value_end terminates
 * the current value with a NUL. */
static inline tv_status bulk_value_push(bulk_batch *b, char c) {
  if (b->values_len < b->values_cap) {
    b->values[b->values_len++] = c;
    return TV_OK;
  }
  return bulk_value_push_slow(b, c);
}

static inline tv_status bulk_value_end(bulk_batch *b) {
  return bulk_value_push(b, '\0');
}

/* bulk_cell_add appends a cell (copied) and returns TV_OK. */
tv_status bulk_cell_add(bulk_batch *b, const bulk_cell *cell);

/* bulk_row_end records that the current row ends at raw_len. */
tv_status bulk_row_end(bulk_batch *b);

/* A buffered byte source over a FILE, counting bytes for the progress bar. */
#define BULK_IN_BUFFER_BYTES (256u * 1024u)
typedef struct bulk_in {
  FILE *file;
  uint8_t *buf;
  size_t pos, len;
  uint64_t bytes;
  int error;
} bulk_in;

/* bulk_in_getc returns the next byte or -1 at the end (or on a read
 * error: then |in->error| is set). */
static inline int bulk_in_getc(bulk_in *in) {
  if (in->pos == in->len) {
    in->len = fread(in->buf, 1, BULK_IN_BUFFER_BYTES, in->file);
    in->pos = 0;
    if (in->len == 0) {
      in->error = ferror(in->file);
      return -1;
    }
  }
  in->bytes++;
  return in->buf[in->pos++];
}

/* bulk_in_peek returns the next byte without taking it, or -1. */
static inline int bulk_in_peek(bulk_in *in) {
  int c = bulk_in_getc(in);
  if (c >= 0) {
    in->pos--;
    in->bytes--;
  }
  return c;
}

#endif
