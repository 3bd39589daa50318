/* Formatting a producer's entry: runs in the caller's thread, so the
 * writer only frames lines and hashes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vault/audit/audit_internal.h"
#include "vault/audit/text.h"

uint64_t audit_now_ms(int realtime) {
  struct timespec ts;
  clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

typedef struct body_writer {
  char *out;
  size_t pos;
  int failed;
} body_writer;

static void put_raw(body_writer *w, const char *text) {
  size_t n = strlen(text);
  if (w->failed || AUDIT_BODY_BYTES_MAX - w->pos < n) {
    w->failed = 1;
    return;
  }
  memcpy(w->out + w->pos, text, n);
  w->pos += n;
}

static void put_text(body_writer *w, const char *key, const char *value) {
  const char *v = value != NULL ? value : "";
  size_t len = strlen(v);
  put_raw(w, ",\"");
  put_raw(w, key);
  put_raw(w, "\":");
  if (w->failed || len > AUDIT_FIELD_BYTES_MAX ||
      audit_text_escape(w->out, &w->pos, AUDIT_BODY_BYTES_MAX, v, len) != 0) {
    w->failed = 1;
  }
}

static void put_u64(body_writer *w, const char *key, uint64_t value) {
  char num[32];
  snprintf(num, sizeof num, "%" PRIu64, value);
  put_raw(w, ",\"");
  put_raw(w, key);
  put_raw(w, "\":");
  put_raw(w, num);
}

static void put_call(body_writer *w, const tv_audit_entry *e) {
  put_text(w, "principal", e->principal);
  put_text(w, "peer", e->peer);
  put_text(w, "method", e->method);
  put_text(w, "ns", e->ns);
  put_u64(w, "items", e->items);
  put_u64(w, "code", e->code);
  put_text(w, "outcome", e->outcome);
  put_u64(w, "latency_us", e->latency_us);
  put_text(w, "request_id", e->request_id);
  put_text(w, "purpose", e->purpose);
  if (e->counted) {
    put_text(w, "reveal", e->reveal);
    put_u64(w, "ok", e->items_ok);
    put_text(w, "failed", e->failed);
  }
}

static void put_alert(body_writer *w, const tv_audit_entry *e) {
  put_text(w, "alert", e->alert);
  put_text(w, "principal", e->principal);
  put_text(w, "peer", e->peer);
  put_text(w, "method", e->method);
  put_text(w, "ns", e->ns);
  put_u64(w, "items", e->items);
  put_u64(w, "limit", e->limit);
  put_text(w, "request_id", e->request_id);
  put_text(w, "detail", e->detail);
}

tv_status audit_body_format(char *out, size_t *out_len, const tv_audit_entry *entry) {
  TV_ENSURE(entry != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(entry->type == TV_AUDIT_CALL || entry->type == TV_AUDIT_ALERT,
            TV_E_AUDIT_ENTRY_INVALID);
  body_writer w = {out, 0, 0};
  put_raw(&w, entry->type == TV_AUDIT_CALL ? "\"type\":\"call\"" : "\"type\":\"alert\"");
  put_u64(&w, "time_ms", entry->time_ms != 0 ? entry->time_ms : audit_now_ms(1));
  if (entry->type == TV_AUDIT_CALL) {
    put_call(&w, entry);
  } else {
    put_alert(&w, entry);
  }
  TV_ENSURE(!w.failed, TV_E_AUDIT_ENTRY_INVALID);
  *out_len = w.pos;
  return TV_OK;
}
