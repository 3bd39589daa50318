/* The audit methods of the engine adapter: VerifyAudit walks the live
 * log with the verifier behind `tokenvault audit verify` (hash chain,
 * sequence, checkpoint MACs and the HSM counter); ReadAudit streams the
 * most recent entries. Both need audit:read and block one worker while
 * they read the segments (rare calls by auditors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/audit/verifier.h"
#include "vault/service/audit_fields.h"
#include "vault/service/audit_files.h"
#include "vault/service/authz.h"
#include "vault/service/engine_service.h"
#include "vault/service/limits.h"

/* A checkpoint or a new segment landing between reading the counter and
 * the files looks like a cut tail; the walk is repeated this often. */
#define AUDIT_VERIFY_ATTEMPTS_MAX 3
/* ReadAudit: entries returned by default and at most per call. */
#define AUDIT_READ_ENTRIES_DEFAULT 100u
#define AUDIT_READ_ENTRIES_MAX 1000u
/* Reason classes one entry can list (item_outcome.h has 8; room for more). */
#define AUDIT_READ_FAILURE_CLASSES_MAX 16u

/* ---- VerifyAudit ------------------------------------------------------ */

/* from_seq/to_seq: the walk always starts at the genesis, since a range is
 * only as sound as the chain that leads to it; the answer then speaks for
 * the range only (tv_audit_verify_range_judge says when a problem after
 * the range leaves it proven). */
typedef struct verify_call {
  svc_call base;
  Tokenvault__V1__VerifyAuditResponse resp;
  Tokenvault__V1__ItemStatus status;
  tv_audit_verify_result result;
  char message[TV_AUDIT_FINDING_TEXT_MAX + 96];
} verify_call;

static tv_status verify_once(tv_vault *v, const Tokenvault__V1__VerifyAuditRequest *r,
                             tv_audit_verify_result *result) {
  tv_audit_stats stats;
  tv_audit_stats_get(v->audit, &stats);
  tv_audit_files files;
  TV_TRY(tv_audit_files_map(&files, v->audit_dir, stats.segment));
  audit_verifier walk;
  audit_verifier_init(&walk, result, v->hsm, 1);
  audit_verifier_set_range(&walk, r->from_seq, r->to_seq);
  tv_status st = TV_OK;
  for (size_t i = 0; i < files.count && st == TV_OK; i++) {
    st = audit_verifier_file(&walk, i, files.files[i].buf, files.files[i].len);
  }
  if (st == TV_OK) {
    st = audit_verifier_finish(&walk);
  }
  tv_audit_files_unmap(&files);
  return st;
}

static int is_finding(tv_status st) {
  return st >= TV_E_AUDIT_MALFORMED && st <= TV_E_AUDIT_COUNTER;
}

/* The answer for the range: |walk| is the whole log's finding (or TV_OK). */
static void verify_answer(verify_call *vc, const Tokenvault__V1__VerifyAuditRequest *r, tv_status walk) {
  uint64_t bad = 0;
  tv_status st = tv_audit_verify_range_judge(&vc->result, walk, r->from_seq, r->to_seq, &bad);
  const char *message = "";
  if (st != TV_OK) {
    message = vc->result.text;
  } else if (walk != TV_OK) { /* proven range, a problem after it: said, not hidden */
    snprintf(vc->message, sizeof vc->message, "the range is intact and sealed; after it, at seq %llu: %s",
             (unsigned long long)bad, vc->result.text);
    message = vc->message;
  }
  tokenvault__v1__item_status__init(&vc->status);
  vc->status.code = (uint32_t)st;
  vc->status.name = (char *)(uintptr_t)tv_status_name(st);
  vc->status.message = (char *)(uintptr_t)message;
  vc->resp.intact = st == TV_OK;
  vc->resp.entries_checked = vc->result.range_lines;
  vc->resp.checkpoints_checked = vc->result.range_checkpoints;
  vc->resp.first_bad_seq = st == TV_OK ? 0 : bad;
  vc->resp.status = &vc->status;
}

/* Ranges that cannot be answered: reversed, or starting past the log's end
 * (an intact log then proves nothing about them). 1 if |vc| was failed. */
static int range_refused(verify_call *vc, const Tokenvault__V1__VerifyAuditRequest *r, tv_status walk) {
  char why[160];
  if (r->to_seq != 0 && r->from_seq > r->to_seq) {
    snprintf(why, sizeof why, "from_seq %llu is after to_seq %llu", (unsigned long long)r->from_seq,
             (unsigned long long)r->to_seq);
  } else if (walk == TV_OK && r->from_seq > vc->result.last_seq) {
    snprintf(why, sizeof why, "from_seq %llu is past the log's last entry (seq %llu)",
             (unsigned long long)r->from_seq, (unsigned long long)vc->result.last_seq);
  } else {
    return 0;
  }
  svc_call_fail(&vc->base, TV_E_INVALID_ARGUMENT, why);
  return 1;
}

