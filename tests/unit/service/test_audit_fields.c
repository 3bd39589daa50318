/* ReadAudit's reader of audit lines: fields by key, escapes, bounds, and
 * garbage that must read as absent rather than overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/service/audit_fields.h"

static const char call_line[] =
    "{\"seq\":42,\"type\":\"call\",\"time_ms\":1700000000000,\"principal\":\"spiffe://crm\","
    "\"peer\":\"ipv4:127.0.0.1:5\",\"method\":\"Detokenize\",\"ns\":\"pan\",\"items\":3,\"code\":7,"
    "\"outcome\":\"POLICY_DENIED\",\"latency_us\":120,\"request_id\":\"r\\\"1\\\\x\\u0041\","
    "\"purpose\":\"\",\"prev\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\","
    "\"hash\":\"00\"}";

static const char counted_line[] =
    "{\"seq\":43,\"type\":\"call\",\"time_ms\":1700000000001,\"principal\":\"spiffe://finance\","
    "\"peer\":\"ipv4:127.0.0.1:5\",\"method\":\"Detokenize\",\"ns\":\"pan\",\"items\":2,\"code\":0,"
    "\"outcome\":\"OK\",\"latency_us\":120,\"request_id\":\"r-2\",\"purpose\":\"refund\","
    "\"reveal\":\"FULL\",\"ok\":1,\"failed\":\"not_found:1\","
    "\"prev\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\",\"hash\":\"00\"}";

/* A data call's entry: reason, reveal level and counts; an old line
 * without them reads as not counted. */
static void test_counted_row(void **state) {
  (void)state;
  tv_audit_row row;
  assert_true(tv_audit_row_parse(counted_line, strlen(counted_line), &row));
  assert_true(row.counted);
  assert_string_equal(row.reason, "refund");
  assert_string_equal(row.reveal, "FULL");
  assert_int_equal(row.items_ok, 1);
  assert_string_equal(row.failed, "not_found:1");
  assert_true(tv_audit_row_parse(call_line, strlen(call_line), &row));
  assert_false(row.counted);
  assert_string_equal(row.reveal, "");
  assert_string_equal(row.failed, "");
}

static void test_call_row(void **state) {
  (void)state;
  tv_audit_row row;
  assert_true(tv_audit_row_parse(call_line, strlen(call_line), &row));
  assert_false(row.alert);
  assert_int_equal(row.seq, 42);
  assert_int_equal(row.items, 3);
  assert_int_equal(row.code, 7);
  assert_int_equal(row.latency_us, 120);
  assert_string_equal(row.principal, "spiffe://crm");
  assert_string_equal(row.method, "Detokenize");
  assert_string_equal(row.outcome, "POLICY_DENIED");
  assert_string_equal(row.request_id, "r\"1\\xA");
  assert_int_equal(row.prev[31], 0x1f);
}

static void test_alert_row(void **state) {
  (void)state;
  static const char line[] =
      "{\"seq\":7,\"type\":\"alert\",\"time_ms\":1,\"alert\":\"reveal_rate_exceeded\",\"principal\":\"p\","
      "\"peer\":\"x\",\"method\":\"Detokenize\",\"ns\":\"pan\",\"items\":5,\"limit\":0,\"request_id\":\"\","
      "\"detail\":\"POLICY_RATE_LIMITED (role finance)\",\"prev\":\"zz\",\"hash\":\"00\"}";
  tv_audit_row row;
  assert_true(tv_audit_row_parse(line, strlen(line), &row));
  assert_true(row.alert);
  assert_string_equal(row.outcome, "reveal_rate_exceeded");
  assert_string_equal(row.detail, "POLICY_RATE_LIMITED (role finance)");
  assert_int_equal(row.prev[0], 0); /* a bad prev reads as zeros */
}

static void test_not_entries(void **state) {
  (void)state;
  tv_audit_row row;
  static const char seg[] = "{\"seq\":1,\"type\":\"segment\",\"time_ms\":1}";
  assert_false(tv_audit_row_parse(seg, strlen(seg), &row));
  assert_false(tv_audit_row_parse("", 0, &row));
  assert_false(tv_audit_row_parse("garbage", 7, &row));
  static const char noseq[] = "{\"type\":\"call\"}";
  assert_false(tv_audit_row_parse(noseq, strlen(noseq), &row));
}

static void test_bounds(void **state) {
  (void)state;
  char out[8];
  uint64_t v = 1;
  /* Cut inside the string: no closing quote within |len|. */
  assert_false(tv_audit_field_text(call_line, 60, "principal", out, sizeof out));
  assert_string_equal(out, "");
  /* Too long for the buffer. */
  assert_false(tv_audit_field_text(call_line, strlen(call_line), "principal", out, sizeof out));
  /* A key inside a value is not a key. */
  static const char tricky[] = "{\"seq\":1,\"principal\":\"a\\\",\\\"method\\\":\\\"X\",\"method\":\"Y\"}";
  char m[16];
  assert_true(tv_audit_field_text(tricky, strlen(tricky), "method", m, sizeof m));
  assert_string_equal(m, "Y");
  static const char big[] = "{\"seq\":99999999999999999999999}";
  assert_false(tv_audit_field_u64(big, strlen(big), "seq", &v));
  assert_int_equal(v, 0);
  static const char bad_escape[] = "{\"seq\":1,\"ns\":\"a\\q\"}";
  assert_false(tv_audit_field_text(bad_escape, strlen(bad_escape), "ns", m, sizeof m));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_call_row),
      cmocka_unit_test(test_counted_row),
      cmocka_unit_test(test_alert_row),
      cmocka_unit_test(test_not_entries),
      cmocka_unit_test(test_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
