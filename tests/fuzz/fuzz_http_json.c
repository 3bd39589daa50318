/* Fuzz target: arbitrary bytes as the JSON body of every method's request
 * over HTTP (vault/server/http/json_codec.h). Decoding must never crash,
 * leak or over-allocate, and must refuse with one of its two statuses and a
 * sentence; a body that decodes must print as JSON that decodes again
 * (what the server accepts round-trips through its own mapping). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vault/server/http/json_codec.h"
#include "vault/service/limits.h"
#include "vault/service/methods.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): the fuzz build is a release build (NDEBUG). */
#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) {       \
      abort();           \
    }                    \
  } while (0)

static void print_and_decode(const tv_method *method, const ProtobufCMessage *msg) {
  char *text = NULL;
  size_t len = 0;
  if (tv_json_message_encode(msg, &text, &len) != TV_OK) {
    return; /* out of memory only */
  }
  tv_request again;
  char err[TV_ERROR_TEXT_BYTES_MAX];
  tv_status st = tv_json_request_decode(&again, method, text, len, err, sizeof err);
  /* Printing spells out every default, so a body at the size limit may
   * come back too large; anything else is a bug. */
  FUZZ_CHECK(st == TV_OK || st == TV_E_SERVER_REQUEST_TOO_LARGE);
  tv_request_cleanup(&again);
  tv_json_text_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int id = 0; id < TV_METHOD_COUNT; id++) {
    const tv_method *method = tv_method_get((tv_method_id)id);
    tv_request req;
    char err[TV_ERROR_TEXT_BYTES_MAX];
    tv_status st = tv_json_request_decode(&req, method, (const char *)data, size, err, sizeof err);
    FUZZ_CHECK(st == TV_OK || st == TV_E_SERVER_REQUEST_MALFORMED || st == TV_E_SERVER_REQUEST_TOO_LARGE);
    FUZZ_CHECK(st == TV_OK || (req.msg == NULL && err[0] != '\0' && req.alloc_bytes == 0));
    if (st == TV_OK) {
      print_and_decode(method, req.msg);
      tv_request_cleanup(&req);
      FUZZ_CHECK(req.alloc_bytes == 0);
    }
  }
  return 0;
}
