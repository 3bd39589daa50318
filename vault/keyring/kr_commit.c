/* Making a keyring change durable: the one path every change takes to disk.
 * Order matters for crashes and rollback: the file is durable before the
 * HSM counter moves, so a crash in between leaves a file that is newer than
 * the counter (accepted, and the counter catches up), never one that is
 * older (which would be refused as a rollback forever). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsm/counter.h"
#include "vault/keyring/kr_internal.h"
#include "vault/util/secure_mem.h"

void kr_step(tv_keyring *kr, const char *step) {
  if (kr->step_hook != NULL) {
    kr->step_hook(kr->step_hook_ctx, step);
  }
}

uint64_t kr_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec > 0 ? (uint64_t)ts.tv_sec : 0;
}

tv_status kr_wrap(tv_keyring *kr, kr_wrapped *out, const char *kek_label, const uint8_t *key) {
  size_t len = 0;
  TV_TRY(tv_hsm_wrap(kr->hsm, out->bytes, &len, sizeof out->bytes, kek_label, key,
                     TV_KEYRING_KEY_LEN));
  TV_ENSURE(len == KR_WRAPPED_LEN, TV_E_INTERNAL);
  return TV_OK;
}

tv_status kr_unwrap(tv_keyring *kr, uint8_t *out, const char *kek_label, const kr_wrapped *in) {
  uint8_t key[TV_HSM_DATA_KEY_MAX];
  size_t len = 0;
  tv_status status =
      tv_hsm_unwrap(kr->hsm, key, &len, sizeof key, kek_label, in->bytes, KR_WRAPPED_LEN);
  if (status == TV_OK && len != TV_KEYRING_KEY_LEN) {
    status = TV_E_HSM_WRAPPED_INVALID;
  }
  if (status == TV_OK) {
    memcpy(out, key, TV_KEYRING_KEY_LEN);
  } else {
    tv_wipe(out, TV_KEYRING_KEY_LEN);
  }
  tv_wipe(key, sizeof key);
  return status;
}

static tv_status write_file(tv_keyring *kr, const kr_file *next) {
  uint8_t *buf = NULL;
  size_t len = 0;
  TV_TRY(kr_file_serialize(next, &buf, &len));
  tv_status status = len <= TV_KEYRING_FILE_LEN_MAX - KR_MAC_LEN ? TV_OK : TV_E_KEYRING_LIMIT;
  if (status == TV_OK) {
    status = tv_hsm_mac_sign(kr->hsm, buf + len, kr->mac_label, buf, len);
  }
  if (status == TV_OK) {
    status = kr_doc_store(kr, next->generation, buf, len + KR_MAC_LEN);
  }
  free(buf);
  return status;
}

tv_status kr_commit(tv_keyring *kr, kr_file *next) {
  next->generation = kr->file.generation + 1;
  next->format = KR_FORMAT_VERSION; /* a file of an older format is upgraded by its next change */
  tv_status status = write_file(kr, next);
  if (status != TV_OK) {
    kr_file_free(next);
    return status;
  }
  kr_file_free(&kr->file);
  kr->file = *next;
  *next = (kr_file){0};
  kr_step(kr, "commit.file_durable");
  /* The change is durable and will be what the next open sees: report it
   * as done even if the counter lags (the next commit or open raises it).
   * Meanwhile only the copy just replaced could be rolled back to. */
  if (tv_hsm_counter_advance(kr->hsm, kr->counter_label, kr->file.generation, 0) == TV_OK) {
    kr_step(kr, "commit.counter_advanced");
  }
  return TV_OK;
}
