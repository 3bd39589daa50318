#include "vault/service/methods.h"

#include <assert.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "tokenvault/v1/tokenvault.pb-c.h"

#define TV_PATH(svc, m) "/" svc "/" m
#define TV_DESC(msg) &tokenvault__v1__##msg##__descriptor

/* Indexed by tv_method_id: the order must match the enum (checked at start
 * by tv_method_get's assertion and by the unit tests). */
static const tv_method methods[TV_METHOD_COUNT] = {
    {TV_METHOD_HEALTH_CHECK, TV_PATH(TV_SERVICE_NAME_HEALTH, "Check"), "Health.Check", TV_METHOD_UNARY,
     &grpc__health__v1__health_check_request__descriptor, &grpc__health__v1__health_check_response__descriptor},
    {TV_METHOD_HEALTH_WATCH, TV_PATH(TV_SERVICE_NAME_HEALTH, "Watch"), "Health.Watch",
     TV_METHOD_SERVER_STREAMING, &grpc__health__v1__health_check_request__descriptor,
     &grpc__health__v1__health_check_response__descriptor},
    {TV_METHOD_TOKENIZE, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "Tokenize"), "Tokenize", TV_METHOD_UNARY,
     TV_DESC(tokenize_request), TV_DESC(tokenize_response)},
    {TV_METHOD_DETOKENIZE, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "Detokenize"), "Detokenize", TV_METHOD_UNARY,
     TV_DESC(detokenize_request), TV_DESC(detokenize_response)},
    {TV_METHOD_TOKENIZE_STREAM, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "TokenizeStream"), "TokenizeStream",
     TV_METHOD_BIDI_STREAMING, TV_DESC(tokenize_request), TV_DESC(tokenize_response)},
    {TV_METHOD_DETOKENIZE_STREAM, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "DetokenizeStream"),
     "DetokenizeStream", TV_METHOD_BIDI_STREAMING, TV_DESC(detokenize_request), TV_DESC(detokenize_response)},
    {TV_METHOD_DELETE_TOKENS, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "DeleteTokens"), "DeleteTokens",
     TV_METHOD_UNARY, TV_DESC(delete_tokens_request), TV_DESC(delete_tokens_response)},
    {TV_METHOD_ERASE_VALUE, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "EraseValue"), "EraseValue", TV_METHOD_UNARY,
     TV_DESC(erase_value_request), TV_DESC(erase_value_response)},
    {TV_METHOD_GET_TOKEN_INFO, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "GetTokenInfo"), "GetTokenInfo",
     TV_METHOD_UNARY, TV_DESC(get_token_info_request), TV_DESC(get_token_info_response)},
    {TV_METHOD_LIST_KEYS, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "ListKeys"), "ListKeys", TV_METHOD_UNARY,
     TV_DESC(list_keys_request), TV_DESC(list_keys_response)},
    {TV_METHOD_ROTATE_DATA_KEY, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "RotateDataKey"), "RotateDataKey",
     TV_METHOD_UNARY, TV_DESC(rotate_data_key_request), TV_DESC(rotate_data_key_response)},
    {TV_METHOD_PROPOSE_KEK_ROTATION, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "ProposeKekRotation"),
     "ProposeKekRotation", TV_METHOD_UNARY, TV_DESC(propose_kek_rotation_request),
     TV_DESC(propose_kek_rotation_response)},
    {TV_METHOD_APPROVE_KEK_ROTATION, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "ApproveKekRotation"),
     "ApproveKekRotation", TV_METHOD_UNARY, TV_DESC(approve_kek_rotation_request),
     TV_DESC(approve_kek_rotation_response)},
    {TV_METHOD_GET_ROTATION_STATUS, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "GetRotationStatus"),
     "GetRotationStatus", TV_METHOD_UNARY, TV_DESC(get_rotation_status_request),
     TV_DESC(get_rotation_status_response)},
    {TV_METHOD_VERIFY_AUDIT, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "VerifyAudit"), "VerifyAudit", TV_METHOD_UNARY,
     TV_DESC(verify_audit_request), TV_DESC(verify_audit_response)},
    {TV_METHOD_READ_AUDIT, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "ReadAudit"), "ReadAudit",
     TV_METHOD_SERVER_STREAMING, TV_DESC(read_audit_request), TV_DESC(audit_entry)},
    {TV_METHOD_WHO_AM_I, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "WhoAmI"), "WhoAmI", TV_METHOD_UNARY,
     TV_DESC(who_am_irequest), TV_DESC(who_am_iresponse)},
    {TV_METHOD_VERIFY_STORE, TV_PATH(TV_SERVICE_NAME_TOKENVAULT, "VerifyStore"), "VerifyStore", TV_METHOD_UNARY,
     TV_DESC(verify_store_request), TV_DESC(verify_store_response)},
};

const tv_method *tv_method_get(tv_method_id id) {
  assert(id < TV_METHOD_COUNT);
  assert(methods[id].id == id);
  return &methods[id];
}

const tv_method *tv_method_find(const char *path, size_t path_len) {
  for (size_t i = 0; i < TV_METHOD_COUNT; i++) {
    if (strlen(methods[i].path) == path_len && memcmp(methods[i].path, path, path_len) == 0) {
      return &methods[i];
    }
  }
  return NULL;
}
