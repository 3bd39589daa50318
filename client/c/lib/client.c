/* The client object: channel set-up (mTLS or plaintext), options, error
 * texts and code names. */
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/lib/client_internal.h"
#include "vault/util/secure_mem.h"

/* Certificates and keys are a few KiB; the bound keeps a wrong path (a
 * device, a huge file) from being read whole. */
#define TVC_PEM_BYTES_MAX (256 * 1024)

const char *tv_client_version(void) {
  return "0.1.0";
}

const char *tv_client_code_name(tv_client_code code) {
  static const char *const grpc_names[] = {
      "OK",           "CANCELLED",         "UNKNOWN",   "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND",    "ALREADY_EXISTS",    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED",    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
      "UNAVAILABLE",  "DATA_LOSS",         "UNAUTHENTICATED"};
  if ((unsigned)code < sizeof grpc_names / sizeof grpc_names[0]) {
    return grpc_names[code];
  }
  switch (code) {
    case TV_CLIENT_E_ARGUMENT: return "E_ARGUMENT";
    case TV_CLIENT_E_NO_MEMORY: return "E_NO_MEMORY";
    case TV_CLIENT_E_TLS_FILES: return "E_TLS_FILES";
    case TV_CLIENT_E_PROTOCOL: return "E_PROTOCOL";
    case TV_CLIENT_E_STREAM_FULL: return "E_STREAM_FULL";
    case TV_CLIENT_E_STREAM_DONE: return "E_STREAM_DONE";
    default: return "E_UNKNOWN_CODE";
  }
}

void tv_client_wipe(void *p, size_t len) {
  if (p != NULL) {
    tv_wipe(p, len);
  }
}

tv_client_code tvc_fail(tv_client_error *err, tv_client_code code, const char *format, ...) {
  if (err != NULL) {
    err->code = code;
    err->from_server = 0;
    va_list ap;
    va_start(ap, format);
    vsnprintf(err->message, sizeof err->message, format, ap);
    va_end(ap);
  }
  return code;
}

const char *tvc_text(const char *s) {
  return s != NULL ? s : "";
}

gpr_timespec tvc_deadline(uint32_t ms) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Reads a PEM file whole into a NUL-terminated heap string; keys are
 * wiped when freed (free_pem). */
static tv_client_code read_pem(const char *path, char **out, tv_client_error *err) {
  *out = NULL;
  if (path == NULL) {
    return TV_CLIENT_OK;
  }
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return tvc_fail(err, TV_CLIENT_E_TLS_FILES, "cannot open TLS file %s: check the path and permissions", path);
  }
  char *buf = malloc(TVC_PEM_BYTES_MAX + 1);
  size_t n = buf != NULL ? fread(buf, 1, TVC_PEM_BYTES_MAX + 1, f) : 0;
  int bad = ferror(f) || n == 0 || n > TVC_PEM_BYTES_MAX;
  fclose(f);
  if (buf == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory reading %s", path);
  }
  if (bad) {
    tv_wipe(buf, TVC_PEM_BYTES_MAX + 1);
    free(buf);
    return tvc_fail(err, TV_CLIENT_E_TLS_FILES, "TLS file %s is empty, unreadable or over 256 KiB", path);
  }
  buf[n] = '\0';
  *out = buf;
  return TV_CLIENT_OK;
}

static void free_pem(char *pem) {
  if (pem != NULL) {
    tv_wipe(pem, strlen(pem));
    free(pem);
  }
}

static grpc_channel_credentials *tls_credentials(const tv_client_options *o, tv_client_error *err,
                                                 tv_client_code *out_code) {
  char *ca = NULL, *cert = NULL, *key = NULL;
  grpc_channel_credentials *creds = NULL;
  *out_code = read_pem(o->ca_file, &ca, err);
  if (*out_code == TV_CLIENT_OK) *out_code = read_pem(o->cert_file, &cert, err);
  if (*out_code == TV_CLIENT_OK) *out_code = read_pem(o->key_file, &key, err);
  if (*out_code == TV_CLIENT_OK && (cert == NULL) != (key == NULL)) {
    *out_code = tvc_fail(err, TV_CLIENT_E_ARGUMENT, "a client certificate needs its key and the other way round");
  }
  if (*out_code == TV_CLIENT_OK) {
    grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
    /* The pair is copied by gRPC, so the PEM texts can be wiped below. */
    creds = grpc_ssl_credentials_create(ca, cert != NULL ? &pair : NULL, NULL, NULL);
    if (creds == NULL) {
      *out_code = tvc_fail(err, TV_CLIENT_E_TLS_FILES, "the TLS files could not be used");
    }
  }
  free_pem(ca);
  free_pem(cert);
  free_pem(key);
  return creds;
}

