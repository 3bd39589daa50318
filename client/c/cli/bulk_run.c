/* The bulk pipeline: read batches, send them on one stream per namespace
 * with several in flight, write answers in order, finish atomically. */
#include "client/c/cli/bulk_run.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/c/cli/bulk_job.h"
#include "client/c/cli/cli_exit.h"

static int usage(bulk_job *job, const char *what, const char *name) {
  fprintf(job->err, "tokenvault %s: %s%s%s (see tokenvault %s --help)\n", job->command, what,
          name != NULL ? ": " : "", name != NULL ? name : "", job->command);
  return CLI_EXIT_USAGE;
}

/* --columns a,b:iban — each name, optionally with its own namespace; one
 * without takes --namespace, else the row's --namespace-column. */
static int parse_columns(bulk_job *job) {
  const char *spec = job->a->columns;
  if (spec == NULL || spec[0] == '\0') return usage(job, "name the columns or fields: --columns a,b[:namespace]", NULL);
  if (strlen(spec) >= sizeof job->columns) return usage(job, "--columns is too long", NULL);
  memcpy(job->columns, spec, strlen(spec) + 1);
  for (char *save = NULL, *tok = strtok_r(job->columns, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
    if (job->targets_count == BULK_TARGETS_MAX) return usage(job, "too many columns (at most 64)", NULL);
    char *colon = strchr(tok, ':');
    const char *ns = job->a->ns;
    if (colon != NULL) {
      *colon = '\0';
      ns = colon + 1;
    }
    if (ns != NULL && ns[0] == '\0') ns = NULL;
    if (tok[0] == '\0' || (ns == NULL && job->a->ns_column == NULL)) {
      return usage(job, "each column needs a name and a namespace (name:namespace, --namespace, or "
                        "--namespace-column for one per row)", tok);
    }
    if (job->a->ns_column != NULL && strcmp(tok, job->a->ns_column) == 0) {
      return usage(job, "the --namespace-column cannot be one of the columns it names namespaces for", tok);
    }
    int n = ns != NULL ? bulk_ns_index(job, ns, strlen(ns), 1) : BULK_NS_ROW;
    if (n < 0) return usage(job, "too many namespaces in one job (at most 32), or a name over 127 bytes", ns);
    job->row_targets += ns == NULL;
    job->target_names[job->targets_count] = tok;
    job->target_ns[job->targets_count++] = (uint16_t)n;
  }
  return 0;
}

/* Rows per batch: each namespace's request must stay within --batch items
 * even when every row fills all its columns (and names, for the columns
 * without one, the namespace that is already the busiest). */
static void size_batches(bulk_job *job) {
  size_t per_ns[BULK_NS_MAX] = {0}, busiest = 0;
  for (size_t t = 0; t < job->targets_count; t++) {
    if (job->target_ns[t] == BULK_NS_ROW) continue;
    if (++per_ns[job->target_ns[t]] > busiest) busiest = per_ns[job->target_ns[t]];
  }
  size_t widest = busiest + job->row_targets > 0 ? busiest + job->row_targets : 1;
  job->rows_per_batch = job->a->batch / widest > 0 ? job->a->batch / widest : 1;
  job->lanes = job->a->streams;
  job->ring_size = job->a->window * job->lanes;
  if (job->ring_size > sizeof job->ring / sizeof job->ring[0]) job->ring_size = sizeof job->ring / sizeof job->ring[0];
}

static int open_files(bulk_job *job, FILE *out) {
  const char *path = job->jsonl ? job->a->jsonl : job->a->csv;
  job->in_file = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (job->in_file == NULL) return usage(job, "cannot open the input file", path);
  struct stat st;
  uint64_t size = fstat(fileno(job->in_file), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
  job->in.file = job->in_file;
  job->in.buf = malloc(BULK_IN_BUFFER_BYTES);
  if (job->in.buf == NULL) return usage(job, "out of memory", NULL);
  job->out = out;
  if (job->a->out != NULL) {
    cli_diag diag;
    if (atomic_out_open(&job->atomic, job->a->out, &diag) != TV_OK) {
      fprintf(job->err, "tokenvault %s: %s\n", job->command, diag.text);
      return CLI_EXIT_FAILURE;
    }
    job->atomic_open = 1;
    job->out = job->atomic.file;
  }
  progress_start(&job->prog, job->err, job->a->progress, size);
  return 0;
}

static int read_row(bulk_job *job, bulk_batch *b, int *eof) {
  cli_diag diag;
  tv_status st = job->jsonl ? bulk_jsonl_read(&job->in, b, &job->jsonl_map, eof, &diag)
                            : bulk_csv_read(&job->in, b, job->csv_map, eof, &diag);
  if (st != TV_OK) {
    fprintf(job->err, "tokenvault %s: %s\n", job->command, diag.text);
    return st == TV_E_IO || st == TV_E_NO_MEMORY ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
  }
  return 0;
}

/* The header's --namespace-column column. */
static int csv_ns_column(bulk_job *job, const bulk_batch *b) {
  const char *name = job->a->ns_column;
  for (size_t c = 0; c < b->cells_count; c++) {
    if (b->cells[c].val_len == strlen(name) && memcmp(b->values + b->cells[c].val_off, name, strlen(name)) == 0) {
      job->csv_map->target[c] = BULK_CSV_NS_SOURCE;
      return 0;
    }
  }
  return usage(job, "no such column in the CSV header (--namespace-column)", name);
}

/* The CSV header names the columns; it is copied to the output as is, but
 * only once the first answers arrive (bulk_write_header): a bad column or
 * an unknown namespace leaves the output untouched. */
static int csv_header(bulk_job *job) {
  job->csv_map = malloc(sizeof *job->csv_map);
  if (job->csv_map == NULL) return usage(job, "out of memory", NULL);
  memset(job->csv_map->target, 0xff, sizeof job->csv_map->target); /* -1: not a target */
  memcpy(job->csv_map->target_ns, job->target_ns, sizeof job->target_ns);
  bulk_batch *b = &job->ring[0];
  bulk_batch_reset(b, 0);
  int eof = 0, rc = 0;
  bulk_csv_map *all = NULL; /* NULL map: capture every header field */
  cli_diag diag;
  if (bulk_csv_read(&job->in, b, all, &eof, &diag) != TV_OK) return usage(job, diag.text, NULL);
  if (eof) return usage(job, "the CSV file is empty: it needs a header row naming the columns", NULL);
  for (size_t t = 0; t < job->targets_count && rc == 0; t++) {
    size_t c = 0;
    while (c < b->cells_count && (b->cells[c].val_len != strlen(job->target_names[t]) ||
                                  memcmp(b->values + b->cells[c].val_off, job->target_names[t], b->cells[c].val_len) != 0)) {
      c++;
    }
    if (c == b->cells_count) rc = usage(job, "no such column in the CSV header", job->target_names[t]);
    else job->csv_map->target[c] = (int16_t)t;
  }
  if (rc == 0 && job->a->ns_column != NULL) rc = csv_ns_column(job, b);
  if (rc != 0) return rc;
  job->header = malloc(b->raw_len);
  if (job->header == NULL) return usage(job, "out of memory", NULL);
  memcpy(job->header, b->raw, b->raw_len);
  job->header_len = b->raw_len;
  return 0;
}

/* The fixed namespaces' streams open before any row is read (a wrong one
 * fails the job, and the held-back header means nothing is written); those
 * the rows name open on first sight (bulk_ns_open in send_batch). */
static int open_streams(bulk_job *job) {
  int rc = 0;
  for (size_t n = 0; n < job->ns_count && rc == 0; n++) rc = bulk_ns_open(job, n);
  return rc;
}

/* Reads up to rows_per_batch rows into |b| and numbers the items. */
static int fill_batch(bulk_job *job, bulk_batch *b, int *eof) {
  bulk_batch_reset(b, job->next_row);
  while (b->rows < job->rows_per_batch && !*eof) {
    int rc = read_row(job, b, eof);
    if (rc != 0) return rc;
  }
  int rc = bulk_ns_resolve(job, b);
  if (rc != 0) return rc;
  for (size_t i = 0; i < b->cells_count; i++) {
    bulk_cell *c = &b->cells[i];
    if (bulk_cell_sent(c)) c->item = (uint32_t)b->ns_items[c->ns]++;
  }
  job->next_row += b->rows;
  return 0;
}

/* Batches go round-robin over the lanes, so taking answers in batch order
 * takes each lane's answers in its own order. */
static int send_batch(bulk_job *job, bulk_batch *b) {
  b->lane = (size_t)(job->batches_sent++ % job->lanes);
  for (size_t n = 0; n < job->ns_count; n++) {
    if (b->ns_items[n] == 0) continue;
    if (!job->ns_open[n]) {
      int rc = bulk_ns_open(job, n);
      if (rc != 0) return rc;
    }
    if (!bulk_ns_live(job, n)) continue; /* its cells fail in bulk_write_batch */
    size_t k = 0;
    for (size_t i = 0; i < b->cells_count; i++) {
      const bulk_cell *c = &b->cells[i];
      if (c->ns != n || !bulk_cell_sent(c)) continue;
      job->ptrs[k] = b->values + c->val_off;
      job->lens[k++] = c->val_len;
    }
    tv_client_error e = {0};
    if (tv_client_stream_send(job->streams[n][b->lane], job->ptrs, job->lens, k, &e) != TV_CLIENT_OK) {
      int rc = bulk_ns_failed(job, n, &e);
      if (rc != 0) return rc;
    }
  }
  return 0;
}

static int finish_batch(bulk_job *job, bulk_batch *b) {
  for (size_t n = 0; n < job->ns_count; n++) {
    if (b->ns_items[n] == 0 || !bulk_ns_live(job, n)) continue;
    tv_client_error e = {0};
    if (tv_client_stream_next(job->streams[n][b->lane], &b->results[n], &e) != TV_CLIENT_OK) {
      int rc = bulk_ns_failed(job, n, &e);
      if (rc != 0) return rc;
    }
  }
  bulk_write_batch(job, b);
  job->rows_done += b->rows;
  progress_update(&job->prog, job->in.bytes, job->rows_done);
  bulk_batch_reset(b, 0); /* wipes the rows and frees (wiping) the answers */
  return 0;
}

static int close_streams(bulk_job *job) {
  for (size_t n = 0; n < job->ns_count; n++) {
    if (!bulk_ns_live(job, n)) continue;
    for (size_t l = 0; l < job->lanes; l++) {
      tv_client_error e = {0};
      if (tv_client_stream_close_send(job->streams[n][l], &e) != TV_CLIENT_OK) {
        return net_report(job->err, job->command, job->a, &e);
      }
    }
  }
  return 0;
}

static int pump(bulk_job *job) {
  int eof = 0, rc = 0;
  while (rc == 0 && (!eof || job->count > 0)) {
    while (rc == 0 && !eof && job->count < job->ring_size) {
      bulk_batch *b = &job->ring[(job->head + job->count) % job->ring_size];
      rc = fill_batch(job, b, &eof);
      if (rc == 0 && b->rows > 0) {
        rc = send_batch(job, b);
        job->count++;
      }
      if (rc == 0 && eof) rc = close_streams(job);
    }
    if (rc == 0 && job->count > 0) {
      rc = finish_batch(job, &job->ring[job->head]);
      job->head = (job->head + 1) % job->ring_size;
      job->count--;
    }
  }
  return rc;
}

/* After the last answer every stream must end cleanly. */
static int drain_streams(bulk_job *job) {
  for (size_t n = 0; n < job->ns_count; n++) {
    if (!bulk_ns_live(job, n)) continue;
    for (size_t l = 0; l < job->lanes; l++) {
      tv_client_result *r = NULL;
      tv_client_error e = {0};
      tv_client_code code = tv_client_stream_next(job->streams[n][l], &r, &e);
      tv_client_result_free(r);
      if (code != TV_CLIENT_E_STREAM_DONE) return net_report(job->err, job->command, job->a, &e);
    }
  }
  return 0;
}

static int finish_output(bulk_job *job) {
  bulk_write_header(job); /* an input with a header and no rows */
  if (!job->atomic_open) {
    return fflush(job->out) == 0 ? 0 : CLI_EXIT_FAILURE;
  }
  cli_diag diag;
  job->atomic_open = 0;
  if (atomic_out_commit(&job->atomic, &diag) != TV_OK) {
    fprintf(job->err, "tokenvault %s: %s\n", job->command, diag.text);
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

static int run(bulk_job *job, tv_client *client, FILE *out) {
  int rc = parse_columns(job);
  if (rc == 0) size_batches(job);
  if (rc == 0) rc = open_files(job, out);
  if (rc == 0 && job->jsonl) {
    for (size_t t = 0; t < job->targets_count; t++) {
      job->jsonl_map.names[t] = job->target_names[t];
      job->jsonl_map.target_ns[t] = job->target_ns[t];
    }
    job->jsonl_map.count = job->targets_count;
    job->jsonl_map.ns_field = job->a->ns_column;
  } else if (rc == 0) {
    rc = csv_header(job);
  }
  job->next_row = 1;
  job->client = client;
  if (rc == 0) rc = open_streams(job);
  if (rc == 0) rc = pump(job);
  if (rc == 0) rc = drain_streams(job);
  progress_end(&job->prog);
  if (rc == 0) rc = finish_output(job);
  return rc;
}

static void cleanup(bulk_job *job) {
  if (job->atomic_open) atomic_out_abort(&job->atomic);
  for (size_t n = 0; n < BULK_NS_MAX; n++) {
    for (size_t l = 0; l < BULK_LANES_MAX; l++) tv_client_stream_free(job->streams[n][l]);
  }
  for (size_t i = 0; i < sizeof job->ring / sizeof job->ring[0]; i++) bulk_batch_cleanup(&job->ring[i]);
  if (job->in_file != NULL && job->in_file != stdin) fclose(job->in_file);
  free(job->in.buf);
  free(job->csv_map);
  free(job->header);
}

int bulk_run(tv_client *client, const net_args *a, int tokenize, const char *command, FILE *out,
             FILE *err) {
  bulk_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    fprintf(err, "tokenvault %s: out of memory\n", command);
    return CLI_EXIT_FAILURE;
  }
  job->a = a;
  job->command = command;
  job->tokenize = tokenize;
  job->jsonl = a->jsonl != NULL;
  job->err = err;
  int rc = run(job, client, out);
  if (rc == 0 && job->items_failed > 0) {
    fprintf(err, "tokenvault %s: %llu item(s) failed%s; the other rows are done\n", command,
            (unsigned long long)job->items_failed,
            job->items_failed > BULK_FAILURES_SHOWN_MAX ? " (the first 100 are listed)" : "");
    rc = CLI_EXIT_ITEMS;
  }
  cleanup(job);
  free(job);
  return rc;
}
