#include "vault/service/status_map.h"

/* Codes a client can fix by changing its request. */
static int is_client_error(tv_status s) {
  return (s >= TV_E_FF1_RADIX && s <= TV_E_FF1_NUMERAL) || (s >= TV_E_ALPHABET_CHAR && s <= TV_E_ALPHABET_CHAR) ||
         (s >= TV_E_FORMAT_EMPTY && s <= TV_E_FORMAT_DE_TAX_ID) || s == TV_E_FORMAT_SEPARATOR ||
         s == TV_E_FORMAT_TOO_LONG;
}

/* Stored data failed its integrity checks: retrying will not help. */
static int is_data_loss(tv_status s) {
  return (s >= TV_E_STORE_CORRUPT && s <= TV_E_STORE_RECORD_FIELD) || s == TV_E_KEYRING_CORRUPT ||
         s == TV_E_KEYRING_MAC || s == TV_E_KEYRING_ROLLBACK || s == TV_E_KEYRING_COUNTER_MISSING ||
         (s >= TV_E_AUDIT_MALFORMED && s <= TV_E_AUDIT_COUNTER) || s == TV_E_ENGINE_DECRYPT;
}

static tv_code map_specific(tv_status s) {
  switch (s) {
    case TV_OK:
      return TV_CODE_OK;
    case TV_E_INVALID_ARGUMENT:
    case TV_E_SERVER_REQUEST_MALFORMED:
      return TV_CODE_INVALID_ARGUMENT;
    case TV_E_ENGINE_EXPIRY:
      return TV_CODE_INVALID_ARGUMENT;
    case TV_E_NO_MEMORY:
    case TV_E_ENGINE_METADATA_TOO_LARGE:
    case TV_E_ENGINE_BATCH_TOO_LARGE:
    case TV_E_SERVER_REQUEST_TOO_LARGE:
    case TV_E_SERVER_BUSY:
    case TV_E_STORE_NO_SPACE:
    case TV_E_KEYRING_LIMIT:
      return TV_CODE_RESOURCE_EXHAUSTED;
    case TV_E_SERVER_UNIMPLEMENTED:
      return TV_CODE_UNIMPLEMENTED;
    case TV_E_SERVER_SHUTTING_DOWN:
    case TV_E_HSM_UNAVAILABLE:
    case TV_E_STORE_BUSY:
    case TV_E_STORE_CLOSED:
    case TV_E_ENGINE_CLOSED:
    case TV_E_AUDIT_UNAVAILABLE: /* no audit, no data calls */
    case TV_E_AUDIT_NO_SPACE:
    case TV_E_AUDIT_CLOSED:
    case TV_E_STORE_UNAVAILABLE: /* the database is gone: another node may answer */
      return TV_CODE_UNAVAILABLE;
    case TV_E_STORE_TIMEOUT: /* the database is too slow: the statement was cancelled */
      return TV_CODE_DEADLINE_EXCEEDED;
    case TV_E_STORE_FINGERPRINT_EXISTS: /* convergence kept losing races: retry */
      return TV_CODE_ABORTED;
    case TV_E_STORE_NOT_FOUND:
    case TV_E_KEYRING_NOT_FOUND:
    case TV_E_KEYRING_NAMESPACE:
    case TV_E_KEYRING_PROPOSAL_NOT_FOUND:
    case TV_E_ENGINE_NAMESPACE:
    case TV_E_ENGINE_NOT_FOUND:
    case TV_E_ENGINE_EXPIRED:
    case TV_E_ENGINE_DELETED:
      return TV_CODE_NOT_FOUND;
    case TV_E_STORE_TOKEN_EXISTS:
    case TV_E_KEYRING_EXISTS:
    case TV_E_KEYRING_NAMESPACE_EXISTS:
    case TV_E_ENGINE_NAMESPACE_EXISTS:
      return TV_CODE_ALREADY_EXISTS;
    case TV_E_KEYRING_KEY_STATE:
    case TV_E_KEYRING_KEY_EXHAUSTED:
    case TV_E_KEYRING_PROPOSAL_EXPIRED:
    case TV_E_KEYRING_ROTATION_PENDING:
    case TV_E_KEYRING_KEY_VERSION:
    case TV_E_HSM_KEY_DISABLED:
      return TV_CODE_FAILED_PRECONDITION;
    case TV_E_KEYRING_SAME_OFFICER:
    case TV_E_POLICY_UNKNOWN_PRINCIPAL:
    case TV_E_POLICY_DENIED:
    case TV_E_POLICY_NETWORK:
    case TV_E_POLICY_PEER:
      return TV_CODE_PERMISSION_DENIED;
    case TV_E_POLICY_TOO_MANY_ITEMS: /* the caller's own limits, not the server's */
    case TV_E_POLICY_RATE_LIMITED:
    case TV_E_POLICY_METER_FULL:
    case TV_E_POLICY_NEW_TOKEN_LIMIT:
    case TV_E_POLICY_TOKENIZE_RATE_LIMITED:
      return TV_CODE_RESOURCE_EXHAUSTED;
    case TV_E_POLICY_REASON_REQUIRED:
      return TV_CODE_FAILED_PRECONDITION;
    default:
      return TV_CODE_UNKNOWN; /* not listed: decided by range below */
  }
}

tv_code tv_status_to_code(tv_status status) {
  tv_code code = map_specific(status);
  if (code != TV_CODE_UNKNOWN) {
    return code;
  }
  if (is_client_error(status)) {
    return TV_CODE_INVALID_ARGUMENT;
  }
  if (is_data_loss(status)) {
    return TV_CODE_DATA_LOSS;
  }
  /* Server-side faults the client cannot fix: crypto backend, I/O, HSM
   * configuration, format configuration, unknown codes. The message the
   * client sees stays generic; the log has the tv_status name. */
  return TV_CODE_INTERNAL;
}

const char *tv_code_name(int code) {
  static const char *const names[] = {
      "OK",           "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND",    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",      "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS",    "UNAUTHENTICATED",
  };
  if (code < 0 || code >= (int)(sizeof names / sizeof names[0])) {
    return "UNKNOWN";
  }
  return names[code];
}