static void handle_verify(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__VerifyAuditRequest *r = (const Tokenvault__V1__VerifyAuditRequest *)request;
  verify_call *vc = calloc(1, sizeof *vc);
  if (vc == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&vc->base, call, impl, NULL, r->request_id, 0);
  tokenvault__v1__verify_audit_response__init(&vc->resp);
  vc->resp.request_id = r->request_id;
  vc->base.response = &vc->resp.base;
  if (!svc_authorize_method(&vc->base, 0, NULL)) {
    svc_call_end(&vc->base);
    return;
  }
  tv_status st = TV_E_AUDIT_TRUNCATED;
  for (int i = 0; i < AUDIT_VERIFY_ATTEMPTS_MAX && st == TV_E_AUDIT_TRUNCATED; i++) {
    st = verify_once(vc->base.vault, r, &vc->result);
  }
  if (st != TV_OK && !is_finding(st)) {
    svc_call_fail(&vc->base, st, "the audit log could not be read or the HSM failed: nothing proven");
    return;
  }
  if (range_refused(vc, r, st)) {
    return;
  }
  verify_answer(vc, r, st);
  svc_call_end(&vc->base);
}

/* ---- ReadAudit -------------------------------------------------------- */

typedef struct read_call {
  svc_call base;
  char **lines; /* a ring of the matching lines, oldest at |first| */
  size_t *lens;
  size_t cap, count, first, next_send;
  tv_audit_row row; /* the entry being sent */
  Tokenvault__V1__AuditEntry entry;
  Tokenvault__V1__ItemStatus outcome;
  Tokenvault__V1__AuditItemFailures failures[AUDIT_READ_FAILURE_CLASSES_MAX];
  Tokenvault__V1__AuditItemFailures *failure_ptrs[AUDIT_READ_FAILURE_CLASSES_MAX];
} read_call;

static void read_cleanup(svc_call *c) {
  read_call *rc = (read_call *)c;
  for (size_t i = 0; rc->lines != NULL && i < rc->cap; i++) {
    free(rc->lines[i]);
  }
  free(rc->lines);
  free(rc->lens);
  free(rc);
}

static int line_matches(const tv_audit_row *row, const Tokenvault__V1__ReadAuditRequest *r) {
  return row->seq >= r->from_seq && (r->principal[0] == '\0' || strcmp(row->principal, r->principal) == 0) &&
         (r->method[0] == '\0' || strcmp(row->method, r->method) == 0);
}

/* Keeps the line in the ring; the oldest one goes when it is full. */
static tv_status keep_line(read_call *rc, const char *line, size_t len) {
  size_t slot = (rc->first + rc->count) % rc->cap;
  if (rc->count == rc->cap) {
    slot = rc->first;
    rc->first = (rc->first + 1) % rc->cap;
    rc->count--;
  }
  char *copy = realloc(rc->lines[slot], len);
  TV_ENSURE(copy != NULL, TV_E_NO_MEMORY);
  memcpy(copy, line, len);
  rc->lines[slot] = copy;
  rc->lens[slot] = len;
  rc->count++;
  return TV_OK;
}

/* from_seq 0: the newest |cap| matches; else the first |cap| from it. */
static tv_status collect_file(read_call *rc, const tv_audit_file_map *f, const Tokenvault__V1__ReadAuditRequest *r,
                              int *out_full) {
  size_t pos = 0;
  while (pos < f->len && !*out_full) {
    const char *nl = memchr(f->buf + pos, '\n', f->len - pos);
    size_t len = nl != NULL ? (size_t)(nl - (f->buf + pos)) : f->len - pos;
    if (tv_audit_row_parse(f->buf + pos, len, &rc->row) && line_matches(&rc->row, r)) {
      TV_TRY(keep_line(rc, f->buf + pos, len));
      *out_full = r->from_seq != 0 && rc->count == rc->cap;
    }
    pos += len + 1;
  }
  return TV_OK;
}

static tv_status collect(read_call *rc, const Tokenvault__V1__ReadAuditRequest *r) {
  rc->cap = r->limit == 0 ? AUDIT_READ_ENTRIES_DEFAULT : r->limit;
  rc->cap = rc->cap > AUDIT_READ_ENTRIES_MAX ? AUDIT_READ_ENTRIES_MAX : rc->cap;
  rc->lines = calloc(rc->cap, sizeof *rc->lines);
  rc->lens = calloc(rc->cap, sizeof *rc->lens);
  TV_ENSURE(rc->lines != NULL && rc->lens != NULL, TV_E_NO_MEMORY);
  tv_audit_stats stats;
  tv_audit_stats_get(rc->base.vault->audit, &stats);
  tv_audit_files files;
  TV_TRY(tv_audit_files_map(&files, rc->base.vault->audit_dir, stats.segment));
  tv_status st = TV_OK;
  int full = 0;
  for (size_t i = 0; i < files.count && st == TV_OK && !full; i++) {
    st = collect_file(rc, &files.files[i], r, &full);
  }
  tv_audit_files_unmap(&files);
  return st;
}

