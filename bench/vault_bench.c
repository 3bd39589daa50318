/* vault_bench — an asynchronous load generator for tokenvaultd on the gRPC
 * C core: --in-flight calls (or streams) are kept outstanding on one
 * completion queue, and each one that completes is replaced at once, so
 * the server, not the client's think time, sets the rate.
 *
 * Modes:
 *   health            grpc.health.v1.Health/Check: the RPC stack's ceiling
 *   tokenize          Tokenize, 1 new value per call
 *   tokenize-batch    Tokenize, --batch new values per call (durable writes)
 *   detokenize-batch  Detokenize FULL of --batch tokens per call
 *   detokenize-stream DetokenizeStream, --batch tokens per message
 *   http-tokenize-batch, http-detokenize-batch, http-detokenize-stream
 *                     the same three over the HTTP/JSON listener
 *                     (--http-target; http_load.c: libcurl, keep-alive)
 * Tokenize values are fresh Luhn-valid PANs (so every item is a new record
 * and a durable write, not a convergent lookup); detokenize modes first
 * tokenize a pool of values and then read those tokens back.
 *
 * Output: one line per run, human-readable or JSON (--json): calls/s,
 * items/s, p50/p99/p999 latency per call (per message for the stream),
 * errors, CPU microseconds per item of the generator and (--server-pid)
 * of the server, and the 1-minute load average at the end. On a shared
 * machine the rates follow the load; CPU per item does much less, and
 * 2 cores / (server + generator CPU per item) bounds what two idle cores
 * could do. Exit status 0 only if calls completed and none failed; 3 if
 * the server does not serve the mode's path (HTTP 404: a server without
 * the NDJSON endpoint). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include <curl/curl.h>

#include "grpc/health/v1/health.pb-c.h"
#include "http_load.h"
#include "tokenvault/v1/tokenvault.pb-c.h"

/* Limits: the server allows 1,000 items per request; a pool of 20,000
 * tokens spreads reads over the index without a long preparation. */
#define BENCH_BATCH_MAX 1000
#define BENCH_IN_FLIGHT_MAX 4096
#define BENCH_CHANNELS_MAX 16
#define BENCH_POOL_TOKENS 20000
#define BENCH_CALL_DEADLINE_S 60
#define BENCH_PAN_LEN 16

typedef enum mode_id {
  M_HEALTH, M_TOKENIZE, M_TOKENIZE_BATCH, M_DETOKENIZE_BATCH, M_DETOKENIZE_STREAM,
  M_HTTP_TOKENIZE_BATCH, M_HTTP_DETOKENIZE_BATCH, M_HTTP_DETOKENIZE_STREAM
} mode_id;

static const struct {
  const char *name;
  const char *path;
  int stream;
  int http; /* 1 + http_load_kind: served by http_load.c */
} modes[] = {
    {"health", "/grpc.health.v1.Health/Check", 0, 0},
    {"tokenize", "/tokenvault.v1.TokenVault/Tokenize", 0, 0},
    {"tokenize-batch", "/tokenvault.v1.TokenVault/Tokenize", 0, 0},
    {"detokenize-batch", "/tokenvault.v1.TokenVault/Detokenize", 0, 0},
    {"detokenize-stream", "/tokenvault.v1.TokenVault/DetokenizeStream", 1, 0},
    {"http-tokenize-batch", "/v1/tokenize", 0, 1 + HTTP_LOAD_TOKENIZE},
    {"http-detokenize-batch", "/v1/detokenize", 0, 1 + HTTP_LOAD_DETOKENIZE},
    {"http-detokenize-stream", "/v1/detokenize:stream", 1, 1 + HTTP_LOAD_DETOKENIZE_STREAM},
};

typedef struct options {
  const char *target, *http_target, *ca, *cert, *key, *server_name, *ns;
  mode_id mode;
  double seconds;
  size_t in_flight, batch, channels;
  size_t pool_tokens; /* detokenize modes: tokens tokenized first, read back */
  int json;
  long server_pid; /* 0: do not report the server's CPU time */
  size_t pan_stream; /* fresh PANs start pan_stream * 10^12 further on */
} options;

