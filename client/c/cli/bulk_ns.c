/* The namespaces of a bulk file job: fixed ones from --columns and
 * --namespace, and with --namespace-column those each row names, whose
 * streams open when a row first names them. A row naming none, or one the
 * vault refuses, fails that row's cells only (see row_ns.h). */
#include <string.h>

#include "client/c/cli/bulk_job.h"
#include "client/c/cli/cli_exit.h"

int bulk_ns_index(bulk_job *job, const char *ns, size_t len, int fixed) {
  for (size_t i = 0; i < job->ns_count; i++) {
    if (strlen(job->ns_names[i]) == len && memcmp(job->ns_names[i], ns, len) == 0) return (int)i;
  }
  if (job->ns_count == BULK_NS_MAX || len > ROW_NS_NAME_BYTES_MAX) return -1;
  char *copy = job->ns_store[job->ns_count];
  memcpy(copy, ns, len);
  copy[len] = '\0';
  job->ns_names[job->ns_count] = copy;
  job->ns_fixed[job->ns_count] = (uint8_t)fixed;
  return (int)job->ns_count++;
}

/* The namespace a row names in its --namespace-column cell |src| (NULL:
 * the row has no such cell): its index, or -1 with |*fail| set. */
static int row_namespace(bulk_job *job, const bulk_batch *b, const bulk_cell *src, const char **fail) {
  const char *name = src != NULL ? b->values + src->val_off : NULL;
  size_t len = src != NULL ? src->val_len : 0;
  *fail = row_ns_check(name, len);
  if (*fail != NULL) return -1;
  return bulk_ns_index(job, name, len, 0);
}

int bulk_ns_resolve(bulk_job *job, bulk_batch *b) {
  if (job->row_targets == 0) return 0;
  for (size_t i = 0, end = 0; i < b->cells_count; i = end) {
    const bulk_cell *src = NULL;
    for (end = i; end < b->cells_count && b->cells[end].row == b->cells[i].row; end++) {
      if (b->cells[end].ns_source) src = &b->cells[end];
    }
    const char *fail = NULL;
    int n = -2; /* not looked up yet: rows with every target empty need no namespace */
    for (size_t k = i; k < end; k++) {
      bulk_cell *c = &b->cells[k];
      if (c->ns != BULK_NS_ROW || c->ns_source || c->skip || c->not_string) continue;
      if (n == -2) n = row_namespace(job, b, src, &fail);
      if (n < 0 && fail == NULL) {
        fprintf(job->err, "tokenvault %s: the rows name over %u namespaces (row %llu)\n", job->command,
                BULK_NS_MAX, (unsigned long long)(b->first_row + c->row));
        return CLI_EXIT_USAGE;
      }
      if (fail != NULL) c->fail = fail;
      else c->ns = (uint16_t)n;
    }
  }
  return 0;
}

int bulk_ns_failed(bulk_job *job, size_t n, const tv_client_error *e) {
  if (job->ns_fixed[n] || !row_ns_fault(e)) return net_report(job->err, job->command, job->a, e);
  job->ns_dead[n] = tv_client_code_name(e->code);
  return 0;
}

int bulk_ns_open(bulk_job *job, size_t n) {
  job->ns_open[n] = 1;
  for (size_t l = 0; l < job->lanes; l++) {
    tv_client_stream **s = &job->streams[n][l];
    tv_client_error e = {0};
    tv_client_code code = job->tokenize
                              ? tv_client_tokenize_stream_open(job->client, s, job->ns_names[n], &e)
                              : tv_client_detokenize_stream_open(job->client, s, job->ns_names[n], job->a->reveal,
                                                                 job->a->reason, &e);
    if (code != TV_CLIENT_OK) return bulk_ns_failed(job, n, &e);
  }
  return 0;
}