/* "class:count,..." (row->failed, split in place) -> e->failed. A piece
 * that is not "name:number" is left out: the line is the vault's own, but
 * it is read back from disk. */
static void fill_failures(read_call *rc, Tokenvault__V1__AuditEntry *e) {
  size_t n = 0;
  char *save = NULL;
  for (char *piece = strtok_r(rc->row.failed, ",", &save); piece != NULL && n < AUDIT_READ_FAILURE_CLASSES_MAX;
       piece = strtok_r(NULL, ",", &save)) {
    char *colon = strchr(piece, ':');
    char *end = NULL;
    unsigned long count = colon != NULL ? strtoul(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == piece || end == colon + 1 || *end != '\0') {
      continue;
    }
    *colon = '\0';
    Tokenvault__V1__AuditItemFailures *f = &rc->failures[n];
    tokenvault__v1__audit_item_failures__init(f);
    f->reason_class = piece;
    f->count = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
    rc->failure_ptrs[n++] = f;
  }
  e->n_failed = n;
  e->failed = rc->failure_ptrs;
}

static void fill_entry(read_call *rc) {
  tv_audit_row *row = &rc->row;
  Tokenvault__V1__AuditEntry *e = &rc->entry;
  tokenvault__v1__audit_entry__init(e);
  tokenvault__v1__item_status__init(&rc->outcome);
  e->seq = row->seq;
  e->time_unix_ms = (int64_t)row->time_ms;
  e->principal = row->principal;
  e->peer = row->peer;
  e->method = row->method;
  e->namespace_ = row->ns;
  e->items = row->items > UINT32_MAX ? UINT32_MAX : (uint32_t)row->items;
  e->latency_us = row->latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)row->latency_us;
  e->request_id = row->request_id;
  rc->outcome.code = row->alert ? 0u : (uint32_t)row->code;
  rc->outcome.name = row->outcome; /* call: the outcome; alert: its kind */
  rc->outcome.message = row->alert ? row->detail : (char *)(uintptr_t) "";
  e->outcome = &rc->outcome;
  e->prev_hash.data = row->prev;
  e->prev_hash.len = sizeof row->prev;
  e->reason = row->reason;
  e->counted = row->counted;
  e->reveal = row->reveal;
  e->items_ok = row->items_ok > UINT32_MAX ? UINT32_MAX : (uint32_t)row->items_ok;
  fill_failures(rc, e);
}

static void send_next(read_call *rc);

static void entry_sent(tv_call *call, int success, void *arg) {
  read_call *rc = arg;
  if (!success) {
    tv_call_finish_code(call, TV_CODE_CANCELLED, "the client went away", NULL);
    svc_call_release(&rc->base);
    return;
  }
  send_next(rc);
}

/* One entry at a time: the next is sent from the previous one's
 * completion, so a slow reader holds one message, not all of them. */
static void send_next(read_call *rc) {
  if (rc->next_send == rc->count) {
    tv_call_finish(rc->base.call, TV_OK, NULL, NULL);
    svc_call_release(&rc->base);
    return;
  }
  size_t slot = (rc->first + rc->next_send++) % rc->cap;
  (void)tv_audit_row_parse(rc->lines[slot], rc->lens[slot], &rc->row);
  fill_entry(rc);
  if (tv_call_send(rc->base.call, &rc->entry.base, entry_sent, rc) != TV_OK) {
    tv_call_finish_code(rc->base.call, TV_CODE_INTERNAL, "could not send an audit entry", NULL);
    svc_call_release(&rc->base);
  }
}

static void start_sending(svc_call *c) {
  send_next((read_call *)c);
}

static void handle_read(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__ReadAuditRequest *r = (const Tokenvault__V1__ReadAuditRequest *)request;
  read_call *rc = calloc(1, sizeof *rc);
  if (rc == NULL) {
    tv_call_finish(call, TV_E_NO_MEMORY, NULL, NULL);
    return;
  }
  svc_call_begin(&rc->base, call, impl, NULL, r->request_id, 0);
  rc->base.cleanup = read_cleanup;
  if (!svc_authorize_method(&rc->base, 0, NULL)) {
    svc_call_end(&rc->base);
    return;
  }
  tv_status st = collect(rc, r);
  if (st != TV_OK) {
    svc_call_fail(&rc->base, st, "the audit log could not be read");
    return;
  }
  rc->base.items = rc->count;
  rc->base.after_audit = start_sending; /* entries go out once this read is audited */
  svc_call_end(&rc->base);
}

void tv_audit_service_fill(tv_service *service, tv_vault *vault) {
  service->handlers[TV_METHOD_VERIFY_AUDIT] = (tv_handler){handle_verify, vault};
  service->handlers[TV_METHOD_READ_AUDIT] = (tv_handler){handle_read, vault};
}