/* One outstanding call (or stream) and the buffers of its current batch. */
typedef struct slot {
  grpc_call *call;
  size_t channel;
  uint64_t started_ns;
  int stream_open; /* stream: initial metadata sent */
  int closing;     /* stream: the final status batch is outstanding */
  grpc_metadata_array initial_md, trailing_md;
  grpc_byte_buffer *send, *recv;
  grpc_status_code status;
  grpc_slice details;
} slot;

typedef struct bench {
  options o;
  grpc_completion_queue *cq;
  grpc_channel *channels[BENCH_CHANNELS_MAX];
  void *registered[BENCH_CHANNELS_MAX];
  slot *slots;
  /* health and detokenize: requests made once, sent in rotation */
  grpc_slice fixed[BENCH_POOL_TOKENS];
  size_t fixed_count, fixed_next;
  uint64_t pan_counter;
  uint64_t deadline_ns;
  size_t outstanding;
  uint64_t calls, items, item_errors, call_errors;
  uint32_t *lat_us;
  size_t lat_count, lat_cap;
  double server_cpu_s, client_cpu_s; /* used during the window */
  char first_error[200];
  long first_error_status; /* HTTP modes: the status of the first failed call */
} bench;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *msg) {
  fprintf(stderr, "vault_bench: %s\n", msg);
  exit(1);
}

/* ---- request bytes ---- */

/* Writes the next fresh, Luhn-valid 16-digit PAN ("4" + 14 digits of a
 * counter started from the clock, so reruns against one data directory
 * still make new values) into |out| (BENCH_PAN_LEN + 1 bytes). The
 * counter's digits go in reversed, so its fast-moving low digits land in
 * the BIN: like a real bulk load, new tokens spread over ~10^5 BIN/last-4
 * groups instead of piling into one, which the vault's new-tokens-per-
 * kept-group limit (README, "Security notes") would rightly refuse. */
static void next_pan(bench *b, char *out) {
  char digits[15];
  snprintf(digits, sizeof digits, "%014llu", (unsigned long long)(b->pan_counter++ % 100000000000000ull));
  out[0] = '4';
  for (int i = 0; i < 14; i++) {
    out[1 + i] = digits[13 - i];
  }
  out[BENCH_PAN_LEN - 1] = '0';
  out[BENCH_PAN_LEN] = '\0';
  int sum = 0;
  for (int i = BENCH_PAN_LEN - 2, dbl = 1; i >= 0; i--, dbl = !dbl) {
    int d = out[i] - '0';
    if (dbl) {
      d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    }
    sum += d;
  }
  out[BENCH_PAN_LEN - 1] = (char)('0' + (10 - sum % 10) % 10);
}

static grpc_slice pack(const ProtobufCMessage *msg) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  grpc_slice s = grpc_slice_malloc(len);
  protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
  return s;
}

static grpc_slice tokenize_request(bench *b, size_t count) {
  static char values[BENCH_BATCH_MAX][BENCH_PAN_LEN + 1];
  static char *ptrs[BENCH_BATCH_MAX];
  for (size_t i = 0; i < count; i++) {
    next_pan(b, values[i]);
    ptrs[i] = values[i];
  }
  Tokenvault__V1__TokenizeRequest req;
  tokenvault__v1__tokenize_request__init(&req); /* the __INIT macros cast away const */
  req.namespace_ = (char *)(uintptr_t)b->o.ns;
  req.n_values = count;
  req.values = ptrs;
  return pack(&req.base);
}

static grpc_slice detokenize_request(const bench *b, char **tokens, size_t count) {
  Tokenvault__V1__DetokenizeRequest req;
  tokenvault__v1__detokenize_request__init(&req);
  req.namespace_ = (char *)(uintptr_t)b->o.ns;
  req.n_tokens = count;
  req.tokens = tokens;
  req.reveal = TOKENVAULT__V1__REVEAL__REVEAL_FULL;
  req.reason = (char *)(uintptr_t) "vault_bench";
  return pack(&req.base);
}

static grpc_slice health_request(void) {
  Grpc__Health__V1__HealthCheckRequest req;
  grpc__health__v1__health_check_request__init(&req);
  return pack(&req.base);
}

