/* The table of RPC methods the server registers: one row per method with its
 * path, streaming kind and request type. The table is the single place that
 * knows which methods exist; handlers are looked up by tv_method_id. */
#ifndef TV_SERVICE_METHODS_H
#define TV_SERVICE_METHODS_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef enum tv_method_id {
  TV_METHOD_HEALTH_CHECK = 0,
  TV_METHOD_HEALTH_WATCH,
  TV_METHOD_TOKENIZE,
  TV_METHOD_DETOKENIZE,
  TV_METHOD_TOKENIZE_STREAM,
  TV_METHOD_DETOKENIZE_STREAM,
  TV_METHOD_DELETE_TOKENS,
  TV_METHOD_ERASE_VALUE,
  TV_METHOD_GET_TOKEN_INFO,
  TV_METHOD_LIST_KEYS,
  TV_METHOD_ROTATE_DATA_KEY,
  TV_METHOD_PROPOSE_KEK_ROTATION,
  TV_METHOD_APPROVE_KEK_ROTATION,
  TV_METHOD_GET_ROTATION_STATUS,
  TV_METHOD_VERIFY_AUDIT,
  TV_METHOD_READ_AUDIT,
  TV_METHOD_WHO_AM_I,
  TV_METHOD_VERIFY_STORE,
  TV_METHOD_COUNT
} tv_method_id;

/* How messages flow; decides the registration payload mode. protoc-c
 * descriptors carry no streaming flag, so it is stated here. */
typedef enum tv_method_kind {
  TV_METHOD_UNARY,
  TV_METHOD_SERVER_STREAMING,
  TV_METHOD_BIDI_STREAMING,
} tv_method_kind;

typedef struct tv_method {
  tv_method_id id;
  const char *path;  /* "/tokenvault.v1.TokenVault/Tokenize" */
  const char *name;  /* "Tokenize", for logs */
  tv_method_kind kind;
  const ProtobufCMessageDescriptor *request;
  const ProtobufCMessageDescriptor *response;
} tv_method;

/* tv_method_get returns the row for |id|; |id| must be < TV_METHOD_COUNT. */
const tv_method *tv_method_get(tv_method_id id);

/* tv_method_find returns the row whose path equals the |path_len| bytes at
 * |path|, or NULL for a method the server does not know. */
const tv_method *tv_method_find(const char *path, size_t path_len);

/* Service names known to the health service. */
#define TV_SERVICE_NAME_TOKENVAULT "tokenvault.v1.TokenVault"
#define TV_SERVICE_NAME_HEALTH "grpc.health.v1.Health"

#endif
