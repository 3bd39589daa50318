/* The vault side of a batch: its cells grouped by namespace and sent as
 * requests of at most 1000 items over several streams per namespace, all
 * in flight together (tokenvaultd answers one stream's requests in order,
 * each audited durably first, so parallel streams are what lets its
 * workers and the audit log's group commit overlap). Streams stay open
 * from batch to batch. */
#include <string.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/db_job.h"
#include "client/c/cli/net_args.h"
#include "client/c/cli/row_ns.h"

/* The namespace of a cell: its column's, else the row's. NULL when the
 * row names none. */
static const char *cell_ns(const db_job *job, PGresult *rows, int r, size_t t) {
  if (job->targets[t].ns != NULL) return job->targets[t].ns;
  int col = (int)job->targets_count + 1;
  if (PQgetisnull(rows, r, col)) return NULL;
  const char *ns = PQgetvalue(rows, r, col);
  return ns[0] != '\0' ? ns : NULL;
}

static int is_fixed_ns(const db_job *job, const char *ns) {
  for (size_t t = 0; t < job->targets_count; t++) {
    if (job->targets[t].ns != NULL && strcmp(job->targets[t].ns, ns) == 0) return 1;
  }
  return 0;
}

/* The open streams of (namespace, direction, reveal); opened on first use. */
static db_stream *stream_for(db_job *job, const char *ns, int tokenize, tv_client_reveal reveal,
                             tv_client_error *e) {
  for (size_t i = 0; i < job->streams_count; i++) {
    db_stream *s = &job->streams[i];
    if (s->tokenize == tokenize && s->reveal == reveal && strcmp(s->ns, ns) == 0) return s;
  }
  if (job->streams_count == DB_STREAMS_MAX || strlen(ns) >= sizeof job->streams[0].ns) {
    snprintf(e->message, sizeof e->message, "over %u namespaces in one job, or a namespace name over 127 bytes",
             DB_STREAMS_MAX);
    e->code = TV_CLIENT_E_ARGUMENT;
    return NULL;
  }
  db_stream *s = &job->streams[job->streams_count];
  memset(s, 0, sizeof *s);
  memcpy(s->ns, ns, strlen(ns) + 1);
  s->tokenize = tokenize;
  s->reveal = reveal;
  for (size_t l = 0; l < job->lanes; l++) {
    tv_client_code code = tokenize ? tv_client_tokenize_stream_open(job->vault, &s->lanes[l], ns, e)
                                   : tv_client_detokenize_stream_open(job->vault, &s->lanes[l], ns, reveal,
                                                                      job->a->net.reason, e);
    if (code != TV_CLIENT_OK) {
      for (size_t k = 0; k < l; k++) tv_client_stream_free(s->lanes[k]);
      return NULL;
    }
  }
  job->streams_count++;
  return s;
}

/* A stream that failed is dropped (its namespace is reopened when a later
 * batch needs it). */
static void stream_drop(db_job *job, db_stream *s) {
  for (size_t l = 0; l < job->lanes; l++) tv_client_stream_free(s->lanes[l]);
  size_t i = (size_t)(s - job->streams);
  job->streams[i] = job->streams[--job->streams_count];
}

void db_vault_close(db_job *job) {
  while (job->streams_count > 0) stream_drop(job, &job->streams[0]);
}

/* Each sent cell's namespace index in cell_of (UINT32_MAX: not sent),
 * then order[] lists the sent cells grouped by namespace. */
static int group_cells(db_job *job, PGresult *rows, const char **names, size_t *out_count, size_t *out_sent) {
  size_t count = 0, sent = 0, per_ns[DB_BATCH_NS_MAX + 1] = {0};
  size_t cells = (size_t)PQntuples(rows) * job->targets_count;
  for (size_t i = 0; i < cells; i++) {
    job->cell_of[i] = UINT32_MAX;
    int r = (int)(i / job->targets_count);
    size_t t = i % job->targets_count;
    if (job->skip[i]) continue;
    const char *ns = cell_ns(job, rows, r, t);
    const char *bad = row_ns_check(ns, ns != NULL ? strlen(ns) : 0);
    if (bad != NULL) {
      job->bad_name[i] = bad;
      continue;
    }
    size_t k = 0;
    while (k < count && strcmp(names[k], ns) != 0) k++;
    if (k == DB_BATCH_NS_MAX) {
      fprintf(job->err, "tokenvault %s: over %u namespaces in one batch: lower --batch\n", job->command,
              DB_BATCH_NS_MAX);
      return CLI_EXIT_USAGE;
    }
    if (k == count) names[count++] = ns;
    job->cell_of[i] = (uint32_t)k;
    per_ns[k + 1]++;
    sent++;
  }
  for (size_t k = 1; k <= count; k++) per_ns[k] += per_ns[k - 1]; /* start of each namespace in order[] */
  for (size_t i = 0; i < cells; i++) {
    if (job->cell_of[i] != UINT32_MAX) job->order[per_ns[job->cell_of[i]]++] = (uint32_t)i;
  }
  *out_count = count;
  *out_sent = sent;
  return 0;
}

