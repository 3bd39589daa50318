/* The tail rule (vault/store/tail_rule.h): bad bytes at the end of the
 * log are a torn write only when they prove it (the file ends inside the
 * record, or zeros where a written record has none); a complete record
 * failing its CRC, and a header with a damaged byte, are damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/record.h"
#include "vault/store/tail_rule.h"

enum { SEG = 16384 };

static uint8_t seg[SEG];

/* put_at encodes a put (ciphertext |ct_len| bytes) at |off| of a zeroed
 * segment and returns its length. */
static size_t put_at(uint64_t off, size_t ct_len) {
  static uint8_t ct[4096];
  memset(seg, 0, sizeof seg);
  for (size_t i = 0; i < sizeof ct; i++) {
    ct[i] = (uint8_t)(i * 13 + 1);
  }
  test_rec t;
  test_rec_make(&t, 7, 1);
  t.put.ciphertext = ct;
  t.put.ciphertext_len = ct_len;
  tv_record r;
  memset(&r, 0, sizeof r);
  r.header.type = TV_RECORD_PUT;
  r.header.flags = TV_RECORD_FLAG_COMMIT;
  r.header.seq = 42;
  r.body.put = t.put;
  size_t len = 0;
  assert_int_equal(tv_record_encode(&r, seg + off, SEG - off, &len), TV_OK);
  return len;
}

static void test_complete_record_with_a_flipped_byte_is_damage(void **state) {
  (void)state;
  size_t len = put_at(960, 100);
  seg[960 + len / 2] ^= 0x10;
  assert_int_equal(tv_tail_classify(seg, SEG, 960), TV_TAIL_DAMAGE);
  seg[960 + len / 2] ^= 0x10;
  seg[960 + len - 3] ^= 0x01; /* in the metadata, near the end */
  assert_int_equal(tv_tail_classify(seg, SEG, 960), TV_TAIL_DAMAGE);
}

static void test_file_ending_inside_is_torn(void **state) {
  (void)state;
  size_t len = put_at(960, 100);
  assert_int_equal(tv_tail_classify(seg, 960 + len - 8, 960), TV_TAIL_TORN);
  assert_int_equal(tv_tail_classify(seg, 960 + 20, 960), TV_TAIL_TORN); /* inside the header */
}

/* Preallocated space reads as zeros: a record whose end from a sector
 * boundary on was never written. */
static void test_zero_tail_from_a_sector_boundary_is_torn(void **state) {
  (void)state;
  size_t len = put_at(960, 100);
  assert_true(960 + len > 1024 + 64);
  memset(seg + 1024, 0, 960 + len - 1024);
  assert_int_equal(tv_tail_classify(seg, SEG, 960), TV_TAIL_TORN);
}

/* Zeros not starting at a sector boundary are not a partial write. */
static void test_zero_tail_off_a_boundary_is_damage(void **state) {
  (void)state;
  size_t len = put_at(960, 100);
  memset(seg + 1032, 0, 960 + len - 1032);
  assert_int_equal(tv_tail_classify(seg, SEG, 960), TV_TAIL_DAMAGE);
}

/* A zero run from a boundary too short to rule out a record's own
 * trailing zeros (padding, a metadata length) is not proof: damage. */
static void test_short_zero_tail_is_damage(void **state) {
  (void)state;
  size_t len = put_at(0, 100);
  uint32_t payload = (uint32_t)seg[8] | (uint32_t)seg[9] << 8;
  size_t pad = len - 32 - payload;
  assert_true(pad > 0); /* so 8 zero bytes are padding + fewer than 8 payload bytes */
  uint64_t off = 1024 + 8 - len; /* the record's last 8 bytes after the boundary */
  len = put_at(off, 100);
  assert_true(off + len - 1024 < pad + TV_TAIL_ZERO_PAYLOAD_MIN);
  memset(seg + 1024, 0, off + len - 1024);
  assert_int_equal(tv_tail_classify(seg, SEG, off), TV_TAIL_DAMAGE);
}

/* A whole zero sector inside a big record: written out of order, the
 * sector never reached the disk (no record holds 512 zero bytes). */
static void test_zero_sector_inside_is_torn(void **state) {
  (void)state;
  size_t len = put_at(8, 2000);
  assert_true(len > 1536 + 64);
  memset(seg + 1024, 0, 512);
  assert_int_equal(tv_tail_classify(seg, SEG, 8), TV_TAIL_TORN);
}

static void test_headers(void **state) {
  (void)state;
  put_at(960, 100);
  seg[961] ^= 0x04; /* one magic byte: a damaged header */
  assert_int_equal(tv_tail_classify(seg, SEG, 960), TV_TAIL_DAMAGE);
  put_at(960, 100);
  seg[960 + 8] = 0; /* payload length 0: the header does not decode */
  seg[960 + 9] = 0;
  assert_int_equal(tv_tail_classify(seg, SEG, 960), TV_TAIL_DAMAGE);
  memset(seg + 960 + 8, 0, 24); /* ... and its CRC never written */
  assert_int_equal(tv_tail_classify(seg, SEG, 960), TV_TAIL_TORN);
  put_at(960, 100);
  memset(seg + 960, 0, 4); /* zero magic, rest written */
  assert_int_equal(tv_tail_classify(seg, SEG, 960), TV_TAIL_TORN);
  memset(seg + 960, 0xA5, 100); /* garbage: a sector torn into noise */
  assert_int_equal(tv_tail_classify(seg, SEG, 960), TV_TAIL_TORN);
}

static void test_data_end_and_count(void **state) {
  (void)state;
  size_t len = put_at(960, 100); /* ends with nonzero metadata, then padding */
  uint64_t end = tv_tail_data_end(seg, SEG, 960);
  assert_int_equal(end, 960 + len);
  assert_int_equal(tv_tail_count_records(seg, 960, end), 1);
  memset(seg, 0, sizeof seg);
  assert_int_equal(tv_tail_data_end(seg, SEG, 960), 960);
  assert_int_equal(tv_tail_count_records(seg, 960, 960), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_complete_record_with_a_flipped_byte_is_damage),
      cmocka_unit_test(test_file_ending_inside_is_torn),
      cmocka_unit_test(test_zero_tail_from_a_sector_boundary_is_torn),
      cmocka_unit_test(test_zero_tail_off_a_boundary_is_damage),
      cmocka_unit_test(test_short_zero_tail_is_damage),
      cmocka_unit_test(test_zero_sector_inside_is_torn),
      cmocka_unit_test(test_headers),
      cmocka_unit_test(test_data_end_and_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
