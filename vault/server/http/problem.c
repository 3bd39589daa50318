#include "vault/server/http/problem.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "vault/server/http/json_codec.h"
#include "vault/service/limits.h"

/* Refusals whose code is RESOURCE_EXHAUSTED or FAILED_PRECONDITION but
 * whose cause the caller fixes in the request itself. */
static int names_request_size(const char *name) {
  static const char *const names[] = {"SERVER_REQUEST_TOO_LARGE", "ENGINE_BATCH_TOO_LARGE",
                                      "ENGINE_METADATA_TOO_LARGE", "POLICY_TOO_MANY_ITEMS"};
  for (size_t i = 0; name != NULL && i < sizeof names / sizeof names[0]; i++) {
    if (strcmp(name, names[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

unsigned int tv_problem_http_status(tv_code code, const char *name) {
  switch (code) {
    case TV_CODE_OK: return 200;
    case TV_CODE_INVALID_ARGUMENT:
    case TV_CODE_OUT_OF_RANGE: return 400;
    case TV_CODE_UNAUTHENTICATED: return 401;
    case TV_CODE_PERMISSION_DENIED: return 403;
    case TV_CODE_NOT_FOUND: return 404;
    case TV_CODE_ALREADY_EXISTS:
    case TV_CODE_ABORTED: return 409;
    case TV_CODE_FAILED_PRECONDITION:
      return name != NULL && strcmp(name, "POLICY_REASON_REQUIRED") == 0 ? 400 : 409;
    case TV_CODE_RESOURCE_EXHAUSTED:
      if (names_request_size(name)) {
        return 413;
      }
      return name != NULL && (strcmp(name, "STORE_NO_SPACE") == 0 || strcmp(name, "NO_MEMORY") == 0) ? 503 : 429;
    case TV_CODE_UNIMPLEMENTED: return 501;
    case TV_CODE_UNAVAILABLE:
    case TV_CODE_CANCELLED: return 503;
    case TV_CODE_DEADLINE_EXCEEDED: return 504;
    default: return 500;
  }
}

void tv_problem_name_of(char *out, size_t out_len, tv_code code, const char *details) {
  const char *d = details != NULL ? details : "";
  size_t n = strspn(d, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
  if (n > 0 && d[n] == ':' && n < out_len) {
    memcpy(out, d, n);
    out[n] = '\0';
    return;
  }
  snprintf(out, out_len, "%s", tv_code_name((int)code));
}

tv_status tv_problem_encode(tv_code code, const char *details, unsigned int *out_http_status, char **out_text,
                            size_t *out_len) {
  char name[64];
  tv_problem_name_of(name, sizeof name, code, details);
  unsigned int http = tv_problem_http_status(code, name);
  TV_TRY(tv_problem_encode_as(http, code, details, out_text, out_len));
  *out_http_status = http;
  return TV_OK;
}

tv_status tv_problem_encode_as(unsigned int http, tv_code code, const char *details, char **out_text,
                               size_t *out_len) {
  tv_json_use_wiping_allocator();
  char name[64];
  tv_problem_name_of(name, sizeof name, code, details);
  char type[96];
  snprintf(type, sizeof type, "urn:tokenvault:problem:%s", name);
  json_t *p = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title", name, "status", (int)http,
                        "detail", details != NULL && details[0] != '\0' ? details : name, "code",
                        tv_code_name((int)code), "name", name);
  char *text = p != NULL ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(p);
  if (text == NULL) {
    return TV_E_NO_MEMORY;
  }
  *out_text = text;
  *out_len = strlen(text);
  return TV_OK;
}

tv_status tv_problem_encode_status(tv_status status, const char *detail, unsigned int *out_http_status,
                                   char **out_text, size_t *out_len) {
  char details[TV_ERROR_TEXT_BYTES_MAX + 64];
  snprintf(details, sizeof details, "%s: %s", tv_status_name(status),
           detail != NULL && detail[0] != '\0' ? detail : tv_status_message(status));
  return tv_problem_encode(tv_status_to_code(status), details, out_http_status, out_text, out_len);
}
