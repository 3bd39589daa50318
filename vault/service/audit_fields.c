#include "vault/service/audit_fields.h"

#include <stdio.h>
#include <string.h>

/* Where the value of |key| starts. `,"key":` (or `{"key":` for the first)
 * only occurs at a real key: inside a string every quote is escaped, so
 * a quote right after a comma or brace cannot be a value's byte. */
static const char *value_of(const char *line, size_t len, const char *key) {
  char pat[48];
  int n = snprintf(pat, sizeof pat, "\"%s\":", key);
  if (n <= 0 || (size_t)n >= sizeof pat) {
    return NULL;
  }
  size_t plen = (size_t)n;
  for (size_t i = 1; i + plen <= len; i++) {
    if ((line[i - 1] == ',' || line[i - 1] == '{') && memcmp(line + i, pat, plen) == 0) {
      return line + i + plen;
    }
  }
  return NULL;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One escape at |p| (after the backslash): \" \\ or \u00XX. */
static int unescape(const char *p, const char *end, char *out, size_t *used) {
  if (p < end && (*p == '"' || *p == '\\')) {
    *out = *p;
    *used = 1;
    return 1;
  }
  if (end - p >= 5 && p[0] == 'u' && p[1] == '0' && p[2] == '0' && hex_digit(p[3]) >= 0 && hex_digit(p[4]) >= 0) {
    *out = (char)(hex_digit(p[3]) * 16 + hex_digit(p[4]));
    *used = 5;
    return 1;
  }
  return 0;
}

int tv_audit_field_text(const char *line, size_t len, const char *key, char *out, size_t out_max) {
  out[0] = '\0';
  const char *p = value_of(line, len, key);
  const char *end = line + len;
  if (p == NULL || p >= end || *p != '"') {
    return 0;
  }
  size_t n = 0;
  for (p++; p < end && *p != '"'; n++) {
    size_t used = 0;
    if (n + 1 >= out_max || (*p == '\\' && !unescape(p + 1, end, &out[n], &used))) {
      out[0] = '\0';
      return 0;
    }
    if (*p != '\\') {
      out[n] = *p;
    }
    p += 1 + used;
  }
  if (p >= end) {
    out[0] = '\0';
    return 0;
  }
  out[n] = '\0';
  return 1;
}

int tv_audit_field_u64(const char *line, size_t len, const char *key, uint64_t *out) {
  *out = 0;
  const char *p = value_of(line, len, key);
  const char *end = line + len;
  if (p == NULL || p >= end || *p < '0' || *p > '9') {
    return 0;
  }
  uint64_t v = 0;
  for (; p < end && *p >= '0' && *p <= '9'; p++) {
    uint64_t d = (uint64_t)(*p - '0');
    if (v > (UINT64_MAX - d) / 10u) {
      return 0;
    }
    v = v * 10u + d;
  }
  *out = v;
  return 1;
}

static void read_prev(const char *line, size_t len, uint8_t prev[32]) {
  char hex[65];
  memset(prev, 0, 32);
  if (!tv_audit_field_text(line, len, "prev", hex, sizeof hex) || strlen(hex) != 64) {
    return;
  }
  for (size_t i = 0; i < 32; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      memset(prev, 0, 32);
      return;
    }
    prev[i] = (uint8_t)(hi * 16 + lo);
  }
}

int tv_audit_row_parse(const char *line, size_t len, tv_audit_row *out) {
  char type[16];
  memset(out, 0, sizeof *out);
  if (!tv_audit_field_u64(line, len, "seq", &out->seq) || !tv_audit_field_text(line, len, "type", type, sizeof type)) {
    return 0;
  }
  out->alert = strcmp(type, "alert") == 0;
  if (!out->alert && strcmp(type, "call") != 0) {
    return 0;
  }
  (void)tv_audit_field_u64(line, len, "time_ms", &out->time_ms);
  (void)tv_audit_field_u64(line, len, "items", &out->items);
  (void)tv_audit_field_u64(line, len, "code", &out->code);
  (void)tv_audit_field_u64(line, len, "latency_us", &out->latency_us);
  (void)tv_audit_field_text(line, len, "principal", out->principal, sizeof out->principal);
  (void)tv_audit_field_text(line, len, "peer", out->peer, sizeof out->peer);
  (void)tv_audit_field_text(line, len, "method", out->method, sizeof out->method);
  (void)tv_audit_field_text(line, len, "ns", out->ns, sizeof out->ns);
  (void)tv_audit_field_text(line, len, "request_id", out->request_id, sizeof out->request_id);
  (void)tv_audit_field_text(line, len, out->alert ? "alert" : "outcome", out->outcome, sizeof out->outcome);
  if (out->alert) {
    (void)tv_audit_field_text(line, len, "detail", out->detail, sizeof out->detail);
  } else {
    (void)tv_audit_field_text(line, len, "purpose", out->reason, sizeof out->reason);
    out->counted = tv_audit_field_u64(line, len, "ok", &out->items_ok);
    (void)tv_audit_field_text(line, len, "reveal", out->reveal, sizeof out->reveal);
    (void)tv_audit_field_text(line, len, "failed", out->failed, sizeof out->failed);
  }
  read_prev(line, len, out->prev);
  return 1;
}