static tv_client_code check_options(const tv_client_options *o, tv_client_error *err) {
  if (o == NULL || o->target == NULL || o->target[0] == '\0') {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "no target: give host:port of tokenvaultd");
  }
  if (o->insecure && (o->ca_file != NULL || o->cert_file != NULL || o->key_file != NULL)) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "plaintext (--dev) does not take TLS files");
  }
  if (o->batch_items > TV_CLIENT_BATCH_ITEMS_MAX) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "batch size %u is over the server's limit of %u items",
                    o->batch_items, TV_CLIENT_BATCH_ITEMS_MAX);
  }
  return TV_CLIENT_OK;
}

static void copy_options(tv_client *c, const tv_client_options *o) {
  c->deadline_ms = o->deadline_ms != 0 ? o->deadline_ms : 30000;
  c->retries_max = o->retries_max;
  c->backoff_initial_ms = o->backoff_initial_ms != 0 ? o->backoff_initial_ms : 100;
  c->backoff_max_ms = o->backoff_max_ms != 0 ? o->backoff_max_ms : 5000;
  c->retry_tokenize = o->retry_tokenize;
  c->batch_items = o->batch_items != 0 ? o->batch_items : TV_CLIENT_BATCH_ITEMS_MAX;
  c->stream_window = o->stream_window != 0 ? o->stream_window : 4;
  if (c->stream_window > TVC_STREAM_WINDOW_MAX) {
    c->stream_window = TVC_STREAM_WINDOW_MAX;
  }
}

tv_client_code tv_client_new(tv_client **out_client, const tv_client_options *options,
                             tv_client_error *err) {
  if (out_client == NULL) {
    return tvc_fail(err, TV_CLIENT_E_ARGUMENT, "out_client is NULL");
  }
  *out_client = NULL;
  tv_client_code code = check_options(options, err);
  if (code != TV_CLIENT_OK) {
    return code;
  }
  tv_client *c = calloc(1, sizeof *c);
  if (c == NULL) {
    return tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "out of memory");
  }
  copy_options(c, options);
  grpc_init();
  grpc_channel_credentials *creds = options->insecure ? grpc_insecure_credentials_create()
                                                      : tls_credentials(options, err, &code);
  if (creds == NULL) {
    grpc_shutdown();
    free(c);
    return code != TV_CLIENT_OK ? code : tvc_fail(err, TV_CLIENT_E_NO_MEMORY, "no credentials");
  }
  /* gRPC copies channel args but declares them non-const. */
  grpc_arg args[2];
  size_t nargs = 0;
  args[nargs].type = GRPC_ARG_INTEGER;
  args[nargs].key = tvc_mut(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH);
  args[nargs++].value.integer = TVC_RECEIVE_BYTES_MAX;
  if (options->server_name != NULL) {
    args[nargs].type = GRPC_ARG_STRING;
    args[nargs].key = tvc_mut(GRPC_SSL_TARGET_NAME_OVERRIDE_ARG);
    args[nargs++].value.string = tvc_mut(options->server_name);
  }
  grpc_channel_args channel_args = {.num_args = nargs, .args = args};
  c->channel = grpc_channel_create(options->target, creds, &channel_args);
  grpc_channel_credentials_release(creds);
  *out_client = c;
  return TV_CLIENT_OK;
}

void tv_client_free(tv_client *client) {
  if (client == NULL) {
    return;
  }
  grpc_channel_destroy(client->channel);
  free(client);
  grpc_shutdown();
}
