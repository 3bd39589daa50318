/* Fuzz target for the store's record decoder: log bytes read back from
 * disk are untrusted. Properties checked on every input:
 *   - decoding never reads out of bounds (ASan) or misbehaves (UBSan);
 *   - an accepted record lies within the input, is 8-byte aligned, and
 *     re-encodes to exactly the same bytes (the encoding is canonical, so
 *     nothing unchecked can hide in an accepted record);
 *   - walking the input as a log (record after record) terminates.
 * Half of the inputs (first byte odd) get a valid CRC patched in before
 * decoding, so the fuzzer also reaches the payload parser instead of
 * stopping at the checksum. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/store/crc32c.h"
#include "vault/store/cursor.h"
#include "vault/store/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const uint8_t *rec, size_t len, const tv_record *r) {
  static uint8_t again[TV_STORE_RECORD_LEN_MAX];
  size_t again_len = 0;
  if (len == 0 || len % TV_STORE_RECORD_ALIGN != 0 || len > TV_STORE_RECORD_LEN_MAX) {
    abort();
  }
  if (tv_record_encode(r, again, sizeof again, &again_len) != TV_OK || again_len != len ||
      memcmp(again, rec, len) != 0) {
    abort();
  }
}

/* fix_crc gives the record at |rec| a correct CRC if its claimed length
 * fits in |len|; the rest of the bytes stay as the fuzzer made them. */
static void fix_crc(uint8_t *rec, size_t len) {
  if (len < TV_STORE_RECORD_HEADER_LEN) {
    return;
  }
  size_t plen = tv_le32(rec + 8);
  if (plen > TV_STORE_RECORD_PAYLOAD_LEN_MAX) {
    return;
  }
  size_t total = (TV_STORE_RECORD_HEADER_LEN + plen + 7) & ~(size_t)7;
  if (total > len) {
    return;
  }
  uint32_t crc = tv_crc32c_extend(0, rec, 28);
  crc = tv_crc32c_extend(crc, rec + TV_STORE_RECORD_HEADER_LEN, total - TV_STORE_RECORD_HEADER_LEN);
  tv_put_le32(rec + 28, crc);
}

int LLVMFuzzerTestOneInput(const uint8_t *raw, size_t raw_size) {
  static uint8_t copy[1 << 16];
  if (raw_size == 0 || raw_size - 1 > sizeof copy) {
    return 0;
  }
  size_t size = raw_size - 1;
  memcpy(copy, raw + 1, size);
  if (raw[0] & 1) {
    fix_crc(copy, size);
  }
  const uint8_t *data = copy;
  size_t off = 0;
  /* Bounded: every accepted record is at least one header long. */
  while (off < size) {
    tv_record r;
    size_t len = 0;
    if (tv_record_decode(data + off, size - off, &r, &len) != TV_OK) {
      break;
    }
    if (len > size - off) {
      abort();
    }
    check_round_trip(data + off, len, &r);
    off += len;
  }
  return 0;
}
