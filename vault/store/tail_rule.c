/* The tail rule (see tail_rule.h for the rule and why). */
#include "vault/store/tail_rule.h"

#include "vault/store/cursor.h"
#include "vault/store/record.h"
#include "vault/store/store_limits.h"

static uint64_t align_record(uint64_t n) {
  return (n + TV_STORE_RECORD_ALIGN - 1) & ~(uint64_t)(TV_STORE_RECORD_ALIGN - 1);
}

/* record_extent: the bytes the header at |off| claims, or 0 if the header
 * does not decode (then only its 32 bytes are judged). */
static uint64_t record_extent(const uint8_t *seg, uint64_t off, uint32_t *out_payload) {
  const uint8_t *h = seg + off;
  uint32_t plen = tv_le32(h + 8);
  *out_payload = 0;
  if (tv_le32(h) != TV_RECORD_MAGIC || h[4] != TV_RECORD_VERSION || plen == 0 ||
      plen > TV_STORE_RECORD_PAYLOAD_LEN_MAX) {
    return 0;
  }
  *out_payload = plen;
  return align_record(TV_STORE_RECORD_HEADER_LEN + (uint64_t)plen);
}

static int magic_bytes_matching(const uint8_t *h) {
  int n = 0;
  for (int i = 0; i < 4; i++) {
    n += h[i] == (uint8_t)(TV_RECORD_MAGIC >> (8 * i));
  }
  return n;
}

static int all_zero(const uint8_t *p, uint64_t n) { return tv_record_is_zero(p, (size_t)n); }

/* unwritten_sector: a zero run from a sector boundary inside [off, end)
 * that fills a whole sector, or runs to |end| over at least |tail_min|
 * bytes. */
static int unwritten_sector(const uint8_t *seg, uint64_t off, uint64_t end, uint64_t tail_min) {
  uint64_t p = (off + TV_TAIL_SECTOR_BYTES - 1) / TV_TAIL_SECTOR_BYTES * TV_TAIL_SECTOR_BYTES;
  for (; p < end; p += TV_TAIL_SECTOR_BYTES) {
    if (p + TV_TAIL_SECTOR_BYTES <= end && all_zero(seg + p, TV_TAIL_SECTOR_BYTES)) {
      return 1;
    }
    if (end - p >= tail_min && all_zero(seg + p, end - p)) {
      return 1;
    }
  }
  return 0;
}

tv_tail_verdict tv_tail_classify(const uint8_t *seg, uint64_t size, uint64_t off) {
  if (off + TV_STORE_RECORD_HEADER_LEN > size) {
    return TV_TAIL_TORN; /* the file ends inside the header */
  }
  uint32_t payload = 0;
  uint64_t len = record_extent(seg, off, &payload);
  if (len != 0 && off + len > size) {
    return TV_TAIL_TORN; /* the file ends inside the record */
  }
  if (len == 0) {
    /* An undecodable header: a written one never has a zero magic or (but
     * for a 2^-32 chance) a zero CRC, so zeros there were never written;
     * bytes nothing like a header are a sector torn into garbage; a
     * header whose magic is (all but a byte) intact is a damaged one. */
    const uint8_t *h = seg + off;
    if (all_zero(h, 4) || all_zero(h + TV_STORE_RECORD_HEADER_LEN - 4, 4)) {
      return TV_TAIL_TORN;
    }
    return magic_bytes_matching(h) >= 3 ? TV_TAIL_DAMAGE : TV_TAIL_TORN;
  }
  uint64_t padding = len - TV_STORE_RECORD_HEADER_LEN - payload;
  return unwritten_sector(seg, off, off + len, padding + TV_TAIL_ZERO_PAYLOAD_MIN) ? TV_TAIL_TORN : TV_TAIL_DAMAGE;
}

uint64_t tv_tail_data_end(const uint8_t *seg, uint64_t size, uint64_t off) {
  uint64_t end = size;
  while (end > off && seg[end - 1] == 0) {
    end--;
  }
  end = align_record(end);
  return end < size ? end : size;
}

uint64_t tv_tail_count_records(const uint8_t *seg, uint64_t off, uint64_t end) {
  uint64_t n = 0;
  for (uint64_t y = off; y + 4 <= end; y += TV_STORE_RECORD_ALIGN) {
    n += tv_le32(seg + y) == TV_RECORD_MAGIC;
  }
  return n > 0 ? n : 1;
}
