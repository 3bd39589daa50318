/* libFuzzer target: arbitrary bytes as the index checkpoint CHECKPOINT,
 * which open trusts instead of replaying the log it covers. The parser
 * must never over-read or crash; whatever it accepts must encode back to
 * the same header and the same (hash, location) pairs — the index may
 * export them in another order, so they are compared sorted — and the
 * encoding must parse again to the same position. Inputs whose first byte
 * is odd get a correct trailing CRC, so the fuzzer reaches the fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/store/checkpoint.h"
#include "vault/store/crc32c.h"
#include "vault/store/cursor.h"

#define HEADER_LEN 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond) {
  if (!cond) {
    abort();
  }
}

static int pair_order(const void *a, const void *b) {
  return memcmp(a, b, 16); /* any total order does */
}

/* same_pairs compares |n| 16-byte pairs of |a| and |b| as multisets. */
static int same_pairs(const uint8_t *a, const uint8_t *b, size_t n) {
  uint8_t *x = malloc(16 * n + 1), *y = malloc(16 * n + 1);
  check(x != NULL && y != NULL);
  memcpy(x, a, 16 * n);
  memcpy(y, b, 16 * n);
  qsort(x, n, 16, pair_order);
  qsort(y, n, 16, pair_order);
  int same = memcmp(x, y, 16 * n) == 0;
  free(x);
  free(y);
  return same;
}

static void check_round_trip(const uint8_t *in, size_t len, const tv_index *idx, const tv_ckpt_pos *pos) {
  uint8_t *out = NULL;
  size_t out_len = 0;
  check(tv_ckpt_encode(idx, pos, &out, &out_len) == TV_OK);
  check(out_len == len && memcmp(out, in, HEADER_LEN) == 0);
  size_t nt = (size_t)tv_le64(in + 48), nf = (size_t)tv_le64(in + 56);
  check(same_pairs(out + HEADER_LEN, in + HEADER_LEN, nt));
  check(same_pairs(out + HEADER_LEN + 16 * nt, in + HEADER_LEN + 16 * nt, nf));
  tv_index *again = NULL;
  tv_ckpt_pos pos2;
  check(tv_ckpt_parse(out, out_len, 0, &again, &pos2) == TV_OK);
  check(pos2.segment == pos->segment && pos2.offset == pos->offset && pos2.last_seq == pos->last_seq &&
        pos2.last_loc == pos->last_loc);
  tv_index_free(again);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *raw, size_t raw_size) {
  static uint8_t copy[1 << 16];
  if (raw_size == 0 || raw_size - 1 > sizeof copy) {
    return 0;
  }
  size_t size = raw_size - 1;
  memcpy(copy, raw + 1, size);
  if ((raw[0] & 1) && size >= 4) {
    tv_put_le32(copy + size - 4, tv_crc32c_extend(0, copy, size - 4));
  }
  tv_index *idx = NULL;
  tv_ckpt_pos pos;
  tv_status status = tv_ckpt_parse(copy, size, 0, &idx, &pos);
  if (status != TV_OK) {
    check(status == TV_E_STORE_CORRUPT || status == TV_E_NO_MEMORY);
    check(idx == NULL);
    return 0;
  }
  check_round_trip(copy, size, idx, &pos);
  tv_index_free(idx);
  return 0;
}
