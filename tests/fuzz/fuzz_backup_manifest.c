/* libFuzzer target: arbitrary bytes as a backup's MANIFEST, which restore
 * reads from whatever directory an operator points it at. The parser must
 * never over-read or crash; whatever it accepts must encode back to exactly
 * the same bytes (the format is canonical: nothing unchecked can ride in a
 * manifest that checks out) and parse again to the same contents.
 * Inputs whose first byte is odd get a correct "end <crc>" line appended,
 * so the fuzzer reaches the line parser instead of stopping at the CRC. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/store/backup_io.h"
#include "vault/store/crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond) {
  if (!cond) {
    abort();
  }
}

static int same_manifest(const tv_backup_manifest *a, const tv_backup_manifest *b) {
  if (a->last_seq != b->last_seq || a->records != b->records || a->num_files != b->num_files) {
    return 0;
  }
  for (size_t i = 0; i < a->num_files; i++) {
    const tv_backup_file *x = &a->files[i], *y = &b->files[i];
    if (strcmp(x->name, y->name) != 0 || x->size != y->size || x->crc != y->crc || x->is_segment != y->is_segment ||
        x->seg_id != y->seg_id) {
      return 0;
    }
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *raw, size_t raw_size) {
  static char text[(1 << 16) + 16];
  if (raw_size == 0 || raw_size - 1 > sizeof text - 16) {
    return 0;
  }
  size_t size = raw_size - 1;
  memcpy(text, raw + 1, size);
  if (raw[0] & 1) {
    size += (size_t)snprintf(text + size, 16, "end %08x\n", (unsigned)tv_crc32c_extend(0, text, size));
  }
  tv_backup_manifest m;
  tv_status status = tv_backup_manifest_parse(text, size, &m);
  if (status != TV_OK) {
    check(status == TV_E_STORE_CORRUPT || status == TV_E_NO_MEMORY);
    check(m.num_files == 0 && m.files == NULL);
    return 0;
  }
  char *encoded = NULL;
  size_t encoded_len = 0;
  check(tv_backup_manifest_encode(&m, &encoded, &encoded_len) == TV_OK);
  check(encoded_len == size && memcmp(encoded, text, size) == 0);
  tv_backup_manifest again;
  check(tv_backup_manifest_parse(encoded, encoded_len, &again) == TV_OK);
  check(same_manifest(&m, &again));
  tv_backup_manifest_free(&again);
  tv_backup_manifest_free(&m);
  free(encoded);
  return 0;
}
