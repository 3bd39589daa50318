/* The keyring document, wherever it lives: the file (kr_io.c) or a shared
 * store (keyring_persist.h). Reading and verifying are the same for both:
 * the HSM MAC over every byte first, then the structure, then the
 * generation against the HSM counter. */
#include <stdlib.h>
#include <string.h>

#include "hsm/counter.h"
#include "vault/keyring/kr_internal.h"

tv_status kr_doc_load(tv_keyring *kr, uint8_t **out_buf, size_t *out_len) {
  if (!kr->has_persist) {
    return kr_io_read(out_buf, out_len, kr->path, TV_KEYRING_FILE_LEN_MAX);
  }
  TV_TRY(kr->persist.load(kr->persist.ctx, out_buf, out_len));
  if (*out_len > TV_KEYRING_FILE_LEN_MAX) {
    free(*out_buf);
    *out_buf = NULL;
    return TV_E_KEYRING_CORRUPT;
  }
  return TV_OK;
}

tv_status kr_doc_store(tv_keyring *kr, uint64_t generation, const uint8_t *data, size_t len) {
  if (!kr->has_persist) {
    return kr_io_replace(kr, kr->path, data, len);
  }
  tv_status status =
      kr->persist.store(kr->persist.ctx, kr->file.generation, generation, data, len, !kr->stored);
  if (status == TV_OK) {
    kr->stored = 1;
  }
  return status;
}

/* Authenticity first (the HSM MAC over every byte), then structure: the
 * parser is robust anyway, but a verified document is the only kind we
 * act on. */
tv_status kr_doc_verify(tv_keyring *kr, kr_file *out, const uint8_t *buf, size_t len) {
  TV_ENSURE(len >= KR_HEADER_LEN + KR_MAC_LEN && memcmp(buf, KR_MAGIC, KR_MAGIC_LEN) == 0,
            TV_E_KEYRING_CORRUPT);
  size_t body_len = len - KR_MAC_LEN;
  tv_status status =
      tv_hsm_mac_verify(kr->hsm, kr->mac_label, buf, body_len, buf + body_len, KR_MAC_LEN);
  TV_ENSURE(status != TV_E_HSM_MAC_INVALID, TV_E_KEYRING_MAC);
  TV_TRY(status);
  return kr_file_parse(out, buf, body_len);
}

/* The HSM remembers the newest generation it saw: an older document is an
 * old copy put back. A newer one means a writer stopped between storing
 * the document and raising the counter: catch up. */
tv_status kr_check_generation(tv_keyring *kr, uint64_t generation) {
  uint64_t counter = 0;
  tv_status status = tv_hsm_counter_read(kr->hsm, &counter, kr->counter_label);
  TV_ENSURE(status != TV_E_HSM_KEY_NOT_FOUND, TV_E_KEYRING_COUNTER_MISSING);
  TV_TRY(status);
  TV_ENSURE(generation >= counter, TV_E_KEYRING_ROLLBACK);
  if (generation > counter) {
    status = tv_hsm_counter_advance(kr->hsm, kr->counter_label, generation, 0);
    /* Another node may have raised it past us meanwhile: that is fine
     * as long as this document is not older than what it set. */
    if (status != TV_OK && kr->has_persist &&
        tv_hsm_counter_read(kr->hsm, &counter, kr->counter_label) == TV_OK && counter >= generation) {
      status = TV_OK;
    }
    TV_TRY(status);
  }
  return TV_OK;
}