/* A namespace named by a row that the vault does not know (or lets this
 * caller use) makes that row's cells bad, not the job; a namespace from
 * --columns fails the job. */
static int chunk_failed(db_job *job, const db_chunk *c, const tv_client_error *e) {
  if (!row_ns_fault(e) || is_fixed_ns(job, c->stream->ns)) {
    return net_report(job->err, job->command, &job->a->net, e);
  }
  for (size_t j = 0; j < c->count; j++) job->bad_name[job->order[c->first + j]] = tv_client_code_name(e->code);
  c->stream->dead = 1;
  return 0;
}

/* Takes the answer of chunk |c| (the oldest in flight). */
static int collect(db_job *job, db_chunk *c) {
  if (c->stream->dead) {
    for (size_t j = 0; j < c->count; j++) job->bad_name[job->order[c->first + j]] = c->stream->dead_name;
    return 0;
  }
  tv_client_result *res = NULL;
  tv_client_error e = {0};
  if (tv_client_stream_next(c->stream->lanes[c->lane], &res, &e) != TV_CLIENT_OK) {
    c->stream->dead_name = tv_client_code_name(e.code);
    return chunk_failed(job, c, &e);
  }
  job->results[job->results_count++] = res;
  for (size_t j = 0; j < c->count && j < res->items_count; j++) {
    const tv_client_item *it = &res->items[j];
    size_t i = job->order[c->first + j];
    if (it->code == 0) job->new_text[i] = it->text;
    else job->bad_name[i] = it->name;
  }
  return 0;
}

/* Sends chunk |c|, first taking answers (oldest first) while its lane's
 * window is full. */
static int send_chunk(db_job *job, db_chunk *c, size_t *collected) {
  while (!c->stream->dead && !tv_client_stream_can_send(c->stream->lanes[c->lane])) {
    int rc = collect(job, &job->chunks[(*collected)++]);
    if (rc != 0) return rc;
  }
  if (c->stream->dead) return 0;
  tv_client_error e = {0};
  if (tv_client_stream_send(c->stream->lanes[c->lane], job->ptrs + c->first, NULL, c->count, &e) != TV_CLIENT_OK) {
    c->stream->dead_name = tv_client_code_name(e.code);
    return chunk_failed(job, c, &e);
  }
  return 0;
}

/* Splits each namespace's cells into chunks spread over the lanes. */
static int plan_chunks(db_job *job, const char **names, size_t count, size_t sent, int tokenize,
                       tv_client_reveal reveal) {
  job->chunks_count = 0;
  size_t first = 0;
  for (size_t k = 0; k < count; k++) {
    size_t n = 0;
    while (first + n < sent && job->cell_of[job->order[first + n]] == k) n++;
    tv_client_error e = {0};
    db_stream *s = stream_for(job, names[k], tokenize, reveal, &e);
    if (s == NULL) return net_report(job->err, job->command, &job->a->net, &e);
    size_t per = (n + job->lanes - 1) / job->lanes;
    if (per > TV_CLIENT_BATCH_ITEMS_MAX) per = TV_CLIENT_BATCH_ITEMS_MAX;
    for (size_t done = 0, lane = 0; done < n; lane = (lane + 1) % job->lanes) {
      if (job->chunks_count == job->chunks_cap) return CLI_EXIT_FAILURE; /* sized in alloc_batch */
      size_t take = n - done < per ? n - done : per;
      job->chunks[job->chunks_count++] = (db_chunk){.stream = s, .lane = lane, .first = first + done, .count = take};
      done += take;
    }
    first += n;
  }
  return 0;
}

int db_batch_vault(db_job *job, PGresult *rows, int tokenize, tv_client_reveal reveal) {
  const char *names[DB_BATCH_NS_MAX];
  size_t count = 0, sent = 0;
  int rc = group_cells(job, rows, names, &count, &sent);
  for (size_t j = 0; j < sent && rc == 0; j++) {
    size_t i = job->order[j];
    job->ptrs[j] = PQgetvalue(rows, (int)(i / job->targets_count), (int)(i % job->targets_count) + 1);
  }
  if (rc == 0) rc = plan_chunks(job, names, count, sent, tokenize, reveal);
  size_t collected = 0;
  for (size_t c = 0; c < job->chunks_count && rc == 0; c++) rc = send_chunk(job, &job->chunks[c], &collected);
  while (collected < job->chunks_count && rc == 0) rc = collect(job, &job->chunks[collected++]);
  for (size_t i = job->streams_count; i-- > 0;) {
    if (job->streams[i].dead) stream_drop(job, &job->streams[i]);
  }
  return rc;
}
