/* The verifier's walk over the lines of a log. It stops at the first
 * problem; every check says what it found, where, in one sentence. */
#include "vault/audit/verifier.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hsm/counter.h"
#include "vault/audit/chain.h"
#include "vault/audit/text.h"

void audit_verifier_init(audit_verifier *v, tv_audit_verify_result *result, tv_hsm *hsm,
                         int from_genesis) {
  memset(v, 0, sizeof *v);
  memset(result, 0, sizeof *result);
  v->hsm = hsm;
  v->from_genesis = from_genesis;
  v->result = result;
  result->macs_checked = hsm != NULL;
  audit_verifier_set_range(v, 0, 0);
}

void audit_verifier_set_range(audit_verifier *v, uint64_t from, uint64_t to) {
  v->range_from = from;
  v->range_to = to != 0 ? to : UINT64_MAX;
}

static int in_range(const audit_verifier *v, uint64_t seq) {
  return seq >= v->range_from && seq <= v->range_to;
}

__attribute__((format(printf, 4, 5))) static tv_status report(audit_verifier *v,
                                                              tv_status status, uint64_t seq,
                                                              const char *format, ...) {
  tv_audit_verify_result *r = v->result;
  if (r->status == TV_OK) {
    r->status = status;
    r->file_index = v->file_index;
    r->line = v->file_line;
    r->seq = seq;
    va_list ap;
    va_start(ap, format);
    vsnprintf(r->text, sizeof r->text, format, ap);
    va_end(ap);
  }
  return status;
}

/* The sequence number a line starts with, for the one-line lookahead that
 * tells swapped entries from deleted ones; 0 if it has none. */
static uint64_t peek_seq(const char *line, size_t len) {
  audit_line parsed;
  const char *why = NULL;
  return audit_line_parse(&parsed, &why, line, len) == TV_OK ? parsed.seq : 0;
}

static tv_status check_first_header(audit_verifier *v, const audit_line *l) {
  if (v->from_genesis) {
    if (l->segment != 1) {
      return report(v, TV_E_AUDIT_SEGMENT, l->seq,
                    "the first file is segment %" PRIu64 ", not 1: segments 1..%" PRIu64
                    " are missing",
                    l->segment, l->segment - 1);
    }
    TV_TRY(audit_chain_genesis(v->prev, l->log_id));
    v->expected_seq = 1;
  } else {
    memcpy(v->prev, l->prev, AUDIT_HASH_LEN); /* recovery: the header is the start */
    v->expected_seq = l->seq;
    v->result->last_checkpoint_seq = l->segment > 1 ? l->seq - 1 : 0;
  }
  memcpy(v->log_id, l->log_id, AUDIT_LOG_ID_LEN);
  audit_hex_encode(v->result->log_id_hex, l->log_id, AUDIT_LOG_ID_LEN);
  v->result->log_id_hex[2 * AUDIT_LOG_ID_LEN] = '\0';
  v->started = 1;
  return TV_OK;
}

static tv_status check_header(audit_verifier *v, const audit_line *l) {
  if (v->file_line != 1) {
    return report(v, TV_E_AUDIT_SEGMENT, l->seq, "segment header in the middle of a file");
  }
  if (!v->started) {
    TV_TRY(check_first_header(v, l));
  } else if (memcmp(l->log_id, v->log_id, AUDIT_LOG_ID_LEN) != 0) {
    return report(v, TV_E_AUDIT_SEGMENT, l->seq, "segment of another log (log id differs)");
  } else if (l->segment > v->segment + 1) {
    return report(v, TV_E_AUDIT_SEGMENT, l->seq,
                  "segment %" PRIu64 " follows segment %" PRIu64 ": segment file(s) %" PRIu64
                  "..%" PRIu64 " missing",
                  l->segment, v->segment, v->segment + 1, l->segment - 1);
  } else if (l->segment != v->segment + 1) {
    return report(v, TV_E_AUDIT_SEGMENT, l->seq,
                  "segment %" PRIu64 " follows segment %" PRIu64 ": files out of order",
                  l->segment, v->segment);
  }
  v->segment = l->segment;
  v->result->segments++;
  return TV_OK;
}

