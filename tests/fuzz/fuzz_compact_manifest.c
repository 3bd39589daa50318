/* libFuzzer target: arbitrary bytes as the compaction manifest COMPACT,
 * whose presence at open decides which segments are unlinked. Whatever the
 * decoder accepts must be a range a compaction can write and must encode
 * back to exactly the same 32 bytes. Inputs whose first byte is odd get a
 * correct CRC patched in, so the fuzzer reaches the range checks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/store/compact_manifest.h"
#include "vault/store/crc32c.h"
#include "vault/store/cursor.h"
#include "vault/store/store_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond) {
  if (!cond) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *raw, size_t raw_size) {
  uint8_t in[TV_COMPACT_MANIFEST_LEN];
  if (raw_size < 1 + sizeof in) { /* bytes past the 33rd are ignored */
    return 0;
  }
  memcpy(in, raw + 1, sizeof in);
  if (raw[0] & 1) {
    tv_put_le32(in + 28, tv_crc32c_extend(0, in, 28));
  }
  tv_compact_manifest m;
  tv_status status = tv_compact_manifest_decode(in, &m);
  if (status != TV_OK) {
    check(status == TV_E_STORE_CORRUPT);
    return 0;
  }
  /* What applying it relies on: old ids are real segment ids, the outputs
   * take the top of the range, and no id below old_first is unlinked. */
  check(m.old_first != 0 && m.old_first <= m.old_last && m.old_last < TV_STORE_SEGMENTS_MAX);
  check(m.new_count <= m.old_last - m.old_first + 1 && m.new_first >= m.old_first);
  check(m.new_first + m.new_count == m.old_last + 1);
  uint8_t again[TV_COMPACT_MANIFEST_LEN];
  tv_compact_manifest_encode(&m, again);
  check(memcmp(again, in, sizeof in) == 0);
  return 0;
}
