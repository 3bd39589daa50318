/* Errors of the HTTP API as RFC 9457 problem details
 * (application/problem+json), carrying the same stable names as the gRPC
 * status details ("POLICY_DENIED", "FORMAT_LUHN", ...):
 *
 *   {"type": "urn:tokenvault:problem:POLICY_DENIED", "title": "POLICY_DENIED",
 *    "status": 403, "detail": "POLICY_DENIED: ...", "code": "PERMISSION_DENIED",
 *    "name": "POLICY_DENIED"}
 *
 * |code| is the canonical code gRPC would answer (vault/service/status_map.h),
 * |name| the vault's status name. Per-item failures are not problems: they
 * are ItemStatus entries inside a 200 answer, as over gRPC. */
#ifndef TV_SERVER_HTTP_PROBLEM_H
#define TV_SERVER_HTTP_PROBLEM_H

#include <stddef.h>

#include "vault/service/status_map.h"
#include "vault/util/status.h"

/* The media type of a problem answer. */
#define TV_PROBLEM_CONTENT_TYPE "application/problem+json"

/* tv_problem_http_status returns the HTTP status for a call answered with
 * |code| and status name |name| (may be NULL): 400 bad request, 401 no
 * usable identity, 403 denied, 404 unknown namespace/token/key, 409 key or
 * proposal state, 413 a request over a size or item limit, 429 rate limits
 * and a busy server, 501 not implemented, 503 unavailable (audit, HSM,
 * store, shutting down), 504 deadline, 500 otherwise. */
unsigned int tv_problem_http_status(tv_code code, const char *name);

/* tv_problem_name_of writes into |out| the status name that |details|
 * starts with ("POLICY_DENIED" of "POLICY_DENIED: ..."), or the code's
 * name when it starts with none. */
void tv_problem_name_of(char *out, size_t out_len, tv_code code, const char *details);

/* tv_problem_encode writes the problem JSON for |code| and |details| (a
 * sentence that never holds a value) into a new buffer (free with
 * tv_json_text_free) and its HTTP status into |*out_http_status|. Returns
 * TV_OK or TV_E_NO_MEMORY. */
tv_status tv_problem_encode(tv_code code, const char *details, unsigned int *out_http_status, char **out_text,
                            size_t *out_len);

/* tv_problem_encode_as is tv_problem_encode with the HTTP status |http|
 * given (refusals of the HTTP layer itself: 404 path, 405, 415, 505). */
tv_status tv_problem_encode_as(unsigned int http, tv_code code, const char *details, char **out_text,
                               size_t *out_len);

/* tv_problem_encode_status is tv_problem_encode for a transport-level
 * refusal with a tv_status and a sentence: details "NAME: |detail|". */
tv_status tv_problem_encode_status(tv_status status, const char *detail, unsigned int *out_http_status,
                                   char **out_text, size_t *out_len);

#endif
