/* libFuzzer target: arbitrary bytes as one audit log line, through the
 * field readers ReadAudit uses (vault/service/audit_fields.h). The lines
 * come from files anyone with disk access can edit, so whatever the bytes:
 * no crash, no read past the line, and what is returned must be what the
 * header promises (NUL-terminated within its buffer, numbers only with a
 * "yes"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/service/audit_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *buf, size_t max) {
  if (memchr(buf, '\0', max) == NULL) {
    __builtin_trap();
  }
}

/* The fields are read from an exact-size heap copy, so ASan catches any
 * byte read past the line (libFuzzer's own buffer is exact-size too). */
static void read_row(const char *line, size_t len) {
  tv_audit_row row;
  if (tv_audit_row_parse(line, len, &row)) {
    check_text(row.principal, sizeof row.principal);
    check_text(row.method, sizeof row.method);
    check_text(row.outcome, sizeof row.outcome);
    check_text(row.detail, sizeof row.detail);
    check_text(row.request_id, sizeof row.request_id);
    check_text(row.reason, sizeof row.reason);
    check_text(row.reveal, sizeof row.reveal);
    check_text(row.failed, sizeof row.failed);
    if (row.alert && (row.counted || row.reveal[0] != '\0' || row.failed[0] != '\0')) {
      __builtin_trap(); /* counts belong to call entries only */
    }
    if (!row.alert && row.detail[0] != '\0') {
      __builtin_trap(); /* a call entry has no detail */
    }
  } else if (row.seq != 0 && row.principal[0] != '\0') {
    __builtin_trap(); /* a refused line leaves nothing behind but seq/type */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *line = malloc(size > 0 ? size : 1);
  if (line == NULL) {
    return 0;
  }
  memcpy(line, data, size);
  read_row(line, size);
  /* A small output buffer: the fit check must refuse, not overflow. */
  char small[4];
  if (tv_audit_field_text(line, size, "principal", small, sizeof small)) {
    check_text(small, sizeof small);
  } else if (small[0] != '\0') {
    __builtin_trap();
  }
  uint64_t n = 1;
  if (!tv_audit_field_u64(line, size, "seq", &n) && n != 0) {
    __builtin_trap();
  }
  free(line);
  return 0;
}
