#include "client/c/cli/row_ns.h"

#include <string.h>

const char *row_ns_check(const char *name, size_t len) {
  if (len == 0) return ROW_NS_MISSING;
  if (len > ROW_NS_NAME_BYTES_MAX) return "NOT_FOUND";
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) return "NOT_FOUND";
  }
  return NULL;
}

int row_ns_fault(const tv_client_error *e) {
  int row_code = e->code == TV_CLIENT_NOT_FOUND || e->code == TV_CLIENT_INVALID_ARGUMENT ||
                 e->code == TV_CLIENT_PERMISSION_DENIED || e->code == TV_CLIENT_FAILED_PRECONDITION;
  return row_code && strstr(e->message, "REASON_REQUIRED") == NULL;
}