static tv_status check_seq(audit_verifier *v, const audit_line *l, const char *next,
                           size_t next_len) {
  uint64_t want = v->expected_seq;
  if (l->seq == want) {
    return TV_OK;
  }
  if (l->seq < want) {
    return report(v, TV_E_AUDIT_REORDERED, l->seq,
                  "reordering: seq %" PRIu64 " comes after seq %" PRIu64
                  " (entries moved or repeated)",
                  l->seq, want - 1);
  }
  if (next != NULL && peek_seq(next, next_len) == want) {
    return report(v, TV_E_AUDIT_REORDERED, l->seq,
                  "reordering: seq %" PRIu64 " comes before seq %" PRIu64 " (entries swapped)",
                  l->seq, want);
  }
  return report(v, TV_E_AUDIT_SEQUENCE_GAP, l->seq,
                "sequence gap: expected seq %" PRIu64 ", found %" PRIu64 ": %" PRIu64
                " entr%s missing (deleted)",
                want, l->seq, l->seq - want, l->seq - want == 1 ? "y" : "ies");
}

static tv_status check_mac(audit_verifier *v, const audit_line *l, const char *text) {
  char label[TV_HSM_LABEL_MAX + 1];
  if (l->key.len == 0 || l->key.len > TV_HSM_LABEL_MAX ||
      memchr(text + l->key.off, '\\', l->key.len) != NULL) {
    return report(v, TV_E_AUDIT_MAC_INVALID, l->seq, "bad MAC: unusable key label");
  }
  memcpy(label, text + l->key.off, l->key.len);
  label[l->key.len] = '\0';
  tv_status status = audit_checkpoint_verify(v->hsm, label, text, l->mac_prefix_len, l->mac);
  if (status == TV_E_HSM_MAC_INVALID) {
    return report(v, TV_E_AUDIT_MAC_INVALID, l->seq,
                  "bad MAC: checkpoint seq %" PRIu64 " is not sealed by key '%s' (forged or altered)",
                  l->seq, label);
  }
  if (status == TV_E_HSM_KEY_NOT_FOUND) {
    return report(v, TV_E_AUDIT_MAC_INVALID, l->seq,
                  "bad MAC: the HSM has no MAC key '%s' (wrong HSM or token?)", label);
  }
  if (status != TV_OK) {
    return report(v, status, l->seq, "the HSM could not check the MAC: %s: %s",
                  tv_status_message(status), tv_hsm_error_detail());
  }
  return TV_OK;
}

static tv_status check_checkpoint(audit_verifier *v, const audit_line *l, const char *text) {
  if (memcmp(l->log_id, v->log_id, AUDIT_LOG_ID_LEN) != 0 || l->segment != v->segment) {
    return report(v, TV_E_AUDIT_SEGMENT, l->seq,
                  "checkpoint names another log or segment (%" PRIu64 ")", l->segment);
  }
  if (l->entries != v->since_checkpoint) {
    return report(v, TV_E_AUDIT_SEQUENCE_GAP, l->seq,
                  "checkpoint seq %" PRIu64 " covers %" PRIu64 " entries, %" PRIu64 " found",
                  l->seq, l->entries, v->since_checkpoint);
  }
  if (v->hsm != NULL) {
    TV_TRY(check_mac(v, l, text));
  }
  v->result->checkpoints++;
  v->result->range_checkpoints += in_range(v, l->seq);
  v->result->last_checkpoint_seq = l->seq;
  return TV_OK;
}

