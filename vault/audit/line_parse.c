/* The strict audit line parser: a cursor that refuses to overrun, and one
 * table per entry type naming its keys in their fixed order. */
#include <assert.h>
#include <string.h>

#include "vault/audit/audit_limits.h"
#include "vault/audit/line.h"
#include "vault/audit/text.h"

typedef struct cursor {
  const char *p;
  size_t len;
  size_t pos;
  const char *why; /* first problem found, or NULL */
} cursor;

typedef enum field_kind { KIND_U64, KIND_TEXT, KIND_HEX } field_kind;

typedef enum field_slot {
  SLOT_NONE,
  SLOT_TIME,
  SLOT_SEGMENT,
  SLOT_ENTRIES,
  SLOT_LOG,
  SLOT_KEY,
  SLOT_PREV,
  SLOT_MAC,
  SLOT_HASH,
  SLOT_OPTIONAL, /* not stored; consecutive ones form a group: all or none */
} field_slot;

typedef struct field {
  const char *key;
  field_kind kind;
  field_slot slot;
} field;

#define FIELD_TIME {"time_ms", KIND_U64, SLOT_TIME}
#define FIELD_PREV {"prev", KIND_HEX, SLOT_PREV}
#define FIELD_HASH {"hash", KIND_HEX, SLOT_HASH}
#define FIELD_TEXT(name) {name, KIND_TEXT, SLOT_NONE}
#define FIELD_U64(name) {name, KIND_U64, SLOT_NONE}
#define FIELD_OPT_TEXT(name) {name, KIND_TEXT, SLOT_OPTIONAL}
#define FIELD_OPT_U64(name) {name, KIND_U64, SLOT_OPTIONAL}

static const field segment_fields[] = {FIELD_TIME, {"log", KIND_HEX, SLOT_LOG},
                                       {"segment", KIND_U64, SLOT_SEGMENT}, FIELD_PREV,
                                       FIELD_HASH};
static const field call_fields[] = {
    FIELD_TIME,         FIELD_TEXT("principal"),  FIELD_TEXT("peer"),
    FIELD_TEXT("method"), FIELD_TEXT("ns"),       FIELD_U64("items"),
    FIELD_U64("code"),  FIELD_TEXT("outcome"),    FIELD_U64("latency_us"),
    FIELD_TEXT("request_id"), FIELD_TEXT("purpose"), FIELD_OPT_TEXT("reveal"),
    FIELD_OPT_U64("ok"), FIELD_OPT_TEXT("failed"), FIELD_PREV,
    FIELD_HASH};
static const field alert_fields[] = {
    FIELD_TIME,         FIELD_TEXT("alert"),      FIELD_TEXT("principal"),
    FIELD_TEXT("peer"), FIELD_TEXT("method"),     FIELD_TEXT("ns"),
    FIELD_U64("items"), FIELD_U64("limit"),       FIELD_TEXT("request_id"),
    FIELD_TEXT("detail"), FIELD_PREV,             FIELD_HASH};
static const field checkpoint_fields[] = {
    FIELD_TIME,         {"log", KIND_HEX, SLOT_LOG}, {"segment", KIND_U64, SLOT_SEGMENT},
    {"entries", KIND_U64, SLOT_ENTRIES}, {"key", KIND_TEXT, SLOT_KEY}, FIELD_PREV,
    {"mac", KIND_HEX, SLOT_MAC}, FIELD_HASH};

typedef struct line_schema {
  const char *name;
  audit_line_type type;
  const field *fields;
  size_t fields_count;
} line_schema;

#define SCHEMA(name, type, fields) {name, type, fields, sizeof fields / sizeof fields[0]}
static const line_schema schemas[] = {
    SCHEMA("segment", AUDIT_LINE_SEGMENT, segment_fields),
    SCHEMA("call", AUDIT_LINE_CALL, call_fields),
    SCHEMA("alert", AUDIT_LINE_ALERT, alert_fields),
    SCHEMA("checkpoint", AUDIT_LINE_CHECKPOINT, checkpoint_fields),
};

const char *audit_line_type_name(audit_line_type type) {
  for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
    if (schemas[i].type == type) {
      return schemas[i].name;
    }
  }
  return "unknown";
}

