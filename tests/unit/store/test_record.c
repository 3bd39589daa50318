/* Record codec: round trips of every type, and every rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store_test_util.h"
#include "vault/store/crc32c.h"
#include "vault/store/cursor.h"
#include "vault/store/record.h"

static uint8_t buf[TV_STORE_RECORD_LEN_MAX + 64];

static size_t encode_put(uint64_t id, uint8_t type) {
  test_rec t;
  test_rec_make(&t, id, 3);
  tv_record r;
  memset(&r, 0, sizeof r);
  r.header.type = type;
  r.header.seq = 1000 + id;
  r.header.batch_index = 5;
  r.body.put = t.put;
  size_t len = 0;
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_OK);
  assert_int_equal(len, tv_record_encoded_len(&r));
  return len;
}

/* refresh_crc recomputes the CRC after a test edits a record, so the
 * check under test is the one that fires, not the CRC. */
static void refresh_crc(uint8_t *rec, size_t len) {
  uint32_t crc = tv_crc32c_extend(0, rec, 28);
  crc = tv_crc32c_extend(crc, rec + 32, len - 32);
  tv_put_le32(rec + 28, crc);
}

static void test_put_round_trip(void **state) {
  (void)state;
  for (uint64_t id = 0; id < 50; id++) {
    size_t len = encode_put(id, TV_RECORD_PUT);
    assert_int_equal(len % 8, 0);
    tv_record out;
    size_t out_len;
    assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_OK);
    assert_int_equal(out_len, len);
    assert_int_equal(out.header.type, TV_RECORD_PUT);
    assert_true(out.header.seq == 1000 + id);
    assert_int_equal(out.header.batch_index, 5);
    assert_int_equal(out.header.flags, 0);
    test_rec want;
    test_rec_make(&want, id, 3);
    assert_true(test_put_equal(&out.body.put, &want.put));
    /* Trailing bytes after the record are not its business. */
    memset(buf + len, 0x5a, 16);
    assert_int_equal(tv_record_decode(buf, len + 16, &out, &out_len), TV_OK);
    assert_int_equal(out_len, len);
  }
  /* A typical token put is about 150 bytes on disk. */
  size_t len = encode_put(7, TV_RECORD_REPUT);
  assert_in_range(len, 120, 200);
}

static void test_other_types_round_trip(void **state) {
  (void)state;
  tv_record r, out;
  size_t len, out_len;
  memset(&r, 0, sizeof r);
  r.header.type = TV_RECORD_DELETE;
  r.header.seq = 9;
  r.header.flags = TV_RECORD_FLAG_COMMIT;
  r.body.del = (tv_record_delete){(const uint8_t *)"iban", 4, (const uint8_t *)"DE00TOKEN", 9, 77};
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_OK);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_OK);
  assert_int_equal(out.header.flags, TV_RECORD_FLAG_COMMIT);
  assert_memory_equal(out.body.del.token, "DE00TOKEN", 9);
  assert_true(out.body.del.deleted_ms == 77);

  memset(&r, 0, sizeof r);
  r.header.type = TV_RECORD_SEGMENT_HEADER;
  r.body.segment = (tv_record_segment_header){42, 123, 1u << 20};
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_OK);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_OK);
  assert_int_equal(out.body.segment.segment_id, 42);
  assert_true(out.body.segment.segment_bytes == 1u << 20);

  memset(&r, 0, sizeof r);
  r.header.type = TV_RECORD_CHECKPOINT;
  r.body.checkpoint = (tv_record_checkpoint){5, 6};
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_OK);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_OK);
  assert_true(out.body.checkpoint.covered_seq == 6);

  /* Setting the commit flag afterwards keeps the record valid. */
  len = encode_put(1, TV_RECORD_PUT);
  tv_record_set_commit(buf, len);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_OK);
  assert_int_equal(out.header.flags, TV_RECORD_FLAG_COMMIT);
}

static void test_rejects_bad_magic_version_crc(void **state) {
  (void)state;
  tv_record out;
  size_t out_len;
  size_t len = encode_put(2, TV_RECORD_PUT);
  buf[0] ^= 1;
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_MAGIC);
  buf[0] ^= 1;
  buf[4] = 2;
  refresh_crc(buf, len);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_VERSION);
  len = encode_put(2, TV_RECORD_PUT);
  /* Any single flipped bit in header or payload is caught by the CRC. */
  for (size_t i = 6; i < len; i++) {
    if (i >= 8 && i < 12) {
      continue; /* payload_len: changes the framing, tested below */
    }
    for (int bit = 0; bit < 8; bit += 3) {
      buf[i] ^= (uint8_t)(1u << bit);
      tv_status st = tv_record_decode(buf, len, &out, &out_len);
      assert_int_equal(st, TV_E_STORE_RECORD_CRC);
      buf[i] ^= (uint8_t)(1u << bit);
    }
  }
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_OK);
}

static void test_rejects_truncation(void **state) {
  (void)state;
  tv_record out;
  size_t out_len;
  size_t len = encode_put(3, TV_RECORD_PUT);
  for (size_t cut = 0; cut < len; cut++) {
    tv_status st = tv_record_decode(buf, cut, &out, &out_len);
    assert_int_equal(st, TV_E_STORE_RECORD_TRUNCATED);
  }
}

