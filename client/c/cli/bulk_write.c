/* Output rows: raw bytes between cells unchanged, each cell replaced by
 * its answer. A cell whose item failed is left as it was when
 * detokenizing (it is a token) but emptied when tokenizing, so a
 * tokenized file never carries a plaintext value. */
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/bulk_job.h"

static void report(bulk_job *job, const bulk_batch *b, const bulk_cell *cell, const char *name,
                   const char *message) {
  job->items_failed++;
  if (job->items_failed > BULK_FAILURES_SHOWN_MAX) return;
  fprintf(job->err, "tokenvault %s: %s %llu, %s %s: %s (%s)\n", job->command, job->jsonl ? "line" : "row",
          (unsigned long long)(b->first_row + cell->row), job->jsonl ? "field" : "column",
          job->target_names[cell->target], name, message);
}

static void write_empty(bulk_job *job, const bulk_cell *cell) {
  if (job->jsonl) {
    fputs(cell->quoted ? "\"\"" : "null", job->out);
  } else if (cell->quoted) {
    fputs("\"\"", job->out);
  }
}

static void write_cell(bulk_job *job, const bulk_batch *b, const bulk_cell *cell) {
  const uint8_t *raw = b->raw + cell->raw_off;
  if (cell->skip) {
    fwrite(raw, 1, cell->raw_len, job->out);
    return;
  }
  if (cell->not_string) {
    report(job, b, cell, "NOT_A_STRING", "the field's value is not a JSON string");
  } else if (cell->fail != NULL) {
    report(job, b, cell, cell->fail, strcmp(cell->fail, ROW_NS_MISSING) == 0
                                         ? "the row names no namespace in the --namespace-column"
                                         : "the row's --namespace-column names no namespace of the vault");
  } else if (b->results[cell->ns] == NULL) { /* its namespace's streams failed: see bulk_ns_failed */
    report(job, b, cell, job->ns_dead[cell->ns] != NULL ? job->ns_dead[cell->ns] : "UNKNOWN",
           "the vault refused the namespace the row names");
  } else {
    const tv_client_item *item = &b->results[cell->ns]->items[cell->item];
    if (item->code == 0) {
      if (job->jsonl) bulk_json_write_string(job->out, item->text, item->text_len);
      else bulk_csv_write_field(job->out, item->text, item->text_len, cell->quoted);
      return;
    }
    report(job, b, cell, item->name, item->message);
  }
  if (job->tokenize) write_empty(job, cell);
  else fwrite(raw, 1, cell->raw_len, job->out);
}

void bulk_write_header(bulk_job *job) {
  if (job->header == NULL) return;
  fwrite(job->header, 1, job->header_len, job->out);
  free(job->header);
  job->header = NULL;
}

void bulk_write_batch(bulk_job *job, const bulk_batch *b) {
  bulk_write_header(job);
  size_t ci = 0;
  size_t row_start = 0;
  for (size_t r = 0; r < b->rows; r++) {
    size_t pos = row_start;
    for (; ci < b->cells_count && b->cells[ci].row == r; ci++) {
      const bulk_cell *cell = &b->cells[ci];
      fwrite(b->raw + pos, 1, cell->raw_off - pos, job->out);
      write_cell(job, b, cell);
      pos = cell->raw_off + cell->raw_len;
    }
    fwrite(b->raw + pos, 1, b->row_ends[r] - pos, job->out);
    row_start = b->row_ends[r];
  }
}