static tv_status check_line(audit_verifier *v, const char *text, size_t len, const char *next,
                            size_t next_len) {
  audit_line l;
  const char *why = NULL;
  if (audit_line_parse(&l, &why, text, len) != TV_OK) {
    return report(v, TV_E_AUDIT_MALFORMED, 0, "malformed line: %s", why);
  }
  uint8_t hash[AUDIT_HASH_LEN];
  TV_TRY(audit_chain_hash(hash, text, l.hash_prefix_len));
  if (memcmp(hash, l.hash, sizeof hash) != 0) {
    return report(v, TV_E_AUDIT_ENTRY_ALTERED, l.seq,
                  "entry altered: the line does not match its own hash");
  }
  if (l.type == AUDIT_LINE_SEGMENT) {
    TV_TRY(check_header(v, &l));
  } else if (v->file_line == 1) {
    return report(v, TV_E_AUDIT_SEGMENT, l.seq,
                  "the file does not start with a segment header (its start was cut)");
  }
  TV_TRY(check_seq(v, &l, next, next_len));
  if (memcmp(l.prev, v->prev, AUDIT_HASH_LEN) != 0) {
    return report(v, TV_E_AUDIT_CHAIN_BROKEN, l.seq,
                  "broken hash link: seq %" PRIu64 " does not carry the hash of seq %" PRIu64
                  " (the entry before was altered or replaced)",
                  l.seq, l.seq - 1);
  }
  if (l.type == AUDIT_LINE_CHECKPOINT) {
    TV_TRY(check_checkpoint(v, &l, text));
    v->since_checkpoint = 0;
  } else {
    v->since_checkpoint++;
    v->result->calls += l.type == AUDIT_LINE_CALL;
    v->result->alerts += l.type == AUDIT_LINE_ALERT;
  }
  memcpy(v->prev, l.hash, AUDIT_HASH_LEN);
  v->expected_seq = l.seq + 1;
  v->result->last_seq = l.seq;
  v->result->lines++;
  v->result->range_lines += in_range(v, l.seq);
  v->result->unsealed = v->since_checkpoint;
  return TV_OK;
}

tv_status audit_verifier_file(audit_verifier *v, size_t file_index, const char *buf,
                              size_t len) {
  v->file_index = file_index;
  v->file_line = 0;
  if (len == 0) {
    v->file_line = 1;
    return report(v, TV_E_AUDIT_SEGMENT, 0, "the file is empty (no segment header)");
  }
  size_t pos = 0;
  while (pos < len) {
    v->file_line++;
    const char *nl = memchr(buf + pos, '\n', len - pos);
    if (nl == NULL) {
      return report(v, TV_E_AUDIT_TRUNCATED, v->expected_seq,
                    "truncated inside an entry: the last line has no newline (%zu bytes)",
                    len - pos);
    }
    size_t line_len = (size_t)(nl - (buf + pos));
    size_t next_pos = pos + line_len + 1;
    const char *next = NULL;
    size_t next_len = 0;
    const char *next_nl = next_pos < len ? memchr(buf + next_pos, '\n', len - next_pos) : NULL;
    if (next_nl != NULL) {
      next = buf + next_pos;
      next_len = (size_t)(next_nl - next);
    }
    TV_TRY(check_line(v, buf + pos, line_len, next, next_len));
    pos = next_pos;
  }
  return TV_OK;
}

static tv_status check_counter(audit_verifier *v) {
  tv_audit_verify_result *r = v->result;
  char label[AUDIT_COUNTER_LABEL_MAX];
  audit_counter_label(label, v->log_id);
  uint64_t counter = 0;
  tv_status status = tv_hsm_counter_read(v->hsm, &counter, label);
  v->file_line++; /* the problem is past the last line */
  if (status == TV_E_HSM_KEY_NOT_FOUND) {
    return report(v, TV_E_AUDIT_COUNTER, 0,
                  "the HSM has no checkpoint counter '%s' for this log (wrong HSM or token?)",
                  label);
  }
  if (status != TV_OK) {
    return report(v, status, 0, "the HSM could not read the checkpoint counter: %s: %s",
                  tv_status_message(status), tv_hsm_error_detail());
  }
  v->file_line--;
  r->counter = counter;
  r->counter_checked = 1;
  if (counter > r->last_checkpoint_seq) {
    v->file_line++;
    return report(v, TV_E_AUDIT_TRUNCATED, r->last_seq + 1,
                  "missing tail: truncated since checkpoint seq %" PRIu64
                  ": the HSM counter records a checkpoint at seq %" PRIu64
                  " but the log ends at seq %" PRIu64,
                  r->last_checkpoint_seq, counter, r->last_seq);
  }
  return TV_OK;
}

tv_status audit_verifier_finish(audit_verifier *v) {
  if (!v->started) {
    return report(v, TV_E_AUDIT_MALFORMED, 0, "no entries");
  }
  return v->hsm != NULL ? check_counter(v) : TV_OK;
}