static void test_rejects_bad_lengths(void **state) {
  (void)state;
  tv_record out;
  size_t out_len;
  size_t len = encode_put(4, TV_RECORD_PUT);
  /* payload_len beyond the limit: refused before anything is read. */
  tv_put_le32(buf + 8, TV_STORE_RECORD_PAYLOAD_LEN_MAX + 1);
  assert_int_equal(tv_record_decode(buf, sizeof buf, &out, &out_len), TV_E_STORE_RECORD_TOO_LARGE);
  tv_put_le32(buf + 8, 0xffffffffu);
  assert_int_equal(tv_record_decode(buf, sizeof buf, &out, &out_len), TV_E_STORE_RECORD_TOO_LARGE);
  tv_put_le32(buf + 8, 0);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_LENGTH);

  /* A ciphertext length pointing past the payload (CRC made valid). */
  len = encode_put(4, TV_RECORD_PUT);
  size_t ct_len_at = 32 + 1 + 3 + 1 + 16 + 16 + 4 + 12 + 8 + 8;
  buf[ct_len_at] = 0xff;
  buf[ct_len_at + 1] = 0x0f;
  refresh_crc(buf, len);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_LENGTH);

  /* A payload longer than its fields say (a hidden trailing byte). */
  tv_record r;
  memset(&r, 0, sizeof r);
  r.header.type = TV_RECORD_DELETE;
  r.body.del = (tv_record_delete){(const uint8_t *)"pan", 3, (const uint8_t *)"123456789", 9, 1};
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_OK);
  assert_int_equal(len, 56); /* 32 + 22, padded */
  tv_put_le32(buf + 8, 23);  /* claims one more byte; padding absorbs it */
  refresh_crc(buf, len);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_LENGTH);
}

static void test_rejects_type_flags_fields(void **state) {
  (void)state;
  tv_record out;
  size_t out_len;
  size_t len = encode_put(5, TV_RECORD_PUT);
  buf[5] = 99;
  refresh_crc(buf, len);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_TYPE);
  buf[5] = 0;
  refresh_crc(buf, len);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_TYPE);

  len = encode_put(5, TV_RECORD_PUT);
  buf[6] = 0x02; /* unknown flag */
  refresh_crc(buf, len);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_FIELD);

  len = encode_put(5, TV_RECORD_PUT);
  buf[24] = 1; /* reserved */
  refresh_crc(buf, len);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_FIELD);

  len = encode_put(5, TV_RECORD_PUT); /* ns_len 0 */
  buf[32] = 0;
  refresh_crc(buf, len);
  assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_FIELD);

  len = encode_put(5, TV_RECORD_PUT); /* padding must be zero */
  tv_record ok;
  size_t ok_len;
  assert_int_equal(tv_record_decode(buf, len, &ok, &ok_len), TV_OK);
  if (32 + ok.header.payload_len < len) {
    buf[len - 1] = 1;
    refresh_crc(buf, len);
    assert_int_equal(tv_record_decode(buf, len, &out, &out_len), TV_E_STORE_RECORD_FIELD);
  }
}

static void test_encode_refuses_out_of_range(void **state) {
  (void)state;
  test_rec t;
  test_rec_make(&t, 1, 1);
  tv_record r;
  memset(&r, 0, sizeof r);
  r.header.type = TV_RECORD_PUT;
  r.body.put = t.put;
  size_t len;
  static uint8_t big[TV_STORE_CIPHERTEXT_LEN_MAX + 1];
  r.body.put.ciphertext = big;
  r.body.put.ciphertext_len = sizeof big;
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_E_STORE_RECORD_FIELD);
  assert_int_equal(tv_record_encoded_len(&r), 0);
  r.body.put = t.put;
  r.body.put.ns_len = 0;
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_E_STORE_RECORD_FIELD);
  r.body.put = t.put;
  r.body.put.token_len = TV_STORE_TOKEN_LEN_MAX + 1;
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_E_STORE_RECORD_FIELD);
  r.body.put = t.put;
  assert_int_equal(tv_record_encode(&r, buf, 40, &len), TV_E_INVALID_ARGUMENT);
  r.header.type = 77;
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_E_STORE_RECORD_TYPE);
  r.header.type = TV_RECORD_PUT;
  r.header.flags = 0x8000;
  assert_int_equal(tv_record_encode(&r, buf, sizeof buf, &len), TV_E_STORE_RECORD_FIELD);
}

static void test_garbage_never_decodes(void **state) {
  (void)state;
  srand(11);
  tv_record out;
  size_t out_len;
  for (int round = 0; round < 20000; round++) {
    size_t len = (size_t)(rand() % 300);
    for (size_t i = 0; i < len; i++) {
      buf[i] = (uint8_t)rand();
    }
    if (round % 2 == 0 && len >= 8) { /* get past the magic check */
      tv_put_le32(buf, TV_RECORD_MAGIC);
      buf[4] = TV_RECORD_VERSION;
    }
    tv_status st = tv_record_decode(buf, len, &out, &out_len);
    assert_int_not_equal(st, TV_OK);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_round_trip),
      cmocka_unit_test(test_other_types_round_trip),
      cmocka_unit_test(test_rejects_bad_magic_version_crc),
      cmocka_unit_test(test_rejects_truncation),
      cmocka_unit_test(test_rejects_bad_lengths),
      cmocka_unit_test(test_rejects_type_flags_fields),
      cmocka_unit_test(test_encode_refuses_out_of_range),
      cmocka_unit_test(test_garbage_never_decodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