static grpc_byte_buffer *request_for(bench *b) {
  grpc_slice s;
  if (b->o.mode == M_TOKENIZE || b->o.mode == M_TOKENIZE_BATCH) {
    s = tokenize_request(b, b->o.mode == M_TOKENIZE ? 1 : b->o.batch);
  } else {
    s = grpc_slice_ref(b->fixed[b->fixed_next++ % b->fixed_count]);
  }
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
}

/* ---- responses ---- */

static ProtobufCMessage *unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc) {
  grpc_byte_buffer_reader r;
  if (bb == NULL || !grpc_byte_buffer_reader_init(&r, bb)) {
    return NULL;
  }
  grpc_slice s = grpc_byte_buffer_reader_readall(&r);
  grpc_byte_buffer_reader_destroy(&r);
  ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
  grpc_slice_unref(s);
  return m;
}

/* Counts the items of a reply and how many failed; returns 0 if the reply
 * is missing or unreadable. */
static int count_items(const bench *b, grpc_byte_buffer *bb, uint64_t *out_items, uint64_t *out_errors) {
  *out_items = 0;
  *out_errors = 0;
  if (b->o.mode == M_HEALTH) {
    ProtobufCMessage *m = unpack(bb, &grpc__health__v1__health_check_response__descriptor);
    int ok = m != NULL && ((Grpc__Health__V1__HealthCheckResponse *)m)->status ==
                              GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    protobuf_c_message_free_unpacked(m, NULL);
    *out_items = ok ? 1 : 0;
    return ok;
  }
  if (b->o.mode == M_TOKENIZE || b->o.mode == M_TOKENIZE_BATCH) {
    Tokenvault__V1__TokenizeResponse *r =
        (Tokenvault__V1__TokenizeResponse *)unpack(bb, &tokenvault__v1__tokenize_response__descriptor);
    if (r == NULL) {
      return 0;
    }
    for (size_t i = 0; i < r->n_results; i++) {
      *out_errors += r->results[i]->status != NULL && r->results[i]->status->code != 0;
    }
    *out_items = r->n_results;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return 1;
  }
  Tokenvault__V1__DetokenizeResponse *r =
      (Tokenvault__V1__DetokenizeResponse *)unpack(bb, &tokenvault__v1__detokenize_response__descriptor);
  if (r == NULL) {
    return 0;
  }
  for (size_t i = 0; i < r->n_results; i++) {
    *out_errors += (r->results[i]->status != NULL && r->results[i]->status->code != 0) ||
                   strlen(r->results[i]->value) != BENCH_PAN_LEN;
  }
  *out_items = r->n_results;
  protobuf_c_message_free_unpacked(&r->base, NULL);
  return 1;
}

