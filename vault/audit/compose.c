/* Lines the writer thread frames: entries from producers' bodies, segment
 * headers and checkpoints. Each ends with the hash of everything before
 * ,"hash" and a newline. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vault/audit/audit_internal.h"
#include "vault/audit/text.h"

/* Room left for a line at |pos|: one line at most, so the hash can be
 * computed over a prefix that is known to fit. */
static int room(size_t pos) { return pos <= AUDIT_BATCH_BYTES_MAX - (AUDIT_LINE_BYTES_MAX + 1); }

static void put(char *buf, size_t *pos, const char *text, size_t len) {
  memcpy(buf + *pos, text, len);
  *pos += len;
}

static void put_hex_field(char *buf, size_t *pos, const char *key_lit, const uint8_t *bytes,
                          size_t len) {
  put(buf, pos, key_lit, strlen(key_lit));
  audit_hex_encode(buf + *pos, bytes, len);
  *pos += 2 * len;
  put(buf, pos, "\"", 1);
}

/* Closes the line that starts at |start|: ,"prev" was written; adds the
 * hash and the newline and moves the chain on. */
static tv_status finish_line(char *buf, size_t *pos, size_t start, audit_chain_state *chain) {
  uint8_t hash[AUDIT_HASH_LEN];
  TV_TRY(audit_chain_hash(hash, buf + start, *pos - start));
  put_hex_field(buf, pos, ",\"hash\":\"", hash, sizeof hash);
  put(buf, pos, "}\n", 2);
  /* The line must be one the verifier accepts: checked before it goes to
   * disk, not after. */
  TV_ENSURE(*pos - start - 1 <= AUDIT_LINE_BYTES_MAX, TV_E_INTERNAL);
  memcpy(chain->prev, hash, sizeof hash);
  chain->next_seq++;
  chain->since_checkpoint++;
  return TV_OK;
}

static size_t put_seq(char *buf, size_t *pos, uint64_t seq) {
  size_t start = *pos;
  int n = snprintf(buf + *pos, 40, "{\"seq\":%" PRIu64 ",", seq);
  *pos += (size_t)n;
  return start;
}

tv_status audit_compose_entry(char *buf, size_t *pos, audit_chain_state *chain,
                              const char *body, size_t body_len) {
  TV_ENSURE(room(*pos) && body_len <= AUDIT_BODY_BYTES_MAX, TV_E_INTERNAL);
  size_t start = put_seq(buf, pos, chain->next_seq);
  put(buf, pos, body, body_len);
  put_hex_field(buf, pos, ",\"prev\":\"", chain->prev, AUDIT_HASH_LEN);
  return finish_line(buf, pos, start, chain);
}

/* "type" to "segment" of segment headers and checkpoints. */
static void put_log_fields(char *buf, size_t *pos, const char *type, const audit_file *file,
                           uint64_t segment) {
  char text[96];
  int n = snprintf(text, sizeof text, "\"type\":\"%s\",\"time_ms\":%" PRIu64, type,
                   audit_now_ms(1));
  put(buf, pos, text, (size_t)n);
  put_hex_field(buf, pos, ",\"log\":\"", file->log_id, AUDIT_LOG_ID_LEN);
  n = snprintf(text, sizeof text, ",\"segment\":%" PRIu64, segment);
  put(buf, pos, text, (size_t)n);
}

tv_status audit_compose_segment(char *buf, size_t *pos, audit_chain_state *chain,
                                const audit_file *file, uint64_t segment) {
  TV_ENSURE(room(*pos), TV_E_INTERNAL);
  size_t start = put_seq(buf, pos, chain->next_seq);
  put_log_fields(buf, pos, "segment", file, segment);
  put_hex_field(buf, pos, ",\"prev\":\"", chain->prev, AUDIT_HASH_LEN);
  return finish_line(buf, pos, start, chain);
}

tv_status audit_compose_checkpoint(tv_audit_log *log, char *buf, size_t *pos,
                                   audit_chain_state *chain) {
  TV_ENSURE(room(*pos), TV_E_INTERNAL);
  size_t at = *pos;
  size_t start = put_seq(buf, &at, chain->next_seq);
  put_log_fields(buf, &at, "checkpoint", &log->file, log->file.segment);
  char text[48];
  int n = snprintf(text, sizeof text, ",\"entries\":%" PRIu64 ",\"key\":", chain->since_checkpoint);
  put(buf, &at, text, (size_t)n);
  TV_ENSURE(audit_text_escape(buf, &at, AUDIT_BATCH_BYTES_MAX, log->mac_label,
                              strlen(log->mac_label)) == 0,
            TV_E_INTERNAL);
  put_hex_field(buf, &at, ",\"prev\":\"", chain->prev, AUDIT_HASH_LEN);
  uint8_t mac[AUDIT_HASH_LEN];
  TV_TRY(audit_checkpoint_sign(log->hsm, mac, log->mac_label, buf + start, at - start));
  put_hex_field(buf, &at, ",\"mac\":\"", mac, sizeof mac);
  audit_chain_state next = *chain;
  TV_TRY(finish_line(buf, &at, start, &next));
  next.last_checkpoint_seq = chain->next_seq;
  next.since_checkpoint = 0;
  *chain = next;
  *pos = at;
  return TV_OK;
}
