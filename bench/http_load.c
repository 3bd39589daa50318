#include "http_load.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

/* A 1,000-item answer is ~100 KB; anything far beyond is a broken server. */
#define HTTP_LOAD_REPLY_BYTES_MAX (8u << 20)
#define HTTP_LOAD_CALL_TIMEOUT_S 60L
#define HTTP_LOAD_POOL_MAX 1024
#define HTTP_LOAD_PAN_LEN 16
/* request lines per NDJSON stream: its answer comes once its body is whole */
#define HTTP_LOAD_STREAM_LINES 8u

typedef struct buf {
  char *data;
  size_t len, cap;
} buf;

/* One request (or stream) in flight and its connection's handle. */
typedef struct slot {
  struct http_load *h;
  CURL *easy;
  uint64_t started_ns; /* of the request, or of the stream */
  char *body;          /* the tokenize body it owns, or NULL */
  buf reply;
  /* stream: the line being sent, and what the upload does next */
  const char *line;
  size_t line_len, line_off;
  size_t lines_sent; /* in this stream */
  size_t lines_out;  /* sent, not yet answered */
  int ending;        /* a bad answer: send no more lines */
} slot;

struct http_load {
  http_load_config c;
  http_load_tally *t;
  CURLM *multi;
  struct curl_slist *json_headers, *ndjson_headers, *resolve;
  char base_url[300];
  slot *slots;
  /* detokenize: request bodies made once, each ending in '\n', sent in rotation */
  char *pool[HTTP_LOAD_POOL_MAX];
  size_t pool_len[HTTP_LOAD_POOL_MAX];
  size_t pool_count, pool_next;
  uint64_t deadline_ns;
  size_t outstanding;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *path_of(http_load_kind kind) {
  return kind == HTTP_LOAD_TOKENIZE     ? "/v1/tokenize"
         : kind == HTTP_LOAD_DETOKENIZE ? "/v1/detokenize"
                                        : "/v1/detokenize:stream";
}

__attribute__((format(printf, 3, 4))) static void set_error(http_load *h, long status, const char *fmt, ...) {
  h->t->call_errors++;
  if (h->t->first_error[0] != '\0') {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(h->t->first_error, sizeof h->t->first_error, fmt, ap);
  va_end(ap);
  h->t->first_error_status = status;
}

/* ---- bodies ---- */

static int buf_append(buf *b, const char *p, size_t len) {
  if (b->len + len > HTTP_LOAD_REPLY_BYTES_MAX) {
    return 0;
  }
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 256 * 1024;
    while (cap < b->len + len) {
      cap *= 2;
    }
    char *grown = realloc(b->data, cap);
    if (grown == NULL) {
      return 0;
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, len);
  b->len += len;
  return 1;
}

static char *dump(json_t *req, size_t *out_len) {
  char *text = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  if (text == NULL) {
    fprintf(stderr, "vault_bench: out of memory for a JSON body\n");
    exit(1);
  }
  *out_len = strlen(text);
  return text;
}

static char *tokenize_body(http_load *h, size_t *out_len) {
  json_t *values = json_array();
  for (size_t i = 0; i < h->c.batch; i++) {
    char pan[HTTP_LOAD_PAN_LEN + 1];
    h->c.next_pan(h->c.pan_ctx, pan);
    json_array_append_new(values, json_stringn(pan, HTTP_LOAD_PAN_LEN));
  }
  return dump(json_pack("{s:s, s:o}", "namespace", h->c.ns, "values", values), out_len);
}

/* Replies are parsed with jansson into a bump region reset per reply (the
 * generator is one thread), so the client's cost per value is jansson's
 * parse and not glibc's malloc/free of a node per result: the gRPC modes'
 * client unpacks a reply with protobuf-c's one allocation per message. */
#define HTTP_LOAD_REPLY_ARENA_BYTES ((size_t)16 << 20)

static struct {
  char *base;
  size_t used;
  int active;
} reply_arena;

static void *arena_malloc(size_t size) {
  size_t rounded = (size + 15u) & ~(size_t)15u;
  if (reply_arena.active && rounded >= size && rounded <= HTTP_LOAD_REPLY_ARENA_BYTES - reply_arena.used) {
    void *p = reply_arena.base + reply_arena.used;
    reply_arena.used += rounded;
    return p;
  }
  return malloc(size);
}

static void arena_free(void *p) {
  if (reply_arena.base != NULL && (char *)p >= reply_arena.base &&
      (char *)p < reply_arena.base + HTTP_LOAD_REPLY_ARENA_BYTES) {
    return; /* the region is reset before the next reply */
  }
  free(p);
}

static void reply_arena_init(void) {
  if (reply_arena.base == NULL) {
    reply_arena.base = malloc(HTTP_LOAD_REPLY_ARENA_BYTES);
    json_set_alloc_funcs(arena_malloc, arena_free);
  }
}

/* Counts the items of a Tokenize/DetokenizeResponse and how many failed
 * (a status other than OK; a revealed value that is not a 16-digit PAN);
 * returns 0 if it is not one. */
static int count_parsed(const http_load *h, const char *text, size_t len, uint64_t *out_items, uint64_t *out_errors);

static int count_reply(const http_load *h, const char *text, size_t len, uint64_t *out_items, uint64_t *out_errors) {
  reply_arena.used = 0;
  reply_arena.active = reply_arena.base != NULL;
  int ok = count_parsed(h, text, len, out_items, out_errors);
  reply_arena.active = 0;
  return ok;
}

static int count_parsed(const http_load *h, const char *text, size_t len, uint64_t *out_items, uint64_t *out_errors) {
  json_error_t err;
  json_t *root = json_loadb(text, len, 0, &err);
  json_t *results = json_object_get(root, "results");
  if (!json_is_array(results)) {
    json_decref(root);
    return 0;
  }
  size_t i;
  json_t *r;
  *out_errors = 0;
  json_array_foreach(results, i, r) {
    int bad = json_integer_value(json_object_get(json_object_get(r, "status"), "code")) != 0;
    if (h->c.kind != HTTP_LOAD_TOKENIZE) {
      const char *v = json_string_value(json_object_get(r, "value"));
      bad |= v == NULL || strlen(v) != HTTP_LOAD_PAN_LEN;
    }
    *out_errors += (uint64_t)bad;
  }
  *out_items = json_array_size(results);
  json_decref(root);
  return 1;
}

/* A failed call: its HTTP status and the problem's name and detail. */
static void note_failure(http_load *h, const slot *s, const char *path, CURLcode rc, long code) {
  if (code == 0) {
    set_error(h, 0, "%s: %s", path, curl_easy_strerror(rc));
    return;
  }
  json_error_t err;
  json_t *problem = s->reply.len > 0 ? json_loadb(s->reply.data, s->reply.len, 0, &err) : NULL;
  const char *name = json_string_value(json_object_get(problem, "name"));
  const char *detail = json_string_value(json_object_get(problem, "detail"));
  set_error(h, code, "%s: HTTP %ld %s%s%s", path, code, name != NULL ? name : "(no problem body)",
            detail != NULL ? ": " : "", detail != NULL ? detail : "");
  json_decref(problem);
}

static void record_latency(http_load_tally *t, uint64_t ns) {
  if (t->lat_count == t->lat_cap) {
    t->lat_cap = t->lat_cap ? t->lat_cap * 2 : 65536;
    t->lat_us = realloc(t->lat_us, t->lat_cap * sizeof *t->lat_us);
    if (t->lat_us == NULL) {
      fprintf(stderr, "vault_bench: out of memory for latencies\n");
      exit(1);
    }
  }
  uint64_t us = ns / 1000u;
  t->lat_us[t->lat_count++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* A reply arrived: counted only if it completed inside the window. */
static void account(http_load *h, uint64_t started_ns, uint64_t done_ns, uint64_t items, uint64_t errors) {
  if (done_ns > h->deadline_ns) {
    return;
  }
  h->t->calls++;
  h->t->items += items - errors;
  h->t->item_errors += errors;
  record_latency(h->t, done_ns - started_ns);
}

/* ---- handles ---- */

static size_t batch_write(char *p, size_t size, size_t n, void *ud) {
  slot *s = ud;
  return buf_append(&s->reply, p, size * n) ? size * n : 0;
}

static size_t stream_write(char *p, size_t size, size_t n, void *ud);
static size_t stream_read(char *out, size_t size, size_t n, void *ud);

static CURL *easy_new(http_load *h, slot *s, const char *path, int stream) {
  CURL *e = curl_easy_init();
  if (e == NULL) {
    return NULL;
  }
  char url[400];
  snprintf(url, sizeof url, "%s%s", h->base_url, path);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, HTTP_LOAD_CALL_TIMEOUT_S);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_PRIVATE, s);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, stream ? h->ndjson_headers : h->json_headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, stream ? stream_write : batch_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
  if (stream) {
    curl_easy_setopt(e, CURLOPT_READFUNCTION, stream_read);
    curl_easy_setopt(e, CURLOPT_READDATA, s);
  }
  if (h->resolve != NULL) {
    curl_easy_setopt(e, CURLOPT_RESOLVE, h->resolve);
  }
  if (h->c.ca != NULL) {
    curl_easy_setopt(e, CURLOPT_CAINFO, h->c.ca);
    if (h->c.cert != NULL) {
      curl_easy_setopt(e, CURLOPT_SSLCERT, h->c.cert);
      curl_easy_setopt(e, CURLOPT_SSLKEY, h->c.key);
    }
  }
  return e;
}

/* "https://NAME:PORT" (NAME resolved to the target's host) or
 * "http://HOST:PORT". */
static int base_url(http_load *h) {
  const char *colon = strrchr(h->c.target, ':');
  if (colon == NULL || colon == h->c.target) {
    return 0;
  }
  if (h->c.ca != NULL && h->c.server_name != NULL) {
    char entry[300];
    snprintf(entry, sizeof entry, "%s%s:%.*s", h->c.server_name, colon, (int)(colon - h->c.target), h->c.target);
    h->resolve = curl_slist_append(NULL, entry);
    snprintf(h->base_url, sizeof h->base_url, "https://%s%s", h->c.server_name, colon);
  } else {
    snprintf(h->base_url, sizeof h->base_url, "%s://%s", h->c.ca != NULL ? "https" : "http", h->c.target);
  }
  return 1;
}

/* ---- batch requests ---- */

static void batch_start(http_load *h, slot *s) {
  free(s->body);
  s->body = NULL;
  const char *body;
  size_t len;
  if (h->c.kind == HTTP_LOAD_TOKENIZE) {
    s->body = tokenize_body(h, &len);
    body = s->body;
  } else {
    size_t i = h->pool_next++ % h->pool_count;
    body = h->pool[i];
    len = h->pool_len[i] - 1; /* without the NDJSON line end */
  }
  curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
  s->reply.len = 0;
  s->started_ns = now_ns();
  curl_multi_add_handle(h->multi, s->easy);
  h->outstanding++;
}

static void batch_done(http_load *h, slot *s, CURLcode rc) {
  uint64_t done = now_ns(), items = 0, errors = 0;
  long code = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_multi_remove_handle(h->multi, s->easy);
  h->outstanding--;
  if (rc == CURLE_OK && code == 200 && count_reply(h, s->reply.data, s->reply.len, &items, &errors)) {
    account(h, s->started_ns, done, items, errors);
  } else {
    note_failure(h, s, path_of(h->c.kind), rc, code);
    if (code != 0 && code != 429 && code < 500) {
      return; /* a refusal that the next call would get too */
    }
  }
  if (done < h->deadline_ns) {
    batch_start(h, s);
  }
}

/* ---- NDJSON streams ----
 *
 * tokenvaultd answers a stream once its body is complete (libmicrohttpd
 * 0.9.75 has no full duplex; vault/server/http/README.md), so a stream
 * here is HTTP_LOAD_STREAM_LINES request lines sent back to back (fewer
 * once the window is over), then its answer lines as they come; the next
 * stream goes on the same keep-alive connection. Latency is per line, from
 * the stream's start to its answer line. */

static void next_line(http_load *h, slot *s) {
  size_t i = h->pool_next++ % h->pool_count;
  s->line = h->pool[i];
  s->line_len = h->pool_len[i];
  s->line_off = 0;
  s->lines_sent++;
  s->lines_out++;
}

/* The upload: the stream's lines one after the other, then its end. */
static size_t stream_read(char *out, size_t size, size_t n, void *ud) {
  slot *s = ud;
  http_load *h = s->h;
  if (s->line_off == s->line_len && !s->ending && s->lines_sent < HTTP_LOAD_STREAM_LINES &&
      now_ns() < h->deadline_ns) {
    next_line(h, s);
  }
  if (s->line_off < s->line_len) {
    size_t k = s->line_len - s->line_off < size * n ? s->line_len - s->line_off : size * n;
    memcpy(out, s->line + s->line_off, k);
    s->line_off += k;
    return k;
  }
  return 0; /* the last chunk: the request ends */
}

static void stream_answer(http_load *h, slot *s, const char *line, size_t len) {
  uint64_t done = now_ns(), items = 0, errors = 0;
  if (s->lines_out == 0 || !count_reply(h, line, len, &items, &errors)) {
    set_error(h, 200, "%s: %s", path_of(h->c.kind),
              s->lines_out == 0 ? "an answer line for no request line" : "an answer line that is not a "
                                                                          "DetokenizeResponse");
    s->ending = 1;
    return;
  }
  s->lines_out--;
  account(h, s->started_ns, done, items, errors);
}

/* The answer: one DetokenizeResponse per line, in order. Anything but a
 * 200 is a problem body, kept whole for the report. */
static size_t stream_write(char *p, size_t size, size_t n, void *ud) {
  slot *s = ud;
  if (!buf_append(&s->reply, p, size * n)) {
    return 0;
  }
  long code = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) {
    s->ending = 1;
    return size * n;
  }
  char *nl;
  while ((nl = memchr(s->reply.data, '\n', s->reply.len)) != NULL) {
    size_t used = (size_t)(nl - s->reply.data) + 1;
    stream_answer(s->h, s, s->reply.data, used - 1);
    memmove(s->reply.data, s->reply.data + used, s->reply.len - used);
    s->reply.len -= used;
  }
  return size * n;
}

static void stream_start(http_load *h, slot *s) {
  s->reply.len = 0;
  s->lines_out = s->lines_sent = 0;
  s->ending = 0;
  s->started_ns = now_ns();
  next_line(h, s);
  curl_multi_add_handle(h->multi, s->easy);
  h->outstanding++;
}

static void stream_done(http_load *h, slot *s, CURLcode rc) {
  long code = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_multi_remove_handle(h->multi, s->easy);
  h->outstanding--;
  if (rc != CURLE_OK || code != 200) {
    note_failure(h, s, path_of(h->c.kind), rc, code); /* not reopened: a 404 would only repeat */
    return;
  }
  if (s->lines_out > 0) {
    set_error(h, code, "%s: the stream ended with %zu request lines unanswered", path_of(h->c.kind), s->lines_out);
    return;
  }
  if (now_ns() < h->deadline_ns) {
    stream_start(h, s);
  }
}

/* ---- the window ---- */

static void drain_messages(http_load *h) {
  CURLMsg *m;
  int left = 0;
  while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) {
      continue;
    }
    slot *s = NULL;
    CURLcode rc = m->data.result;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
    if (h->c.kind == HTTP_LOAD_DETOKENIZE_STREAM) {
      stream_done(h, s, rc);
    } else {
      batch_done(h, s, rc);
    }
  }
}