static void record_latency(bench *b, uint64_t ns) {
  if (b->lat_count == b->lat_cap) {
    b->lat_cap = b->lat_cap ? b->lat_cap * 2 : 65536;
    b->lat_us = realloc(b->lat_us, b->lat_cap * sizeof *b->lat_us);
    if (b->lat_us == NULL) {
      die("out of memory for latencies");
    }
  }
  uint64_t us = ns / 1000u;
  b->lat_us[b->lat_count++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void note_error(bench *b, const char *what, const slot *s) {
  b->call_errors++;
  if (b->first_error[0] == '\0') {
    char *details = grpc_slice_to_c_string(s->details);
    snprintf(b->first_error, sizeof b->first_error, "%s: status %d %s", what, (int)s->status, details);
    gpr_free(details);
  }
}

/* ---- calls ---- */

static gpr_timespec call_deadline(void) {
  return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(BENCH_CALL_DEADLINE_S, GPR_TIMESPAN));
}

static void slot_reset(slot *s) {
  grpc_metadata_array_init(&s->initial_md);
  grpc_metadata_array_init(&s->trailing_md);
  s->send = NULL;
  s->recv = NULL;
  s->status = GRPC_STATUS_OK;
  s->details = grpc_empty_slice();
  s->stream_open = 0;
  s->closing = 0;
}

static void slot_release(bench *b, slot *s) {
  grpc_byte_buffer_destroy(s->send);
  grpc_byte_buffer_destroy(s->recv);
  s->send = s->recv = NULL;
  grpc_metadata_array_destroy(&s->initial_md);
  grpc_metadata_array_destroy(&s->trailing_md);
  grpc_slice_unref(s->details);
  grpc_call_unref(s->call);
  s->call = NULL;
  b->outstanding--;
}

static void start_batch(slot *s, grpc_op *ops, size_t n) {
  if (grpc_call_start_batch(s->call, ops, n, s, NULL) != GRPC_CALL_OK) {
    die("grpc_call_start_batch refused a batch");
  }
}

/* Unary: the whole call is one batch; its completion is the answer. */
static void unary_start(bench *b, slot *s) {
  slot_reset(s);
  s->call = grpc_channel_create_registered_call(b->channels[s->channel], NULL, GRPC_PROPAGATE_DEFAULTS, b->cq,
                                                b->registered[s->channel], call_deadline(), NULL);
  s->send = request_for(b);
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = s->send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &s->recv;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &s->trailing_md;
  ops[5].data.recv_status_on_client.status = &s->status;
  ops[5].data.recv_status_on_client.status_details = &s->details;
  s->started_ns = now_ns();
  b->outstanding++;
  start_batch(s, ops, 6);
}

/* A reply arrived: counted only if it completed inside the window. */
static int account(bench *b, slot *s, uint64_t done_ns) {
  uint64_t items = 0, errors = 0;
  if (!count_items(b, s->recv, &items, &errors)) {
    return 0;
  }
  if (done_ns <= b->deadline_ns) {
    b->calls++;
    b->items += items - errors;
    b->item_errors += errors;
    record_latency(b, done_ns - s->started_ns);
  }
  return 1;
}

static void unary_done(bench *b, slot *s, int success) {
  uint64_t done = now_ns();
  if (!success || s->status != GRPC_STATUS_OK || !account(b, s, done)) {
    note_error(b, modes[b->o.mode].name, s);
  }
  slot_release(b, s);
  if (done < b->deadline_ns) {
    unary_start(b, s);
  }
}

/* Stream: one batch per message (send it, read its reply); the server
 * reads the next message only after answering, so a stream has exactly
 * one message in flight and --in-flight streams give that many. */
static void stream_send(bench *b, slot *s) {
  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (!s->stream_open) {
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    s->stream_open = 1;
  }
  grpc_byte_buffer_destroy(s->send);
  grpc_byte_buffer_destroy(s->recv);
  s->recv = NULL;
  s->send = request_for(b);
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n++].data.send_message.send_message = s->send;
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n++].data.recv_message.recv_message = &s->recv;
  s->started_ns = now_ns();
  start_batch(s, ops, n);
}

static void stream_start(bench *b, slot *s) {
  slot_reset(s);
  s->call = grpc_channel_create_registered_call(b->channels[s->channel], NULL, GRPC_PROPAGATE_DEFAULTS, b->cq,
                                                b->registered[s->channel], call_deadline(), NULL);
  b->outstanding++;
  stream_send(b, s);
}

static void stream_close(slot *s) {
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[1].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[1].data.recv_status_on_client.trailing_metadata = &s->trailing_md;
  ops[1].data.recv_status_on_client.status = &s->status;
  ops[1].data.recv_status_on_client.status_details = &s->details;
  s->closing = 1;
  start_batch(s, ops, 2);
}

static void stream_done(bench *b, slot *s, int success) {
  uint64_t done = now_ns();
  if (s->closing) {
    if (!success || s->status != GRPC_STATUS_OK) {
      note_error(b, "stream end", s);
    }
    slot_release(b, s);
    if (done < b->deadline_ns) {
      stream_start(b, s); /* a stream the server ended early: reopen */
    }
    return;
  }
  if (!success || s->recv == NULL || !account(b, s, done)) {
    stream_close(s); /* the status says why */
    return;
  }
  if (done < b->deadline_ns) {
    stream_send(b, s);
  } else {
    stream_close(s);
  }
}

/* CPU seconds (user + system) used so far by process |pid| (0: this
 * one). CPU time rather than wall time is what tells, on a shared
 * machine, what a value costs and so what two idle cores could do. */
