/* http_load — vault_bench's HTTP/JSON modes: the same load as its gRPC
 * modes (--in-flight requests or streams kept outstanding, each replaced
 * as soon as it completes) against tokenvaultd's HTTP listener, with
 * libcurl's multi interface on one thread (one connection per request in
 * flight, HTTP/1.1 keep-alive) and jansson for the JSON.
 *
 *   HTTP_LOAD_TOKENIZE           POST /v1/tokenize, --batch fresh PANs
 *   HTTP_LOAD_DETOKENIZE         POST /v1/detokenize FULL of --batch tokens
 *   HTTP_LOAD_DETOKENIZE_STREAM  POST /v1/detokenize:stream (NDJSON, chunked
 *                                both ways): HTTP_LOAD_STREAM_LINES
 *                                DetokenizeRequest lines per stream, then its answer
 *
 * The detokenize modes first tokenize a pool over HTTP and read it back. */
#ifndef BENCH_HTTP_LOAD_H
#define BENCH_HTTP_LOAD_H

#include <stddef.h>
#include <stdint.h>

typedef enum http_load_kind { HTTP_LOAD_TOKENIZE, HTTP_LOAD_DETOKENIZE, HTTP_LOAD_DETOKENIZE_STREAM } http_load_kind;

typedef struct http_load_config {
  const char *target;                  /* HOST:PORT of the HTTP listener */
  const char *ca, *cert, *key;         /* ca NULL: plaintext HTTP */
  const char *server_name;             /* the name the server certificate carries */
  const char *ns;
  http_load_kind kind;
  size_t in_flight, batch, pool_tokens;
  void (*next_pan)(void *ctx, char *out); /* writes a fresh 16-digit PAN + NUL */
  void *pan_ctx;
} http_load_config;

/* What the window measured: only replies that completed inside it. */
typedef struct http_load_tally {
  uint64_t calls, items, item_errors, call_errors;
  uint32_t *lat_us; /* per call (per line for the stream), malloc'ed */
  size_t lat_count, lat_cap;
  long first_error_status; /* HTTP status of the first failed call; 0: none or no answer */
  char first_error[200];
} http_load_tally;

typedef struct http_load http_load;

/* http_load_new sets up |in_flight| connections' worth of handles.
 * Returns 0, or -1 with the reason in |tally->first_error|. */
int http_load_new(http_load **out, const http_load_config *config, http_load_tally *tally);

/* http_load_prepare tokenizes the pool the detokenize modes read back.
 * Returns 0, or -1 with the reason in the tally. */
int http_load_prepare(http_load *h);

/* http_load_window runs the load for |seconds| and waits for what is
 * outstanding at the end. */
void http_load_window(http_load *h, double seconds);

void http_load_free(http_load *h);

#endif
