/* tv_status_to_grpc: the one mapping to gRPC codes. Every code the status
 * table knows maps somewhere sensible, and no failure ever maps to OK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/server/grpc/grpc_status.h"

static void test_ok_is_ok(void **state) {
  (void)state;
  assert_int_equal(tv_status_to_grpc(TV_OK), GRPC_STATUS_OK);
}

/* Walks every number a code could have: known codes (those with a name)
 * and unknown numbers alike must never read as success. */
static void test_no_failure_maps_to_ok(void **state) {
  (void)state;
  int known = 0;
  for (int code = 1; code < 1000; code++) {
    grpc_status_code g = tv_status_to_grpc((tv_status)code);
    assert_int_not_equal(g, GRPC_STATUS_OK);
    assert_int_not_equal(g, GRPC_STATUS_UNKNOWN);
    if (strcmp(tv_status_name((tv_status)code), "UNKNOWN") != 0) {
      known++;
    }
  }
  assert_true(known > 80); /* the loop really covered the table */
}

typedef struct expectation {
  tv_status status;
  grpc_status_code code;
} expectation;

static void test_specific_codes(void **state) {
  (void)state;
  static const expectation cases[] = {
      {TV_E_INVALID_ARGUMENT, GRPC_STATUS_INVALID_ARGUMENT},
      {TV_E_SERVER_REQUEST_MALFORMED, GRPC_STATUS_INVALID_ARGUMENT},
      {TV_E_SERVER_REQUEST_TOO_LARGE, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_SERVER_BUSY, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_NO_MEMORY, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_SERVER_UNIMPLEMENTED, GRPC_STATUS_UNIMPLEMENTED},
      {TV_E_SERVER_SHUTTING_DOWN, GRPC_STATUS_UNAVAILABLE},
      {TV_E_HSM_UNAVAILABLE, GRPC_STATUS_UNAVAILABLE},
      {TV_E_FORMAT_LUHN, GRPC_STATUS_INVALID_ARGUMENT},
      {TV_E_FORMAT_IBAN_CHECK, GRPC_STATUS_INVALID_ARGUMENT},
      {TV_E_FF1_DOMAIN_TOO_SMALL, GRPC_STATUS_INVALID_ARGUMENT},
      {TV_E_FORMAT_CONFIG, GRPC_STATUS_INTERNAL},
      {TV_E_FF1_NO_AESNI, GRPC_STATUS_INTERNAL},
      {TV_E_CRYPTO_BACKEND, GRPC_STATUS_INTERNAL},
      {TV_E_HSM_PIN_INCORRECT, GRPC_STATUS_INTERNAL},
      {TV_E_STORE_NOT_FOUND, GRPC_STATUS_NOT_FOUND},
      {TV_E_KEYRING_PROPOSAL_NOT_FOUND, GRPC_STATUS_NOT_FOUND},
      {TV_E_STORE_TOKEN_EXISTS, GRPC_STATUS_ALREADY_EXISTS},
      {TV_E_STORE_RECORD_CRC, GRPC_STATUS_DATA_LOSS},
      {TV_E_STORE_CORRUPT, GRPC_STATUS_DATA_LOSS},
      {TV_E_KEYRING_MAC, GRPC_STATUS_DATA_LOSS},
      {TV_E_KEYRING_ROTATION_PENDING, GRPC_STATUS_FAILED_PRECONDITION},
      {TV_E_KEYRING_PROPOSAL_EXPIRED, GRPC_STATUS_FAILED_PRECONDITION},
      {TV_E_KEYRING_SAME_OFFICER, GRPC_STATUS_PERMISSION_DENIED},
      {TV_E_POLICY_UNKNOWN_PRINCIPAL, GRPC_STATUS_PERMISSION_DENIED},
      {TV_E_POLICY_DENIED, GRPC_STATUS_PERMISSION_DENIED},
      {TV_E_POLICY_NETWORK, GRPC_STATUS_PERMISSION_DENIED},
      {TV_E_POLICY_PEER, GRPC_STATUS_PERMISSION_DENIED},
      {TV_E_POLICY_TOO_MANY_ITEMS, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_POLICY_RATE_LIMITED, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_POLICY_METER_FULL, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_POLICY_NEW_TOKEN_LIMIT, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_POLICY_TOKENIZE_RATE_LIMITED, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_POLICY_REASON_REQUIRED, GRPC_STATUS_FAILED_PRECONDITION},
      {TV_E_STORE_NO_SPACE, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_STORE_BUSY, GRPC_STATUS_UNAVAILABLE},
      {TV_E_AUDIT_UNAVAILABLE, GRPC_STATUS_UNAVAILABLE},
      {TV_E_AUDIT_NO_SPACE, GRPC_STATUS_UNAVAILABLE},
      {TV_E_AUDIT_CHAIN_BROKEN, GRPC_STATUS_DATA_LOSS},
      {TV_E_AUDIT_ENTRY_INVALID, GRPC_STATUS_INTERNAL},
      {TV_E_ENGINE_NAMESPACE, GRPC_STATUS_NOT_FOUND},
      {TV_E_ENGINE_NOT_FOUND, GRPC_STATUS_NOT_FOUND},
      {TV_E_ENGINE_EXPIRED, GRPC_STATUS_NOT_FOUND},
      {TV_E_ENGINE_DECRYPT, GRPC_STATUS_DATA_LOSS},
      {TV_E_ENGINE_EXPIRY, GRPC_STATUS_INVALID_ARGUMENT},
      {TV_E_ENGINE_BATCH_TOO_LARGE, GRPC_STATUS_RESOURCE_EXHAUSTED},
      {TV_E_ENGINE_NAMESPACE_EXISTS, GRPC_STATUS_ALREADY_EXISTS},
      {TV_E_ENGINE_CLOSED, GRPC_STATUS_UNAVAILABLE},
      {(tv_status)999, GRPC_STATUS_INTERNAL}, /* unknown number */
      {(tv_status)-7, GRPC_STATUS_INTERNAL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_int_equal(tv_status_to_grpc(cases[i].status), cases[i].code);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ok_is_ok),
      cmocka_unit_test(test_no_failure_maps_to_ok),
      cmocka_unit_test(test_specific_codes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