static double cpu_seconds(long pid) {
  if (pid == 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f != NULL) {
    fclose(f);
  }
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  unsigned long long utime = 0, stime = 0;
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
    die("cannot read the server's CPU time (--server-pid)");
  }
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void run_window(bench *b) {
  int stream = modes[b->o.mode].stream;
  double server0 = b->o.server_pid != 0 ? cpu_seconds(b->o.server_pid) : 0, client0 = cpu_seconds(0);
  b->deadline_ns = now_ns() + (uint64_t)(b->o.seconds * 1e9);
  for (size_t i = 0; i < b->o.in_flight; i++) {
    b->slots[i].channel = i % b->o.channels;
    stream ? stream_start(b, &b->slots[i]) : unary_start(b, &b->slots[i]);
  }
  while (b->outstanding > 0) {
    grpc_event ev = grpc_completion_queue_next(b->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
      die("completion queue ended early");
    }
    stream ? stream_done(b, ev.tag, ev.success) : unary_done(b, ev.tag, ev.success);
  }
  b->server_cpu_s = b->o.server_pid != 0 ? cpu_seconds(b->o.server_pid) - server0 : 0;
  b->client_cpu_s = cpu_seconds(0) - client0;
}

/* ---- preparation: a pool of tokens to read back ---- */

/* One unary call, waited for; returns the reply or NULL. */
static grpc_byte_buffer *call_sync(bench *b, const char *path, grpc_slice request) {
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  slot s;
  slot_reset(&s);
  s.call = grpc_channel_create_call(b->channels[0], NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                    grpc_slice_from_static_string(path), NULL, call_deadline(), NULL);
  s.send = grpc_raw_byte_buffer_create(&request, 1);
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = s.send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &s.initial_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &s.recv;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &s.trailing_md;
  ops[5].data.recv_status_on_client.status = &s.status;
  ops[5].data.recv_status_on_client.status_details = &s.details;
  start_batch(&s, ops, 6);
  grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  grpc_byte_buffer *reply = ev.type == GRPC_OP_COMPLETE && ev.success && s.status == GRPC_STATUS_OK ? s.recv : NULL;
  if (reply == NULL) {
    note_error(b, "prepare", &s);
  } else {
    s.recv = NULL;
  }
  b->outstanding++; /* slot_release counts it down */
  slot_release(b, &s);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  return reply;
}

/* Tokenizes one batch and turns its tokens into a Detokenize request. */
static grpc_slice prepare_one(bench *b) {
  grpc_slice req = tokenize_request(b, b->o.batch);
  grpc_byte_buffer *reply = call_sync(b, modes[M_TOKENIZE].path, req);
  grpc_slice_unref(req);
  Tokenvault__V1__TokenizeResponse *r =
      (Tokenvault__V1__TokenizeResponse *)unpack(reply, &tokenvault__v1__tokenize_response__descriptor);
  grpc_byte_buffer_destroy(reply);
  if (r == NULL || r->n_results != b->o.batch) {
    fprintf(stderr, "vault_bench: %s\n", b->first_error);
    die("could not tokenize the pool for the detokenize modes");
  }
  char *tokens[BENCH_BATCH_MAX];
  for (size_t i = 0; i < r->n_results; i++) {
    if (r->results[i]->status != NULL && r->results[i]->status->code != 0) {
      die("a pool value was refused by the server (namespace not a PAN format?)");
    }
    tokens[i] = r->results[i]->token;
  }
  grpc_slice out = detokenize_request(b, tokens, r->n_results);
  protobuf_c_message_free_unpacked(&r->base, NULL);
  return out;
}

static void prepare(bench *b) {
  if (b->o.mode == M_HEALTH) {
    b->fixed[b->fixed_count++] = health_request();
    return;
  }
  if (b->o.mode == M_DETOKENIZE_BATCH || b->o.mode == M_DETOKENIZE_STREAM) {
    size_t n = (b->o.pool_tokens + b->o.batch - 1) / b->o.batch;
    for (size_t i = 0; i < n; i++) {
      b->fixed[b->fixed_count++] = prepare_one(b);
    }
  }
}

