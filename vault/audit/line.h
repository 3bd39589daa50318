/* The audit log's line format and its strict parser.
 *
 * Each line is one JSON object with a fixed key order, integers as decimal
 * numbers without leading zeros, hashes as lowercase hex, strings in
 * printable ASCII or UTF-8 with only \" \\ and \u00XX (controls) escaped.
 * The first two keys are "seq" and "type"; the type fixes the rest:
 *
 *   segment     time_ms log segment prev hash
 *   call        time_ms principal peer method ns items code outcome
 *               latency_us request_id purpose [reveal ok failed] prev hash
 *   alert       time_ms alert principal peer method ns items limit
 *               request_id detail prev hash
 *   checkpoint  time_ms log segment entries key prev mac hash
 *
 * The bracketed group is optional, all three keys or none: data calls
 * write it (reveal level, items answered OK, failed items by reason class
 * as "class:count,..."); other calls and logs written before it existed
 * do not.
 *
 * "hash" is SHA-256 over the line's bytes before `,"hash":"` (so it covers
 * "prev", the hash of the entry before, and the chain is bound); "mac" is
 * HMAC-SHA-256 (key "key", in the HSM) over a domain string and the bytes
 * before `,"mac":"`. The parser accepts exactly this and nothing else. */
#ifndef TV_AUDIT_LINE_H
#define TV_AUDIT_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

#define AUDIT_HASH_LEN 32u
#define AUDIT_LOG_ID_LEN 16u

typedef enum audit_line_type {
  AUDIT_LINE_SEGMENT = 1,
  AUDIT_LINE_CALL = 2,
  AUDIT_LINE_ALERT = 3,
  AUDIT_LINE_CHECKPOINT = 4,
} audit_line_type;

/* A text field: where its escaped bytes sit in the line. */
typedef struct audit_span {
  size_t off;
  size_t len;
} audit_span;

typedef struct audit_line {
  audit_line_type type;
  uint64_t seq;
  uint64_t time_ms;
  uint64_t segment;            /* segment, checkpoint */
  uint64_t entries;            /* checkpoint: entries since the one before */
  uint8_t log_id[AUDIT_LOG_ID_LEN]; /* segment, checkpoint */
  audit_span key;              /* checkpoint: MAC key label */
  uint8_t prev[AUDIT_HASH_LEN];
  uint8_t mac[AUDIT_HASH_LEN]; /* checkpoint */
  uint8_t hash[AUDIT_HASH_LEN];
  size_t mac_prefix_len;       /* checkpoint: bytes covered by "mac" */
  size_t hash_prefix_len;      /* bytes covered by "hash" */
} audit_line;

/* audit_line_parse parses |line| (|line_len| bytes, no newline) into
 * |*out|. Returns TV_OK, or TV_E_AUDIT_MALFORMED and a short static
 * description of the first problem in |*out_why| (never NULL then). It
 * does not check hashes: see audit_line_hash_ok. */
tv_status audit_line_parse(audit_line *out, const char **out_why, const char *line,
                           size_t line_len);

/* audit_line_type_name returns "segment", "call", "alert" or "checkpoint". */
const char *audit_line_type_name(audit_line_type type);

#endif
