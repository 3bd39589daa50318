/* Fuzz target: arbitrary bytes as the request of every method. Decoding
 * must never crash, leak or over-allocate; a request that decodes must
 * pack again and the packed form must decode too (what the server accepts
 * is self-consistent). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vault/service/limits.h"
#include "vault/service/methods.h"
#include "vault/server/common/request_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): the fuzz build is a release build (NDEBUG). */
#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) {       \
      abort();           \
    }                    \
  } while (0)

static void repack_and_decode(const tv_method *method, const ProtobufCMessage *msg) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  uint8_t *buf = malloc(len + 1);
  if (buf == NULL) {
    return;
  }
  size_t packed = protobuf_c_message_pack(msg, buf);
  FUZZ_CHECK(packed == len);
  tv_request again;
  char err[TV_ERROR_TEXT_BYTES_MAX];
  tv_status st = tv_request_decode(&again, method, buf, packed, err, sizeof err);
  /* Re-packing can only grow a message by normalising encodings, so a
   * TOO_LARGE on the wire limit is possible; anything else is a bug. */
  FUZZ_CHECK(st == TV_OK || st == TV_E_SERVER_REQUEST_TOO_LARGE);
  tv_request_cleanup(&again);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int id = 0; id < TV_METHOD_COUNT; id++) {
    const tv_method *method = tv_method_get((tv_method_id)id);
    tv_request req;
    char err[TV_ERROR_TEXT_BYTES_MAX];
    tv_status st = tv_request_decode(&req, method, data, size, err, sizeof err);
    FUZZ_CHECK(st == TV_OK || st == TV_E_SERVER_REQUEST_MALFORMED || st == TV_E_SERVER_REQUEST_TOO_LARGE);
    FUZZ_CHECK(st == TV_OK || (req.msg == NULL && err[0] != '\0' && req.alloc_bytes == 0));
    if (st == TV_OK) {
      repack_and_decode(method, req.msg);
      tv_request_cleanup(&req);
      FUZZ_CHECK(req.alloc_bytes == 0);
    }
  }
  return 0;
}
