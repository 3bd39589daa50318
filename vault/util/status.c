#include "vault/util/status.h"

#include <stddef.h>

typedef struct status_text {
  tv_status status;
  const char *name;
  const char *message;
} status_text;

/* One row per code: the name is stable, the message is what users read. */
static const status_text status_texts[] = {
    {TV_OK, "OK", "success"},
    {TV_E_INVALID_ARGUMENT, "INVALID_ARGUMENT", "invalid argument"},
    {TV_E_NO_MEMORY, "NO_MEMORY", "out of memory"},
    {TV_E_CRYPTO_BACKEND, "CRYPTO_BACKEND", "the cryptographic library reported a failure"},
    {TV_E_INTERNAL, "INTERNAL", "internal error"},
    {TV_E_IO, "IO", "input/output error"},
    {TV_E_FF1_KEY_LENGTH, "FF1_KEY_LENGTH", "FF1 key must be 16, 24 or 32 bytes (AES-128/192/256)"},
    {TV_E_FF1_RADIX, "FF1_RADIX", "FF1 radix must be between 2 and 256"},
    {TV_E_FF1_DOMAIN_TOO_SMALL, "FF1_DOMAIN_TOO_SMALL",
     "input too short: radix^length must be at least 1,000,000 (NIST SP 800-38G)"},
    {TV_E_FF1_TOO_LONG, "FF1_TOO_LONG", "input too long: FF1 accepts at most 4096 numerals"},
    {TV_E_FF1_TWEAK_TOO_LONG, "FF1_TWEAK_TOO_LONG", "tweak too long: at most 256 bytes"},
    {TV_E_FF1_NUMERAL, "FF1_NUMERAL", "numeral out of range for the radix"},
    {TV_E_FF1_NO_AESNI, "FF1_NO_AESNI", "this CPU has no AES-NI; use the portable implementation"},
    {TV_E_ALPHABET_SIZE, "ALPHABET_SIZE", "alphabet must have between 2 and 256 characters"},
    {TV_E_ALPHABET_DUPLICATE, "ALPHABET_DUPLICATE", "alphabet has a repeated character"},
    {TV_E_ALPHABET_CHAR, "ALPHABET_CHAR", "character not in the alphabet"},
    {TV_E_FORMAT_EMPTY, "FORMAT_EMPTY", "value is empty"},
    {TV_E_FORMAT_CHAR, "FORMAT_CHAR", "value has a character this format does not allow"},
    {TV_E_FORMAT_LENGTH, "FORMAT_LENGTH", "value has the wrong length for this format"},
    {TV_E_FORMAT_CHECKSUM, "FORMAT_CHECKSUM", "value fails its check digit"},
    {TV_E_FORMAT_LUHN, "FORMAT_LUHN", "card number fails the Luhn check"},
    {TV_E_FORMAT_COUNTRY, "FORMAT_COUNTRY", "IBAN country code is not supported"},
    {TV_E_FORMAT_IBAN_CHECK, "FORMAT_IBAN_CHECK", "IBAN check digits are wrong (ISO 7064 mod 97)"},
    {TV_E_FORMAT_ROUTING, "FORMAT_ROUTING", "US ABA routing number fails its checksum"},
    {TV_E_FORMAT_SSN_AREA, "FORMAT_SSN_AREA", "SSN area number is invalid (000, 666 or 900-999)"},
    {TV_E_FORMAT_SSN_GROUP, "FORMAT_SSN_GROUP", "SSN group number is invalid (00)"},
    {TV_E_FORMAT_SSN_SERIAL, "FORMAT_SSN_SERIAL", "SSN serial number is invalid (0000)"},
    {TV_E_FORMAT_TW_ID, "FORMAT_TW_ID", "Taiwan national ID must be a letter, 1 or 2, then 8 digits"},
    {TV_E_FORMAT_CN_ID_DATE, "FORMAT_CN_ID_DATE", "PRC resident ID has an invalid birth date"},
    {TV_E_FORMAT_CN_ID_REGION, "FORMAT_CN_ID_REGION", "PRC resident ID has an invalid region code"},
    {TV_E_FORMAT_DE_TAX_ID, "FORMAT_DE_TAX_ID", "German tax ID breaks the digit-repetition rule"},
    {TV_E_FORMAT_DOMAIN_TOO_SMALL, "FORMAT_DOMAIN_TOO_SMALL",
     "the tokenised part would have fewer than 1,000,000 possible values"},
    {TV_E_FORMAT_CONFIG, "FORMAT_CONFIG", "invalid format configuration"},
    {TV_E_FORMAT_NO_CANDIDATE, "FORMAT_NO_CANDIDATE",
     "no acceptable token candidate within the attempt limit"},
    {TV_E_FORMAT_SEPARATOR, "FORMAT_SEPARATOR", "value has separators in an unsupported place"},
    {TV_E_FORMAT_TOO_LONG, "FORMAT_TOO_LONG", "value is too long"},
    {TV_E_FORMAT_CANDIDATE_REJECTED, "FORMAT_CANDIDATE_REJECTED",
     "this attempt gives no acceptable token candidate; try the next attempt"},
    {TV_E_HSM_MODULE, "HSM_MODULE", "the PKCS#11 module could not be loaded"},
    {TV_E_HSM_TOKEN_NOT_FOUND, "HSM_TOKEN_NOT_FOUND", "no HSM token with that label or serial"},
    {TV_E_HSM_PIN_INCORRECT, "HSM_PIN_INCORRECT", "the HSM rejected the PIN"},
    {TV_E_HSM_PIN_LOCKED, "HSM_PIN_LOCKED", "the HSM token's PIN is locked"},
    {TV_E_HSM_PIN_SOURCE, "HSM_PIN_SOURCE", "the HSM PIN could not be read from its file or environment variable"},
    {TV_E_HSM_KEY_NOT_FOUND, "HSM_KEY_NOT_FOUND", "no key with that label in the HSM"},
    {TV_E_HSM_UNAVAILABLE, "HSM_UNAVAILABLE", "the HSM is unavailable"},
    {TV_E_HSM_OPERATION, "HSM_OPERATION", "the HSM refused the operation"},
    {TV_E_HSM_WRAPPED_INVALID, "HSM_WRAPPED_INVALID", "wrapped key is invalid or was wrapped under another key"},
    {TV_E_HSM_KEY_EXISTS, "HSM_KEY_EXISTS", "a key with that label already exists in the HSM"},
    {TV_E_HSM_MAC_INVALID, "HSM_MAC_INVALID", "the HSM MAC does not match: the data or the MAC was altered"},
    {TV_E_HSM_KEY_DISABLED, "HSM_KEY_DISABLED", "the HSM key is disabled for this use (e.g. a retired KEK)"},
    {TV_E_HSM_KEY_UNSAFE, "HSM_KEY_UNSAFE",
     "the HSM key with that label is extractable or not sensitive; refusing to use it"},
    {TV_E_HSM_TOKEN_EXISTS, "HSM_TOKEN_EXISTS", "a development HSM token already exists in that directory"},
    {TV_E_STORE_IO_URING_UNAVAILABLE, "STORE_IO_URING_UNAVAILABLE",
     "io_uring is unavailable (kernel too old, disabled by sysctl or seccomp); the store needs it"},
    {TV_E_STORE_CORRUPT, "STORE_CORRUPT", "the store's log is damaged before its last commit; see the named file and offset"},
    {TV_E_STORE_RECORD_MAGIC, "STORE_RECORD_MAGIC", "stored record has a bad magic number"},
    {TV_E_STORE_RECORD_VERSION, "STORE_RECORD_VERSION", "stored record has an unsupported format version"},
    {TV_E_STORE_RECORD_CRC, "STORE_RECORD_CRC", "stored record fails its CRC32C check"},
    {TV_E_STORE_RECORD_LENGTH, "STORE_RECORD_LENGTH", "stored record has an inconsistent length"},
    {TV_E_STORE_RECORD_TRUNCATED, "STORE_RECORD_TRUNCATED", "stored record is truncated"},
    {TV_E_STORE_RECORD_TYPE, "STORE_RECORD_TYPE", "stored record has an unknown type"},
    {TV_E_STORE_RECORD_TOO_LARGE, "STORE_RECORD_TOO_LARGE", "record is larger than the store allows"},
    {TV_E_STORE_RECORD_FIELD, "STORE_RECORD_FIELD", "record field is out of range"},
    {TV_E_STORE_NOT_FOUND, "STORE_NOT_FOUND", "no such token in the store"},
    {TV_E_STORE_TOKEN_EXISTS, "STORE_TOKEN_EXISTS", "the token already exists in its namespace"},
    {TV_E_STORE_NO_SPACE, "STORE_NO_SPACE", "the store's disk is full or its file size limit was reached"},
    {TV_E_STORE_WRITE_FAILED, "STORE_WRITE_FAILED", "writing or syncing the store's log failed"},
    {TV_E_STORE_CLOSED, "STORE_CLOSED", "the store is closing"},
    {TV_E_STORE_BUSY, "STORE_BUSY", "the store's write queue is full; retry later"},
    {TV_E_STORE_LOCKED, "STORE_LOCKED", "the store directory is in use by another process"},
    {TV_E_STORE_LAYOUT, "STORE_LAYOUT", "the store directory has an unexpected file or segment sequence"},
    {TV_E_KEYRING_NOT_FOUND, "KEYRING_NOT_FOUND", "the keyring file does not exist"},
    {TV_E_KEYRING_EXISTS, "KEYRING_EXISTS", "a keyring file already exists at that path"},
    {TV_E_KEYRING_CORRUPT, "KEYRING_CORRUPT",
     "the keyring file is malformed or truncated (not a keyring, or damaged); refusing to start"},
    {TV_E_KEYRING_MAC, "KEYRING_MAC",
     "the keyring file fails its HSM integrity check: it was altered, truncated, extended or comes from another vault; refusing to start"},
    {TV_E_KEYRING_ROLLBACK, "KEYRING_ROLLBACK",
     "the keyring file is older than the generation recorded in the HSM (an old copy was put back); refusing to start"},
    {TV_E_KEYRING_FORMAT_VERSION, "KEYRING_FORMAT_VERSION", "the keyring file has an unsupported format version"},
    {TV_E_KEYRING_COUNTER_MISSING, "KEYRING_COUNTER_MISSING",
     "the HSM holds no generation counter for this keyring (wrong token, or the counter was deleted); refusing to start"},
    {TV_E_KEYRING_LOCKED, "KEYRING_LOCKED", "the keyring is in use by another process"},
    {TV_E_KEYRING_NAMESPACE, "KEYRING_NAMESPACE", "no keys for that namespace (or an invalid namespace name)"},
    {TV_E_KEYRING_NAMESPACE_EXISTS, "KEYRING_NAMESPACE_EXISTS", "the namespace already has keys"},
    {TV_E_KEYRING_KEY_VERSION, "KEYRING_KEY_VERSION", "no data key with that version in the namespace"},
    {TV_E_KEYRING_KEY_STATE, "KEYRING_KEY_STATE",
     "the data key's state does not allow this (e.g. retired or destroyed, or a transition out of order)"},
    {TV_E_KEYRING_KEY_EXHAUSTED, "KEYRING_KEY_EXHAUSTED",
     "the data key reached its encryption limit; rotate the namespace's data key"},
    {TV_E_KEYRING_LIMIT, "KEYRING_LIMIT", "a keyring limit was reached (namespaces, versions, proposals or sizes)"},
    {TV_E_KEYRING_SAME_OFFICER, "KEYRING_SAME_OFFICER",
     "a proposal must be approved by a different security officer than the one who proposed it"},
    {TV_E_KEYRING_PROPOSAL_EXPIRED, "KEYRING_PROPOSAL_EXPIRED", "the proposal expired before it was approved"},
    {TV_E_KEYRING_PROPOSAL_NOT_FOUND, "KEYRING_PROPOSAL_NOT_FOUND", "no pending proposal with that id"},
    {TV_E_KEYRING_ROTATION_PENDING, "KEYRING_ROTATION_PENDING",
     "a KEK rotation is already in progress or a proposal for the same action is pending"},
    {TV_E_SERVER_REQUEST_MALFORMED, "SERVER_REQUEST_MALFORMED",
     "the request is not a valid protobuf message of the method's type, or a field breaks its rule"},
    {TV_E_SERVER_REQUEST_TOO_LARGE, "SERVER_REQUEST_TOO_LARGE",
     "the request exceeds a server limit (message size, items per request or field length)"},
    {TV_E_SERVER_UNIMPLEMENTED, "SERVER_UNIMPLEMENTED", "this method is not implemented by the server"},
    {TV_E_SERVER_BUSY, "SERVER_BUSY", "the server's work queue is full; retry with backoff"},
    {TV_E_SERVER_SHUTTING_DOWN, "SERVER_SHUTTING_DOWN", "the server is shutting down"},
    {TV_E_SERVER_CONFIG, "SERVER_CONFIG",
     "the server configuration is invalid (listen address, TLS files or flags)"},
    {TV_E_AUDIT_UNAVAILABLE, "AUDIT_UNAVAILABLE",
     "the audit log cannot be written (I/O error, disk full or HSM unavailable); the call is refused"},
    {TV_E_AUDIT_CLOSED, "AUDIT_CLOSED", "the audit log is closed"},
    {TV_E_AUDIT_ENTRY_INVALID, "AUDIT_ENTRY_INVALID",
     "an audit entry field is too long or not valid UTF-8"},
    {TV_E_AUDIT_MALFORMED, "AUDIT_MALFORMED", "an audit log line is not in the audit entry format"},
    {TV_E_AUDIT_ENTRY_ALTERED, "AUDIT_ENTRY_ALTERED",
     "an audit entry does not match its own hash: it was altered"},
    {TV_E_AUDIT_CHAIN_BROKEN, "AUDIT_CHAIN_BROKEN",
     "an audit entry does not carry the hash of the entry before it"},
    {TV_E_AUDIT_SEQUENCE_GAP, "AUDIT_SEQUENCE_GAP", "audit entries are missing (sequence gap)"},
    {TV_E_AUDIT_REORDERED, "AUDIT_REORDERED", "audit entries are out of order or repeated"},
    {TV_E_AUDIT_MAC_INVALID, "AUDIT_MAC_INVALID", "an audit checkpoint's MAC does not verify"},
    {TV_E_AUDIT_TRUNCATED, "AUDIT_TRUNCATED",
     "the audit log ends before its latest checkpoint recorded in the HSM: it was truncated"},
    {TV_E_AUDIT_SEGMENT, "AUDIT_SEGMENT",
     "an audit segment file is missing, out of order or from another log"},
    {TV_E_AUDIT_COUNTER, "AUDIT_COUNTER", "the HSM holds no checkpoint counter for this audit log"},
};

static const status_text *status_find(tv_status status) {
  for (size_t i = 0; i < sizeof status_texts / sizeof status_texts[0]; i++) {
    if (status_texts[i].status == status) {
      return &status_texts[i];
    }
  }
  return NULL;
}

const char *tv_status_message(tv_status status) {
  const status_text *text = status_find(status);
  return text != NULL ? text->message : "unknown error";
}

const char *tv_status_name(tv_status status) {
  const status_text *text = status_find(status);
  return text != NULL ? text->name : "UNKNOWN";
}
