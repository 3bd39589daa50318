/* tv_status — the one error type of the vault's engine and libraries.
 *
 * Every fallible internal function returns a tv_status. TV_OK is zero, so
 * callers chain with TV_TRY and the happy path reads straight down. Each code
 * names one problem precisely; tv_status_message() gives the sentence shown
 * to users. Mapping to the answer's code lives in vault/service/status_map.h
 * (canonical codes; the gRPC transport uses them as they are), mapping to
 * CLI exit codes in client/c/: nowhere else.
 *
 * Codes are stable numbers (they reach clients as item status codes): append
 * new ones inside their module's range, never renumber. */
#ifndef TV_UTIL_STATUS_H
#define TV_UTIL_STATUS_H

typedef enum tv_status {
  TV_OK = 0,

  /* 1..99: general */
  TV_E_INVALID_ARGUMENT = 1,
  TV_E_NO_MEMORY = 2,
  TV_E_CRYPTO_BACKEND = 3,
  TV_E_INTERNAL = 4,
  TV_E_IO = 5,

  /* 100..199: FF1 and alphabets */
  TV_E_FF1_KEY_LENGTH = 100,
  TV_E_FF1_RADIX = 101,
  TV_E_FF1_DOMAIN_TOO_SMALL = 102,
  TV_E_FF1_TOO_LONG = 103,
  TV_E_FF1_TWEAK_TOO_LONG = 104,
  TV_E_FF1_NUMERAL = 105,
  TV_E_FF1_NO_AESNI = 106,
  TV_E_ALPHABET_SIZE = 110,
  TV_E_ALPHABET_DUPLICATE = 111,
  TV_E_ALPHABET_CHAR = 112,

  /* 200..299: token formats */
  TV_E_FORMAT_EMPTY = 200,
  TV_E_FORMAT_CHAR = 201,
  TV_E_FORMAT_LENGTH = 202,
  TV_E_FORMAT_CHECKSUM = 203,
  TV_E_FORMAT_LUHN = 204,
  TV_E_FORMAT_COUNTRY = 205,
  TV_E_FORMAT_IBAN_CHECK = 206,
  TV_E_FORMAT_ROUTING = 207,
  TV_E_FORMAT_SSN_AREA = 208,
  TV_E_FORMAT_SSN_GROUP = 209,
  TV_E_FORMAT_SSN_SERIAL = 210,
  TV_E_FORMAT_TW_ID = 211,
  TV_E_FORMAT_CN_ID_DATE = 212,
  TV_E_FORMAT_CN_ID_REGION = 213,
  TV_E_FORMAT_DE_TAX_ID = 214,
  TV_E_FORMAT_DOMAIN_TOO_SMALL = 215,
  TV_E_FORMAT_CONFIG = 216,
  TV_E_FORMAT_NO_CANDIDATE = 217,
  TV_E_FORMAT_SEPARATOR = 218,
  TV_E_FORMAT_TOO_LONG = 219,
  TV_E_FORMAT_CANDIDATE_REJECTED = 220,

  /* 300..399: HSM (PKCS#11) */
  TV_E_HSM_MODULE = 300,
  TV_E_HSM_TOKEN_NOT_FOUND = 301,
  TV_E_HSM_PIN_INCORRECT = 302,
  TV_E_HSM_PIN_LOCKED = 303,
  TV_E_HSM_PIN_SOURCE = 304,
  TV_E_HSM_KEY_NOT_FOUND = 305,
  TV_E_HSM_UNAVAILABLE = 306,
  TV_E_HSM_OPERATION = 307,
  TV_E_HSM_WRAPPED_INVALID = 308,
  TV_E_HSM_KEY_EXISTS = 309,
  TV_E_HSM_MAC_INVALID = 310,
  TV_E_HSM_KEY_DISABLED = 311,
  TV_E_HSM_KEY_UNSAFE = 312,
  TV_E_HSM_TOKEN_EXISTS = 313,
  /* 400..499: storage (log, index, recovery) */
  TV_E_STORE_IO_URING_UNAVAILABLE = 400,
  TV_E_STORE_CORRUPT = 401,
  TV_E_STORE_RECORD_MAGIC = 402,
  TV_E_STORE_RECORD_VERSION = 403,
  TV_E_STORE_RECORD_CRC = 404,
  TV_E_STORE_RECORD_LENGTH = 405,
  TV_E_STORE_RECORD_TRUNCATED = 406,
  TV_E_STORE_RECORD_TYPE = 407,
  TV_E_STORE_RECORD_TOO_LARGE = 408,
  TV_E_STORE_RECORD_FIELD = 409,
  TV_E_STORE_NOT_FOUND = 410,
  TV_E_STORE_TOKEN_EXISTS = 411,
  TV_E_STORE_NO_SPACE = 412,
  TV_E_STORE_WRITE_FAILED = 413,
  TV_E_STORE_CLOSED = 414,
  TV_E_STORE_BUSY = 415,
  TV_E_STORE_LOCKED = 416,
  TV_E_STORE_LAYOUT = 417,
  TV_E_STORE_BACKUP_TARGET = 418,
  TV_E_STORE_COMPACT_CANCELLED = 419,
  /* 500..599: keyring (data keys, rotation, two-officer approvals) */
  TV_E_KEYRING_NOT_FOUND = 500,
  TV_E_KEYRING_EXISTS = 501,
  TV_E_KEYRING_CORRUPT = 502,
  TV_E_KEYRING_MAC = 503,
  TV_E_KEYRING_ROLLBACK = 504,
  TV_E_KEYRING_FORMAT_VERSION = 505,
  TV_E_KEYRING_COUNTER_MISSING = 506,
  TV_E_KEYRING_LOCKED = 507,
  TV_E_KEYRING_NAMESPACE = 508,
  TV_E_KEYRING_NAMESPACE_EXISTS = 509,
  TV_E_KEYRING_KEY_VERSION = 510,
  TV_E_KEYRING_KEY_STATE = 511,
  TV_E_KEYRING_KEY_EXHAUSTED = 512,
  TV_E_KEYRING_LIMIT = 513,
  TV_E_KEYRING_SAME_OFFICER = 514,
  TV_E_KEYRING_PROPOSAL_EXPIRED = 515,
  TV_E_KEYRING_PROPOSAL_NOT_FOUND = 516,
  TV_E_KEYRING_ROTATION_PENDING = 517,
  TV_E_KEYRING_CONFLICT = 518,
  /* 600..699: gRPC service (request decoding, server limits) */
  TV_E_SERVER_REQUEST_MALFORMED = 600,
  TV_E_SERVER_REQUEST_TOO_LARGE = 601,
  TV_E_SERVER_UNIMPLEMENTED = 602,
  TV_E_SERVER_BUSY = 603,
  TV_E_SERVER_SHUTTING_DOWN = 604,
  TV_E_SERVER_CONFIG = 605,
  /* 700..799: audit log (writing, and what its verifier finds) */
  TV_E_AUDIT_UNAVAILABLE = 700,
  TV_E_AUDIT_CLOSED = 701,
  TV_E_AUDIT_ENTRY_INVALID = 702,
  TV_E_AUDIT_MALFORMED = 703,
  TV_E_AUDIT_ENTRY_ALTERED = 704,
  TV_E_AUDIT_CHAIN_BROKEN = 705,
  TV_E_AUDIT_SEQUENCE_GAP = 706,
  TV_E_AUDIT_REORDERED = 707,
  TV_E_AUDIT_MAC_INVALID = 708,
  TV_E_AUDIT_TRUNCATED = 709,
  TV_E_AUDIT_SEGMENT = 710,
  TV_E_AUDIT_COUNTER = 711,
  TV_E_AUDIT_NO_SPACE = 712, /* writing: the audit log's disk is full */
  /* 800..899: engine (tokenize / detokenize; 600..699 was already the
   * server's). Per-item results of detokenize keep these distinct. */
  TV_E_ENGINE_NAMESPACE = 800,
  TV_E_ENGINE_NOT_FOUND = 801,
  TV_E_ENGINE_EXPIRED = 802,
  TV_E_ENGINE_DELETED = 803,
  TV_E_ENGINE_DECRYPT = 804,
  TV_E_ENGINE_METADATA_TOO_LARGE = 805,
  TV_E_ENGINE_EXPIRY = 806,
  TV_E_ENGINE_BATCH_TOO_LARGE = 807,
  TV_E_ENGINE_NAMESPACE_EXISTS = 808,
  TV_E_ENGINE_CLOSED = 809,
  /* 900..949: authorisation policy (principals, roles, limits) */
  TV_E_POLICY_UNKNOWN_PRINCIPAL = 900,
  TV_E_POLICY_DENIED = 901,
  TV_E_POLICY_NETWORK = 902,
  TV_E_POLICY_PEER = 903,
  TV_E_POLICY_TOO_MANY_ITEMS = 904,
  TV_E_POLICY_RATE_LIMITED = 905,
  TV_E_POLICY_REASON_REQUIRED = 906,
  TV_E_POLICY_CONFIG = 907,
  TV_E_POLICY_LIMIT = 908,
  TV_E_POLICY_METER_FULL = 909,
  TV_E_POLICY_NEW_TOKEN_LIMIT = 910,
  TV_E_POLICY_TOKENIZE_RATE_LIMITED = 911,
  /* 950..999: daemon configuration file */
  TV_E_CONFIG_SYNTAX = 950,
  TV_E_CONFIG_UNKNOWN_KEY = 951,
  TV_E_CONFIG_TYPE = 952,
  TV_E_CONFIG_VALUE = 953,
  TV_E_CONFIG_MISSING = 954,
  TV_E_CONFIG_DUPLICATE = 955,
  TV_E_CONFIG_SECRET = 956,
  TV_E_CONFIG_IO = 957,
  TV_E_CONFIG_TOO_LARGE = 958,

  /* 1100..1149: database store backend (PostgreSQL) */
  TV_E_STORE_UNAVAILABLE = 1100,
  TV_E_STORE_SCHEMA_MISSING = 1101,
  TV_E_STORE_SCHEMA_NEWER = 1102,
  TV_E_STORE_UNSUPPORTED = 1103,
  TV_E_STORE_FINGERPRINT_EXISTS = 1104,
  TV_E_STORE_CONNINFO_PASSWORD = 1105,
  TV_E_STORE_CONNINFO = 1106,
  TV_E_STORE_TIMEOUT = 1107,
} tv_status;

/* tv_status_message returns a static, human-readable sentence for |status|
 * (never NULL; unknown codes get a generic sentence naming the number is not
 * possible without allocation, so they read "unknown error"). */
const char *tv_status_message(tv_status status);

/* tv_status_name returns the stable symbolic name, e.g. "FF1_RADIX". */
const char *tv_status_name(tv_status status);

/* TV_TRY evaluates |expr| once and returns its status from the enclosing
 * function if it is not TV_OK. */
#define TV_TRY(expr)                    \
  do {                                  \
    tv_status tv_try_status_ = (expr);  \
    if (tv_try_status_ != TV_OK) {      \
      return tv_try_status_;            \
    }                                   \
  } while (0)

/* TV_ENSURE returns |status| from the enclosing function unless |cond|. */
#define TV_ENSURE(cond, status) \
  do {                          \
    if (!(cond)) {              \
      return (status);          \
    }                           \
  } while (0)

#endif
