/* See expiry.h. */
#include "vault/util/expiry.h"

#include <inttypes.h>
#include <stdio.h>

static tv_status refuse(char *why, size_t why_len, const char *field, int64_t value) {
  if (why != NULL && why_len > 0) {
    snprintf(why, why_len, "%s %" PRId64 " is out of range: at most %" PRIu64 " seconds (100 years) from now",
             field, value, TV_TTL_SECONDS_MAX);
  }
  return TV_E_INVALID_ARGUMENT;
}

tv_status tv_ttl_seconds_to_ms(int64_t ttl_s, uint64_t *out_ms, char *why, size_t why_len) {
  if (ttl_s < 0 || (uint64_t)ttl_s > TV_TTL_SECONDS_MAX) {
    return refuse(why, why_len, "ttl_seconds", ttl_s);
  }
  *out_ms = (uint64_t)ttl_s * 1000u; /* <= 3.2e12: no overflow */
  return TV_OK;
}

tv_status tv_expires_at_check(int64_t at_ms, uint64_t now_ms, char *why, size_t why_len) {
  if (at_ms < 0 || (uint64_t)at_ms > now_ms + TV_TTL_SECONDS_MAX * 1000u) {
    return refuse(why, why_len, "expires_at_unix_ms", at_ms);
  }
  return TV_OK;
}