static int fail(cursor *c, const char *why) {
  if (c->why == NULL) {
    c->why = why;
  }
  return -1;
}

static int expect(cursor *c, const char *lit, const char *why) {
  size_t n = strlen(lit);
  if (c->len - c->pos < n || memcmp(c->p + c->pos, lit, n) != 0) {
    return fail(c, why);
  }
  c->pos += n;
  return 0;
}

static int parse_u64(cursor *c, uint64_t *out) {
  size_t start = c->pos;
  uint64_t v = 0;
  while (c->pos < c->len && c->p[c->pos] >= '0' && c->p[c->pos] <= '9') {
    uint64_t d = (uint64_t)(c->p[c->pos] - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return fail(c, "number too large");
    }
    v = v * 10 + d;
    c->pos++;
  }
  if (c->pos == start) {
    return fail(c, "expected a number");
  }
  if (c->p[start] == '0' && c->pos - start > 1) {
    return fail(c, "number with a leading zero");
  }
  *out = v;
  return 0;
}

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') {
    return ch - '0';
  }
  return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static int parse_hex(cursor *c, uint8_t *out, size_t out_len) {
  TV_ENSURE(expect(c, "\"", "expected a hex string") == 0, -1);
  if (c->len - c->pos < 2 * out_len + 1) {
    return fail(c, "hex string too short");
  }
  for (size_t i = 0; i < out_len; i++) {
    int hi = hex_value(c->p[c->pos + 2 * i]);
    int lo = hex_value(c->p[c->pos + 2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return fail(c, "not lowercase hex");
    }
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  c->pos += 2 * out_len;
  return expect(c, "\"", "hex string of the wrong length");
}

/* One escape after the backslash: \" \\ or \u00xx for a control byte. */
static int parse_escape(cursor *c) {
  if (c->pos >= c->len) {
    return fail(c, "unterminated string");
  }
  char e = c->p[c->pos++];
  if (e == '"' || e == '\\') {
    return 0;
  }
  if (e != 'u' || c->len - c->pos < 4 || c->p[c->pos] != '0' || c->p[c->pos + 1] != '0') {
    return fail(c, "escape other than \\\" \\\\ \\u00xx");
  }
  int hi = hex_value(c->p[c->pos + 2]);
  int lo = hex_value(c->p[c->pos + 3]);
  int v = hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
  if (v < 0 || (v >= 0x20 && v != 0x7f)) {
    return fail(c, "\\u escape of a character that is written as is");
  }
  c->pos += 4;
  return 0;
}

static int parse_text(cursor *c, audit_span *out) {
  TV_ENSURE(expect(c, "\"", "expected a string") == 0, -1);
  size_t start = c->pos;
  size_t bytes = 0; /* decoded length, bounded like the writer's input */
  for (;;) {
    if (c->pos >= c->len) {
      return fail(c, "unterminated string");
    }
    const uint8_t ch = (uint8_t)c->p[c->pos];
    if (ch == '"') {
      break;
    }
    if (++bytes > AUDIT_FIELD_BYTES_MAX) {
      return fail(c, "string too long");
    }
    if (ch == '\\') {
      c->pos++;
      TV_ENSURE(parse_escape(c) == 0, -1);
    } else if (ch < 0x20 || ch == 0x7f) {
      return fail(c, "control character in a string");
    } else if (ch >= 0x80) {
      size_t n = audit_utf8_seq_len((const uint8_t *)c->p + c->pos, c->len - c->pos);
      if (n == 0) {
        return fail(c, "invalid UTF-8 in a string");
      }
      bytes += n - 1;
      c->pos += n;
    } else {
      c->pos++;
    }
  }
  out->off = start;
  out->len = c->pos - start;
  c->pos++;
  return 0;
}

static int parse_value(cursor *c, audit_line *out, const field *f) {
  uint64_t v = 0;
  audit_span span = {0, 0};
  switch (f->kind) {
    case KIND_U64:
      TV_ENSURE(parse_u64(c, &v) == 0, -1);
      break;
    case KIND_TEXT:
      TV_ENSURE(parse_text(c, &span) == 0, -1);
      break;
    case KIND_HEX: {
      uint8_t *dest = f->slot == SLOT_LOG    ? out->log_id
                      : f->slot == SLOT_PREV ? out->prev
                      : f->slot == SLOT_MAC  ? out->mac
                                             : out->hash;
      return parse_hex(c, dest, f->slot == SLOT_LOG ? AUDIT_LOG_ID_LEN : AUDIT_HASH_LEN);
    }
  }
  if (f->slot == SLOT_TIME) {
    out->time_ms = v;
  } else if (f->slot == SLOT_SEGMENT) {
    out->segment = v;
  } else if (f->slot == SLOT_ENTRIES) {
    out->entries = v;
  } else if (f->slot == SLOT_KEY) {
    out->key = span;
  }
  return 0;
}

/* Whether the key of |f| comes next (`,"key":`), without consuming it. */
static int key_follows(const cursor *c, const field *f) {
  size_t n = strlen(f->key);
  return c->len - c->pos >= n + 4 && memcmp(c->p + c->pos, ",\"", 2) == 0 &&
         memcmp(c->p + c->pos + 2, f->key, n) == 0 && memcmp(c->p + c->pos + 2 + n, "\":", 2) == 0;
}

/* At the first field of an optional group that is absent: the index of
 * the first field after the group, else |i|. Lines written before the
 * group existed stay valid; a group present in part is still refused
 * (its next key is then "missing or out of order"). */
static size_t skip_absent_group(const cursor *c, const line_schema *schema, size_t i) {
  const field *fields = schema->fields;
  if (fields[i].slot != SLOT_OPTIONAL || (i > 0 && fields[i - 1].slot == SLOT_OPTIONAL) ||
      key_follows(c, &fields[i])) {
    return i;
  }
  while (i < schema->fields_count && fields[i].slot == SLOT_OPTIONAL) {
    i++;
  }
  assert(i < schema->fields_count); /* no schema ends with an optional group */
  return i;
}

static int parse_fields(cursor *c, audit_line *out, const line_schema *schema) {
  for (size_t i = 0; i < schema->fields_count; i++) {
    i = skip_absent_group(c, schema, i);
    const field *f = &schema->fields[i];
    size_t field_start = c->pos;
    if (expect(c, ",\"", "expected the next key") != 0 ||
        expect(c, f->key, "keys missing or out of order") != 0 ||
        expect(c, "\":", "keys missing or out of order") != 0) {
      return -1;
    }
    if (f->slot == SLOT_MAC) {
      out->mac_prefix_len = field_start;
    } else if (f->slot == SLOT_HASH) {
      out->hash_prefix_len = field_start;
    }
    TV_ENSURE(parse_value(c, out, f) == 0, -1);
  }
  return 0;
}

static const line_schema *parse_type(cursor *c) {
  audit_span span;
  if (expect(c, ",\"type\":", "second key is not \"type\"") != 0 || parse_text(c, &span) != 0) {
    return NULL;
  }
  for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++) {
    if (strlen(schemas[i].name) == span.len &&
        memcmp(schemas[i].name, c->p + span.off, span.len) == 0) {
      return &schemas[i];
    }
  }
  fail(c, "unknown entry type");
  return NULL;
}

tv_status audit_line_parse(audit_line *out, const char **out_why, const char *line,
                           size_t line_len) {
  memset(out, 0, sizeof *out);
  *out_why = NULL;
  cursor c = {line, line_len, 0, NULL};
  const line_schema *schema = NULL;
  if (line_len > AUDIT_LINE_BYTES_MAX) {
    fail(&c, "line too long");
  } else if (expect(&c, "{\"seq\":", "line does not start with {\"seq\":") == 0 &&
             parse_u64(&c, &out->seq) == 0 && (schema = parse_type(&c)) != NULL &&
             parse_fields(&c, out, schema) == 0 &&
             expect(&c, "}", "expected } after the last key") == 0 && c.pos != line_len) {
    fail(&c, "bytes after the closing }");
  }
  if (c.why != NULL) {
    *out_why = c.why;
    return TV_E_AUDIT_MALFORMED;
  }
  out->type = schema->type;
  return TV_OK;
}
