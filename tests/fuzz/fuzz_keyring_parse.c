/* libFuzzer target: arbitrary bytes as the body of a keyring file (what
 * follows the HSM MAC check). The parser must never over-read or crash,
 * and whatever it accepts must encode back to exactly the same bytes and
 * parse again to the same contents: nothing from the file is half-read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/keyring/kr_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond) {
  if (!cond) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kr_file file;
  tv_status status = kr_file_parse(&file, data, size);
  if (status != TV_OK) {
    check(status == TV_E_KEYRING_CORRUPT || status == TV_E_KEYRING_FORMAT_VERSION ||
          status == TV_E_NO_MEMORY);
    check(file.num_namespaces == 0 && file.namespaces == NULL);
    return 0;
  }
  uint8_t *encoded = NULL;
  size_t encoded_len = 0;
  check(kr_file_serialize(&file, &encoded, &encoded_len) == TV_OK);
  check(encoded_len == size && memcmp(encoded, data, size) == 0);
  kr_file again;
  check(kr_file_parse(&again, encoded, encoded_len) == TV_OK);
  check(again.generation == file.generation && again.num_versions == file.num_versions &&
        again.num_namespaces == file.num_namespaces && again.num_proposals == file.num_proposals);
  kr_file_free(&again);
  kr_file_free(&file);
  free(encoded);
  return 0;
}
