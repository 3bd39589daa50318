/* tv_status — the one error type of the vault's engine and libraries.
 *
 * Every fallible internal function returns a tv_status. TV_OK is zero, so
 * callers chain with TV_TRY and the happy path reads straight down. Each code
 * names one problem precisely; tv_status_message() gives the sentence shown
 * to users. Mapping to gRPC status codes lives in vault/server/, mapping to
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