/* ---- channels ---- */

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    die("cannot read a TLS file");
  }
  static const size_t max = 1 << 20;
  char *buf = calloc(1, max + 1);
  size_t n = buf != NULL ? fread(buf, 1, max, f) : 0;
  fclose(f);
  if (n == 0) {
    die("empty or unreadable TLS file");
  }
  return buf;
}

static grpc_channel_credentials *credentials(const options *o) {
  if (o->ca == NULL) {
    return grpc_insecure_credentials_create();
  }
  char *ca = read_file(o->ca);
  grpc_ssl_pem_key_cert_pair pair = {NULL, NULL};
  if (o->cert != NULL && o->key != NULL) {
    pair.private_key = read_file(o->key);
    pair.cert_chain = read_file(o->cert);
  }
  grpc_channel_credentials *c = grpc_ssl_credentials_create(ca, pair.cert_chain ? &pair : NULL, NULL, NULL);
  free(ca);
  free((void *)(uintptr_t)pair.private_key); /* gRPC copied them */
  free((void *)(uintptr_t)pair.cert_chain);
  return c;
}

/* Each channel gets its own connection (a local subchannel pool), so the
 * load spreads over several HTTP/2 connections as many clients would. */
static void open_channels(bench *b) {
  grpc_arg args[2];
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)(uintptr_t)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
  args[0].value.integer = 1;
  args[1].type = GRPC_ARG_STRING;
  args[1].key = (char *)(uintptr_t)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
  args[1].value.string = (char *)(uintptr_t)b->o.server_name;
  grpc_channel_args ch_args = {b->o.server_name != NULL ? 2u : 1u, args};
  grpc_channel_credentials *creds = credentials(&b->o);
  for (size_t i = 0; i < b->o.channels; i++) {
    b->channels[i] = grpc_channel_create(b->o.target, creds, &ch_args);
    b->registered[i] = grpc_channel_register_call(b->channels[i], modes[b->o.mode].path, NULL, NULL);
  }
  grpc_channel_credentials_release(creds);
}

/* ---- options and report ---- */

static const char usage[] =
    "usage: vault_bench --mode health|tokenize|tokenize-batch|detokenize-batch|detokenize-stream\n"
    "                          |http-tokenize-batch|http-detokenize-batch|http-detokenize-stream\n"
    "                   [--target HOST:PORT] [--http-target HOST:PORT] [--seconds S] [--in-flight N] [--batch N]\n"
    "                   [--channels N] [--pool TOKENS] [--namespace NS] [--ca F [--cert F --key F] [--server-name N]]\n"
    "                   [--server-pid PID] [--pan-stream N] [--json]\n"
    "  --server-pid PID  also report the server's CPU time per item (from /proc)\n"
    "  --pool TOKENS     detokenize modes: tokens tokenized first and read back (default 20000)\n"
    "  --pan-stream N    1..99: fresh PANs of stream N, so generators started in the same\n"
    "                    second (one per fleet node) send different values (default: by process id)\n";

static size_t parse_count(const char *v, size_t max) {
  char *end = NULL;
  unsigned long long n = strtoull(v, &end, 10);
  if (end == v || *end != '\0' || n == 0 || n > max) {
    die("a count is out of range (see --help)");
  }
  return (size_t)n;
}

static void parse_mode(options *o, const char *v) {
  for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
    if (strcmp(v, modes[m].name) == 0) {
      o->mode = (mode_id)m;
      return;
    }
  }
  die("unknown --mode");
}

