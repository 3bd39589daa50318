/* The paths of the HTTP API: one row per served path, naming the method of
 * vault/service/methods.h it calls (the same handler as over gRPC). Every
 * data, key and audit method is POST with a JSON body; health is GET. The
 * OpenAPI document proto/openapi/tokenvault.v1.yaml lists the same rows
 * (a test checks both ways). */
#ifndef TV_SERVER_HTTP_ROUTES_H
#define TV_SERVER_HTTP_ROUTES_H

#include <stddef.h>

#include "vault/service/methods.h"

typedef struct tv_http_route {
  const char *path;   /* "/v1/tokenize" */
  const char *method; /* "POST" or "GET" */
  /* The service method it calls; TV_METHOD_HEALTH_CHECK: the readiness
   * probe, answered by the transport without a handler. */
  tv_method_id id;
} tv_http_route;

/* tv_http_route_find returns the row for |path| (exact match), or NULL. */
const tv_http_route *tv_http_route_find(const char *path);

/* tv_http_routes returns the table and its length in |*out_count|. */
const tv_http_route *tv_http_routes(size_t *out_count);

#endif
