/* Request integers that become times: a token's ttl_seconds and
 * expires_at_unix_ms. Range-checked BEFORE any arithmetic, so a huge
 * value is an error naming the field and the limit instead of a product
 * that wraps (ttl_seconds 2^62 + 2 times 1000 is 2000 modulo 2^64: a
 * token meant to live "forever" would expire in 2 s). */
#ifndef TV_UTIL_EXPIRY_H
#define TV_UTIL_EXPIRY_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

/* The longest expiry a request may ask for: 100 years of 366 days
 * (3,162,240,000 s), the same bound as a namespace's default_ttl in the
 * config. Longer is not a retention anyone means: omit the expiry. */
#define TV_TTL_SECONDS_MAX (UINT64_C(100) * 366u * 24u * 3600u)

/* tv_ttl_seconds_to_ms sets *out_ms to |ttl_s| * 1000. 0 stays 0 (the
 * namespace's default). TV_E_INVALID_ARGUMENT for a negative |ttl_s| or
 * one above TV_TTL_SECONDS_MAX; then |why| (if not NULL) gets a sentence
 * naming the field and the limit. */
tv_status tv_ttl_seconds_to_ms(int64_t ttl_s, uint64_t *out_ms, char *why, size_t why_len);

/* tv_expires_at_check accepts an absolute expiry |at_ms| (unix ms) that
 * is not negative and at most TV_TTL_SECONDS_MAX seconds after |now_ms|
 * (one in the past is the engine's per-item ENGINE_EXPIRY). Else
 * TV_E_INVALID_ARGUMENT with |why| as above. */
tv_status tv_expires_at_check(int64_t at_ms, uint64_t now_ms, char *why, size_t why_len);

#endif
