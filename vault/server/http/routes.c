#include "vault/server/http/routes.h"

#include <string.h>

/* Names are verbs or nouns a CRM developer reads without the proto. The
 * bidirectional streams (TokenizeStream, DetokenizeStream) are ":stream"
 * paths taking and answering NDJSON (ndjson_stream.h); Health.Watch is not
 * served over HTTP yet; ReadAudit (server-streaming) answers its entries
 * as one JSON object. */
static const tv_http_route routes[] = {
    {"/v1/tokenize", "POST", TV_METHOD_TOKENIZE},
    {"/v1/detokenize", "POST", TV_METHOD_DETOKENIZE},
    {"/v1/tokenize:stream", "POST", TV_METHOD_TOKENIZE_STREAM},
    {"/v1/detokenize:stream", "POST", TV_METHOD_DETOKENIZE_STREAM},
    {"/v1/tokens/delete", "POST", TV_METHOD_DELETE_TOKENS},
    {"/v1/tokens/info", "POST", TV_METHOD_GET_TOKEN_INFO},
    {"/v1/values/erase", "POST", TV_METHOD_ERASE_VALUE},
    {"/v1/keys/list", "POST", TV_METHOD_LIST_KEYS},
    {"/v1/keys/rotate", "POST", TV_METHOD_ROTATE_DATA_KEY},
    {"/v1/keys/status", "POST", TV_METHOD_GET_ROTATION_STATUS},
    {"/v1/kek/propose", "POST", TV_METHOD_PROPOSE_KEK_ROTATION},
    {"/v1/kek/approve", "POST", TV_METHOD_APPROVE_KEK_ROTATION},
    {"/v1/store/verify", "POST", TV_METHOD_VERIFY_STORE},
    {"/v1/audit/verify", "POST", TV_METHOD_VERIFY_AUDIT},
    {"/v1/audit/read", "POST", TV_METHOD_READ_AUDIT},
    {"/v1/whoami", "POST", TV_METHOD_WHO_AM_I},
    {"/v1/health", "GET", TV_METHOD_HEALTH_CHECK},
};

const tv_http_route *tv_http_route_find(const char *path) {
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if (strcmp(routes[i].path, path) == 0) {
      return &routes[i];
    }
  }
  return NULL;
}

const tv_http_route *tv_http_routes(size_t *out_count) {
  *out_count = sizeof routes / sizeof routes[0];
  return routes;
}