void http_load_window(http_load *h, double seconds) {
  int stream = h->c.kind == HTTP_LOAD_DETOKENIZE_STREAM;
  h->deadline_ns = now_ns() + (uint64_t)(seconds * 1e9);
  for (size_t i = 0; i < h->c.in_flight; i++) {
    if (stream) { /* the hang guard covers the whole stream */
      curl_easy_setopt(h->slots[i].easy, CURLOPT_TIMEOUT, (long)seconds + HTTP_LOAD_CALL_TIMEOUT_S);
    }
    stream ? stream_start(h, &h->slots[i]) : batch_start(h, &h->slots[i]);
  }
  while (h->outstanding > 0) {
    int running = 0;
    curl_multi_perform(h->multi, &running);
    drain_messages(h);
    if (h->outstanding > 0) {
      curl_multi_poll(h->multi, NULL, 0, 20, NULL);
    }
  }
}

/* ---- preparation: a pool of tokens to read back ---- */

/* Tokenizes one batch (a blocking call) and turns its tokens into a
 * DetokenizeRequest line. */
static int prepare_one(http_load *h, char **out, size_t *out_len) {
  slot tmp = {.h = h};
  tmp.easy = easy_new(h, &tmp, "/v1/tokenize", 0);
  size_t len = 0;
  tmp.body = tokenize_body(h, &len);
  curl_easy_setopt(tmp.easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(tmp.easy, CURLOPT_POSTFIELDS, tmp.body);
  CURLcode rc = curl_easy_perform(tmp.easy);
  long code = 0;
  curl_easy_getinfo(tmp.easy, CURLINFO_RESPONSE_CODE, &code);
  json_error_t err;
  json_t *root = rc == CURLE_OK && code == 200 ? json_loadb(tmp.reply.data, tmp.reply.len, 0, &err) : NULL;
  json_t *results = json_object_get(root, "results"), *tokens = json_array(), *r;
  size_t i;
  json_array_foreach(results, i, r) {
    if (json_integer_value(json_object_get(json_object_get(r, "status"), "code")) == 0) {
      json_array_append(tokens, json_object_get(r, "token"));
    }
  }
  int ok = json_array_size(tokens) == h->c.batch;
  if (!ok) {
    note_failure(h, &tmp, "/v1/tokenize", rc, code);
  }
  json_decref(root);
  curl_easy_cleanup(tmp.easy);
  free(tmp.body);
  free(tmp.reply.data);
  json_t *req = json_pack("{s:s, s:o, s:s, s:s}", "namespace", h->c.ns, "tokens", tokens, "reveal", "REVEAL_FULL",
                          "reason", "vault_bench");
  char *text = dump(req, &len);
  *out = realloc(text, len + 2);
  if (!ok || *out == NULL) {
    free(*out != NULL ? *out : text);
    return 0;
  }
  memcpy(*out + len, "\n", 2);
  *out_len = len + 1;
  return 1;
}

int http_load_prepare(http_load *h) {
  if (h->c.kind == HTTP_LOAD_TOKENIZE) {
    return 0;
  }
  size_t n = (h->c.pool_tokens + h->c.batch - 1) / h->c.batch;
  for (size_t i = 0; i < n && i < HTTP_LOAD_POOL_MAX; i++) {
    if (!prepare_one(h, &h->pool[h->pool_count], &h->pool_len[h->pool_count])) {
      return -1;
    }
    h->pool_count++;
  }
  return 0;
}

/* ---- lifecycle ---- */

int http_load_new(http_load **out, const http_load_config *config, http_load_tally *tally) {
  *out = NULL;
  http_load *h = calloc(1, sizeof *h);
  if (h == NULL) {
    snprintf(tally->first_error, sizeof tally->first_error, "out of memory");
    return -1;
  }
  h->c = *config;
  h->t = tally;
  *out = h;
  reply_arena_init();
  if (!base_url(h)) {
    snprintf(tally->first_error, sizeof tally->first_error, "--http-target %s is not HOST:PORT", config->target);
    return -1;
  }
  h->json_headers = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"), "Expect:");
  h->ndjson_headers = curl_slist_append(
      curl_slist_append(curl_slist_append(NULL, "Content-Type: application/x-ndjson"), "Transfer-Encoding: chunked"),
      "Expect:");
  h->multi = curl_multi_init();
  h->slots = calloc(config->in_flight, sizeof *h->slots);
  if (h->json_headers == NULL || h->ndjson_headers == NULL || h->multi == NULL || h->slots == NULL) {
    snprintf(tally->first_error, sizeof tally->first_error, "cannot set up libcurl");
    return -1;
  }
  /* One connection per request in flight, kept alive between requests. */
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)config->in_flight + 4);
  for (size_t i = 0; i < config->in_flight; i++) {
    h->slots[i].h = h;
    h->slots[i].easy = easy_new(h, &h->slots[i], path_of(config->kind), config->kind == HTTP_LOAD_DETOKENIZE_STREAM);
    if (h->slots[i].easy == NULL) {
      snprintf(tally->first_error, sizeof tally->first_error, "cannot set up libcurl");
      return -1;
    }
  }
  return 0;
}

void http_load_free(http_load *h) {
  if (h == NULL) {
    return;
  }
  for (size_t i = 0; h->slots != NULL && i < h->c.in_flight; i++) {
    curl_easy_cleanup(h->slots[i].easy);
    free(h->slots[i].body);
    free(h->slots[i].reply.data);
  }
  for (size_t i = 0; i < h->pool_count; i++) {
    free(h->pool[i]);
  }
  free(h->slots);
  curl_multi_cleanup(h->multi);
  curl_slist_free_all(h->json_headers);
  curl_slist_free_all(h->ndjson_headers);
  curl_slist_free_all(h->resolve);
  free(h);
}