static void parse_options(options *o, int argc, char **argv) {
  *o = (options){.target = "127.0.0.1:7443", .ns = "pan", .seconds = 5, .in_flight = 64, .batch = 1000,
                 .channels = 2, .mode = M_HEALTH, .pool_tokens = BENCH_POOL_TOKENS};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--json") == 0) {
      o->json = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || v == NULL) {
      fputs(usage, strcmp(a, "--help") == 0 ? stdout : stderr);
      exit(strcmp(a, "--help") == 0 ? 0 : 2);
    }
    i++;
    if (strcmp(a, "--mode") == 0) parse_mode(o, v);
    else if (strcmp(a, "--target") == 0) o->target = v;
    else if (strcmp(a, "--http-target") == 0) o->http_target = v;
    else if (strcmp(a, "--seconds") == 0) o->seconds = atof(v);
    else if (strcmp(a, "--in-flight") == 0) o->in_flight = parse_count(v, BENCH_IN_FLIGHT_MAX);
    else if (strcmp(a, "--batch") == 0) o->batch = parse_count(v, BENCH_BATCH_MAX);
    else if (strcmp(a, "--channels") == 0) o->channels = parse_count(v, BENCH_CHANNELS_MAX);
    else if (strcmp(a, "--pool") == 0) o->pool_tokens = parse_count(v, BENCH_POOL_TOKENS);
    else if (strcmp(a, "--namespace") == 0) o->ns = v;
    else if (strcmp(a, "--ca") == 0) o->ca = v;
    else if (strcmp(a, "--cert") == 0) o->cert = v;
    else if (strcmp(a, "--key") == 0) o->key = v;
    else if (strcmp(a, "--server-name") == 0) o->server_name = v;
    else if (strcmp(a, "--server-pid") == 0) o->server_pid = (long)parse_count(v, 1u << 30);
    else if (strcmp(a, "--pan-stream") == 0) o->pan_stream = parse_count(v, 99);
    else die("unknown option (see --help)");
  }
  if (!(o->seconds > 0 && o->seconds <= 3600) || (o->cert != NULL) != (o->key != NULL)) {
    die("--seconds must be in (0, 3600]; --cert and --key go together");
  }
  if (modes[o->mode].http && o->http_target == NULL) {
    die("the http-* modes need --http-target HOST:PORT (tokenvaultd --http-listen)");
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static uint32_t percentile(const bench *b, double q) {
  if (b->lat_count == 0) {
    return 0;
  }
  return b->lat_us[(size_t)floor(q * (double)(b->lat_count - 1))];
}

static void report(bench *b) {
  if (b->lat_count > 0) {
    qsort(b->lat_us, b->lat_count, sizeof *b->lat_us, cmp_u32);
  }
  double load[1] = {0};
  (void)getloadavg(load, 1);
  const options *o = &b->o;
  double calls_s = (double)b->calls / o->seconds, items_s = (double)b->items / o->seconds;
  size_t batch = o->mode == M_HEALTH || o->mode == M_TOKENIZE ? 1 : o->batch;
  const char *name = modes[o->mode].name, *tls = o->ca != NULL ? "true" : "false";
  unsigned long long calls = b->calls, items = b->items, ierr = b->item_errors, cerr = b->call_errors;
  uint32_t p50 = percentile(b, 0.5), p99 = percentile(b, 0.99), p999 = percentile(b, 0.999);
  /* Per item: what one value costs each side in CPU, whatever the load. */
  double per = b->items > 0 ? 1e6 / (double)b->items : 0;
  double srv_us = b->server_cpu_s * per, cli_us = b->client_cpu_s * per;
  if (o->json) {
    printf("{\"bench\":\"vault\",\"mode\":\"%s\",\"transport\":\"%s\",\"tls\":%s,\"in_flight\":%zu,\"batch\":%zu,"
           "\"channels\":%zu,\"seconds\":%.1f,\"calls\":%llu,\"items\":%llu,\"calls_per_s\":%.0f,"
           "\"items_per_s\":%.0f,\"p50_us\":%u,\"p99_us\":%u,\"p999_us\":%u,\"item_errors\":%llu,"
           "\"call_errors\":%llu,\"server_cpu_us_per_item\":%.2f,\"client_cpu_us_per_item\":%.2f,"
           "\"loadavg1\":%.2f}\n",
           name, modes[o->mode].http ? "http" : "grpc", tls, o->in_flight, batch, o->channels, o->seconds, calls,
           items, calls_s, items_s, p50, p99, p999, ierr, cerr, srv_us, cli_us, load[0]);
  } else {
    printf("%-17s tls=%s in_flight=%zu batch=%zu channels=%zu %.1fs: calls=%llu items=%llu calls/s=%.0f "
           "items/s=%.0f p50=%uus p99=%uus p999=%uus item_errors=%llu call_errors=%llu "
           "server_cpu=%.2fus/item client_cpu=%.2fus/item load1=%.2f\n",
           name, tls, o->in_flight, batch, o->channels, o->seconds, calls, items, calls_s, items_s, p50, p99, p999,
           ierr, cerr, srv_us, cli_us, load[0]);
  }
  if (b->first_error[0] != '\0') {
    fprintf(stderr, "vault_bench: first error: %s\n", b->first_error);
  }
}

/* ---- HTTP modes (http_load.c) ---- */

static void http_next_pan(void *ctx, char *out) { next_pan(ctx, out); }

/* The same window as run_window, over HTTP: the pool, then the load, the
 * CPU time of both sides measured around it; the tallies land in |b|. */
static void run_http(bench *b) {
  const options *o = &b->o;
  http_load_config config = {.target = o->http_target, .ca = o->ca, .cert = o->cert, .key = o->key,
                             .server_name = o->server_name, .ns = o->ns,
                             .kind = (http_load_kind)(modes[o->mode].http - 1), .in_flight = o->in_flight,
                             .batch = o->batch, .pool_tokens = o->pool_tokens, .next_pan = http_next_pan,
                             .pan_ctx = b};
  http_load_tally t = {0};
  http_load *h = NULL;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (http_load_new(&h, &config, &t) != 0 || http_load_prepare(h) != 0) {
    fprintf(stderr, "vault_bench: %s\n", t.first_error);
    die("could not set up the HTTP mode (or tokenize its pool)");
  }
  double server0 = o->server_pid != 0 ? cpu_seconds(o->server_pid) : 0, client0 = cpu_seconds(0);
  http_load_window(h, o->seconds);
  b->server_cpu_s = o->server_pid != 0 ? cpu_seconds(o->server_pid) - server0 : 0;
  b->client_cpu_s = cpu_seconds(0) - client0;
  http_load_free(h);
  curl_global_cleanup();
  b->calls = t.calls;
  b->items = t.items;
  b->item_errors = t.item_errors;
  b->call_errors = t.call_errors;
  b->lat_us = t.lat_us;
  b->lat_count = t.lat_count;
  b->lat_cap = t.lat_cap;
  b->first_error_status = t.first_error_status;
  snprintf(b->first_error, sizeof b->first_error, "%s", t.first_error);
}

int main(int argc, char **argv) {
  static bench b;
  parse_options(&b.o, argc, argv);
  /* Fresh values on every run, and in every process of one run: load
   * generators started in the same second (one per node, as fleet_bench
   * and failover_bench start them) would otherwise send the same values,
   * and a convergent namespace would answer half of them as existing.
   * Streams 10^12 apart never meet. */
  uint64_t stream = b.o.pan_stream != 0 ? (uint64_t)b.o.pan_stream : (uint64_t)(getpid() % 100);
  b.pan_counter = (uint64_t)time(NULL) * 1000000u + stream * 1000000000000ull;
  if (modes[b.o.mode].http) {
    run_http(&b);
    report(&b);
    free(b.lat_us);
    if (b.calls == 0 && b.first_error_status == 404) {
      fprintf(stderr, "vault_bench: %s is not served by this server (HTTP 404)\n", modes[b.o.mode].path);
      return 3;
    }
    return b.calls > 0 && b.call_errors == 0 ? 0 : 1;
  }
  b.slots = calloc(b.o.in_flight, sizeof *b.slots);
  if (b.slots == NULL) {
    die("out of memory");
  }
  grpc_init();
  b.cq = grpc_completion_queue_create_for_next(NULL);
  open_channels(&b);
  prepare(&b);
  run_window(&b);
  report(&b);
  for (size_t i = 0; i < b.fixed_count; i++) {
    grpc_slice_unref(b.fixed[i]);
  }
  for (size_t i = 0; i < b.o.channels; i++) {
    grpc_channel_destroy(b.channels[i]);
  }
  grpc_completion_queue_shutdown(b.cq);
  while (grpc_completion_queue_next(b.cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(b.cq);
  grpc_shutdown();
  free(b.slots);
  free(b.lat_us);
  return b.calls > 0 && b.call_errors == 0 ? 0 : 1;
}
