#include "vault/server/http/http_exchange.h"

#include <stdio.h>
#include <time.h>

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const tv_http_exchange *exchange_of(const tv_call *base) {
  return (const tv_http_exchange *)(const void *)base;
}

void tv_http_exchange_init(tv_http_exchange *ex, const tv_call_ops *ops, const tv_method *method,
                           const atomic_int *stopping, const char *peer_text, const tv_identity *identity) {
  ex->base.ops = ops;
  ex->method = method;
  ex->stopping = stopping;
  snprintf(ex->peer, sizeof ex->peer, "http:%s", peer_text);
  ex->identity = identity != NULL ? *identity : (tv_identity){.source = "none", .transport = "insecure"};
  ex->start_us = mono_us();
}

void tv_http_exchange_end(const tv_http_exchange *ex, tv_call_end *end) {
  end->method = ex->method->id;
  end->latency_us = mono_us() - ex->start_us;
  end->authenticated = ex->identity.authenticated;
  end->principal = ex->identity.principal;
  end->peer = ex->peer;
}

const tv_identity *tv_http_exchange_identity(const tv_call *base) { return &exchange_of(base)->identity; }

const tv_method *tv_http_exchange_method(const tv_call *base) { return exchange_of(base)->method; }

const char *tv_http_exchange_peer(const tv_call *base) { return exchange_of(base)->peer; }

int tv_http_exchange_is_cancelled(tv_call *base) { return atomic_load(exchange_of(base)->stopping); }

int64_t tv_http_exchange_deadline_ms(const tv_call *base) {
  (void)base;
  return INT64_MAX; /* HTTP has no deadline header of its own */
}
