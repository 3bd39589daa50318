#include "client/c/cli/bulk_jsonl.h"

#include <string.h>

/* Nesting a value may have: deeper lines are refused, so a hostile line
 * cannot exhaust the stack of a recursive scanner. */
#define JSON_DEPTH_MAX 64
/* Longest key compared with the field names; longer keys match none. */
#define JSON_KEY_BYTES_MAX 256

typedef struct json_scan {
  const uint8_t *p; /* the line */
  size_t len;
  size_t pos;
  bulk_batch *b; /* values are decoded into b->values when set */
} json_scan;

static void skip_ws(json_scan *s) {
  while (s->pos < s->len && (s->p[s->pos] == ' ' || s->p[s->pos] == '\t' || s->p[s->pos] == '\r' ||
                             s->p[s->pos] == '\n')) {
    s->pos++;
  }
}

static int hex4(const uint8_t *p, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    uint8_t c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') v |= (uint32_t)((c | 0x20) - 'a' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

/* Appends code point |cp| as UTF-8 to |out| (at most 4 bytes). */
static size_t utf8_put(uint32_t cp, char *out) {
  if (cp < 0x80) { out[0] = (char)cp; return 1; }
  if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* A \u escape at s->pos (after the backslash and 'u'), with a surrogate
 * pair when there is one; the UTF-8 goes to |out|. */
static int unicode_escape(json_scan *s, char *out, size_t *out_len) {
  uint32_t cp;
  if (s->pos + 4 > s->len || hex4(s->p + s->pos, &cp) != 0) return -1;
  s->pos += 4;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    uint32_t lo;
    if (s->pos + 6 > s->len || s->p[s->pos] != '\\' || s->p[s->pos + 1] != 'u' ||
        hex4(s->p + s->pos + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
      return -1;
    }
    s->pos += 6;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
  } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
    return -1;
  }
  *out_len = utf8_put(cp, out);
  return 0;
}

/* One escape after a backslash; decoded bytes to |out|. */
static int escape(json_scan *s, char *out, size_t *out_len) {
  if (s->pos >= s->len) return -1;
  uint8_t e = s->p[s->pos++];
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *hit = e != 0 ? strchr(from, e) : NULL;
  if (hit != NULL) {
    out[0] = to[hit - from];
    *out_len = 1;
    return 0;
  }
  return e == 'u' ? unicode_escape(s, out, out_len) : -1;
}

/* A string at s->pos (opening quote). Decoded bytes go to |key| (up to
 * key_cap, *key_len; too long sets *key_len past key_cap) or, when key is
 * NULL and s->b is set, to the batch's values. */
static int string(json_scan *s, char *key, size_t key_cap, size_t *key_len) {
  s->pos++;
  size_t n = 0;
  for (;;) {
    if (s->pos >= s->len) return -1;
    uint8_t c = s->p[s->pos++];
    if (c == '"') break;
    if (c < 0x20) return -1;
    char buf[4] = {(char)c};
    size_t m = 1;
    if (c == '\\' && escape(s, buf, &m) != 0) return -1;
    for (size_t i = 0; i < m; i++, n++) {
      if (key != NULL && n < key_cap) key[n] = buf[i];
      if (key == NULL && s->b != NULL && bulk_value_push(s->b, buf[i]) != TV_OK) return -1;
    }
  }
  if (key_len != NULL) *key_len = n;
  return 0;
}

static int value(json_scan *s, int depth);

static int container(json_scan *s, int depth, uint8_t close) {
  s->pos++;
  skip_ws(s);
  if (s->pos < s->len && s->p[s->pos] == close) {
    s->pos++;
    return 0;
  }
  for (;;) {
    skip_ws(s);
    if (close == '}') {
      if (s->pos >= s->len || s->p[s->pos] != '"' || string(s, NULL, 0, NULL) != 0) return -1;
      skip_ws(s);
      if (s->pos >= s->len || s->p[s->pos++] != ':') return -1;
    }
    if (value(s, depth + 1) != 0) return -1;
    skip_ws(s);
    if (s->pos >= s->len) return -1;
    uint8_t c = s->p[s->pos++];
    if (c == close) return 0;
    if (c != ',') return -1;
  }
}

/* Skips any value (strings not decoded: s->b is cleared by callers). */
static int value(json_scan *s, int depth) {
  skip_ws(s);
  if (depth > JSON_DEPTH_MAX || s->pos >= s->len) return -1;
  uint8_t c = s->p[s->pos];
  if (c == '"') return string(s, NULL, 0, NULL);
  if (c == '{') return container(s, depth, '}');
  if (c == '[') return container(s, depth, ']');
  size_t start = s->pos;
  while (s->pos < s->len && strchr(",}] \t\r\n", s->p[s->pos]) == NULL) s->pos++;
  return s->pos > start ? 0 : -1; /* numbers and literals: not checked further */
}

/* target_of's answer for the --namespace-column field. */
#define BULK_JSONL_NS_SOURCE ((int)BULK_TARGETS_MAX)

static int target_of(const bulk_jsonl_map *map, const char *key, size_t key_len) {
  if (key_len > JSON_KEY_BYTES_MAX) return -1;
  if (map->ns_field != NULL && strlen(map->ns_field) == key_len && memcmp(map->ns_field, key, key_len) == 0) {
    return BULK_JSONL_NS_SOURCE;
  }
  for (size_t i = 0; i < map->count; i++) {
    if (strlen(map->names[i]) == key_len && memcmp(map->names[i], key, key_len) == 0) return (int)i;
  }
  return -1;
}

/* The value of target field |t| at s->pos: a cell for the batch. */
static int target_value(json_scan *s, bulk_batch *b, const bulk_jsonl_map *map, int t, size_t base) {
  int ns_source = t == BULK_JSONL_NS_SOURCE;
  bulk_cell cell = {.raw_off = base + s->pos, .val_off = b->values_len, .row = (uint32_t)b->rows,
                    .target = ns_source ? 0 : (uint16_t)t, .ns = ns_source ? 0 : map->target_ns[t],
                    .ns_source = (uint8_t)ns_source};
  uint8_t c = s->p[s->pos];
  json_scan decode = *s;
  decode.b = c == '"' ? b : NULL;
  if ((c == '"' ? string(&decode, NULL, 0, NULL) : value(&decode, 1)) != 0) return -1;
  cell.raw_len = decode.pos - s->pos;
  s->pos = decode.pos;
  cell.val_len = b->values_len - cell.val_off;
  cell.quoted = c == '"';
  cell.skip = c == 'n' && cell.raw_len == 4 && memcmp(s->p + s->pos - 4, "null", 4) == 0;
  cell.not_string = c != '"' && !cell.skip;
  if (ns_source) { /* a null, a number...: names no namespace, and is written as it is */
    cell.skip = 1;
    cell.not_string = 0;
  }
  if (bulk_value_end(b) != TV_OK) return -1;
  return bulk_cell_add(b, &cell) == TV_OK ? 0 : -1;
}

static int object(json_scan *s, bulk_batch *b, const bulk_jsonl_map *map, size_t base) {
  uint64_t seen = 0;
  int ns_seen = 0;
  skip_ws(s);
  if (s->pos >= s->len || s->p[s->pos] != '{') return -1;
  s->pos++;
  skip_ws(s);
  if (s->pos < s->len && s->p[s->pos] == '}') { s->pos++; return 0; }
  for (;;) {
    char key[JSON_KEY_BYTES_MAX];
    size_t key_len = 0;
    skip_ws(s);
    if (s->pos >= s->len || s->p[s->pos] != '"' || string(s, key, sizeof key, &key_len) != 0) return -1;
    skip_ws(s);
    if (s->pos >= s->len || s->p[s->pos++] != ':') return -1;
    skip_ws(s);
    int t = target_of(map, key, key_len);
    int first = t == BULK_JSONL_NS_SOURCE ? !ns_seen : t >= 0 && !(seen & (1ull << t));
    if (first && s->pos < s->len) {
      if (t == BULK_JSONL_NS_SOURCE) ns_seen = 1;
      else seen |= 1ull << t;
      if (target_value(s, b, map, t, base) != 0) return -1;
    } else if (value(s, 1) != 0) {
      return -1;
    }
    skip_ws(s);
    if (s->pos >= s->len) return -1;
    uint8_t c = s->p[s->pos++];
    if (c == '}') return 0;
    if (c != ',') return -1;
  }
}

static tv_status read_line(bulk_in *in, bulk_batch *b, size_t start, uint64_t line, cli_diag *diag) {
  for (int c = bulk_in_getc(in); c >= 0; c = bulk_in_getc(in)) {
    if (bulk_raw_push(b, start, (uint8_t)c) != TV_OK) {
      return cli_fail(diag, TV_E_FORMAT_TOO_LONG, "line %llu is over %u bytes", (unsigned long long)line,
                      BULK_ROW_BYTES_MAX);
    }
    if (c == '\n') break;
  }
  return in->error ? cli_fail(diag, TV_E_IO, "reading the input failed") : TV_OK;
}

tv_status bulk_jsonl_read(bulk_in *in, bulk_batch *b, const bulk_jsonl_map *map, int *out_eof,
                          cli_diag *diag) {
  size_t start = b->raw_len;
  uint64_t line = b->first_row + b->rows;
  TV_TRY(read_line(in, b, start, line, diag));
  *out_eof = b->raw_len == start;
  if (*out_eof) return TV_OK;
  json_scan s = {.p = b->raw + start, .len = b->raw_len - start};
  skip_ws(&s);
  if (s.pos < s.len) {
    size_t cells_before = b->cells_count;
    s.pos = 0;
    if (object(&s, b, map, start) != 0 || (skip_ws(&s), s.pos != s.len)) {
      b->cells_count = cells_before;
      return cli_fail(diag, TV_E_FORMAT_CHAR, "line %llu is not one JSON object (byte %zu)",
                      (unsigned long long)line, s.pos + 1);
    }
  }
  return bulk_row_end(b) == TV_OK ? TV_OK : cli_fail(diag, TV_E_NO_MEMORY, "out of memory");
}

void bulk_json_write_string(FILE *out, const char *text, size_t len) {
  putc('"', out);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '"' || c == '\\') {
      putc('\\', out);
      putc(c, out);
    } else if (c < 0x20) {
      fprintf(out, "\\u%04x", c);
    } else {
      putc(c, out);
    }
  }
  putc('"', out);
}
