/* Reading the fields of one audit log line (format: vault/audit/line.h)
 * for ReadAudit. The lines were written by the vault itself and verified
 * by nobody here, so every read is bounded: a field missing, too long or
 * malformed reads as absent, never past the line. */
#ifndef TV_SERVICE_AUDIT_FIELDS_H
#define TV_SERVICE_AUDIT_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "vault/audit/audit_limits.h"

/* One call or alert entry, decoded. Strings are NUL-terminated. */
typedef struct tv_audit_row {
  int alert; /* 0: a call entry, 1: an alert entry */
  uint64_t seq;
  uint64_t time_ms;
  uint64_t items;
  uint64_t code;
  uint64_t latency_us;
  char principal[AUDIT_FIELD_BYTES_MAX + 1];
  char peer[AUDIT_FIELD_BYTES_MAX + 1];
  char method[AUDIT_FIELD_BYTES_MAX + 1];
  char ns[AUDIT_FIELD_BYTES_MAX + 1];
  char request_id[AUDIT_FIELD_BYTES_MAX + 1];
  char outcome[AUDIT_FIELD_BYTES_MAX + 1]; /* call: outcome; alert: alert kind */
  char detail[AUDIT_FIELD_BYTES_MAX + 1];  /* alert: detail; call: "" */
  char reason[AUDIT_FIELD_BYTES_MAX + 1];  /* call: "purpose", the caller's reason */
  /* Call entries of data calls (line.h's optional group); else 0/"": */
  int counted;
  uint64_t items_ok;
  char reveal[AUDIT_FIELD_BYTES_MAX + 1];
  char failed[AUDIT_FIELD_BYTES_MAX + 1]; /* "class:count,..." */
  uint8_t prev[32];
} tv_audit_row;

/* tv_audit_field_text copies the JSON string of |key| in the |len| bytes
 * of |line| (unescaped) into |out| (|out_max| bytes with the NUL).
 * Returns 1, or 0 (|out| = "") if the key is absent, not a string, or
 * does not fit. */
int tv_audit_field_text(const char *line, size_t len, const char *key, char *out, size_t out_max);

/* tv_audit_field_u64 reads the decimal number of |key|. Returns 1, or 0
 * (*out = 0) if absent or not a number that fits. */
int tv_audit_field_u64(const char *line, size_t len, const char *key, uint64_t *out);

/* tv_audit_row_parse decodes a call or alert line into |out|. Returns 1,
 * or 0 for any other line type or a line without "seq". */
int tv_audit_row_parse(const char *line, size_t len, tv_audit_row *out);

#endif
