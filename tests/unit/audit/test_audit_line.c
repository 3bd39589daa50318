/* The line format: the strict parser and the entry formatter (no HSM). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vault/audit/audit_internal.h"
#include "vault/audit/line.h"
#include "vault/audit/text.h"

#define Z64 "0000000000000000000000000000000000000000000000000000000000000000"
#define Z32 "00000000000000000000000000000000"

static const char good_call[] =
    "{\"seq\":7,\"type\":\"call\",\"time_ms\":1764120000123,\"principal\":\"spiffe://crm\","
    "\"peer\":\"ipv4:10.0.0.5:5123\",\"method\":\"Detokenize\",\"ns\":\"pan\",\"items\":10,"
    "\"code\":0,\"outcome\":\"OK\",\"latency_us\":1234,\"request_id\":\"r-1\","
    "\"purpose\":\"chargeback \\\"x\\\" \\u0001 r\xc3\xa9sum\xc3\xa9\",\"prev\":\"" Z64
    "\",\"hash\":\"" Z64 "\"}";

static const char good_checkpoint[] =
    "{\"seq\":11,\"type\":\"checkpoint\",\"time_ms\":5,\"log\":\"" Z32
    "\",\"segment\":1,\"entries\":10,\"key\":\"tokenvault-mac-1\",\"prev\":\"" Z64
    "\",\"mac\":\"" Z64 "\",\"hash\":\"" Z64 "\"}";

/* A data call's line with the optional group: reveal, ok, failed. */
static const char good_counted_call[] =
    "{\"seq\":8,\"type\":\"call\",\"time_ms\":1764120000124,\"principal\":\"spiffe://crm\","
    "\"peer\":\"ipv4:10.0.0.5:5123\",\"method\":\"Detokenize\",\"ns\":\"pan\",\"items\":2,"
    "\"code\":0,\"outcome\":\"OK\",\"latency_us\":1234,\"request_id\":\"r-2\","
    "\"purpose\":\"refund\",\"reveal\":\"FULL\",\"ok\":1,\"failed\":\"not_found:1\",\"prev\":\"" Z64
    "\",\"hash\":\"" Z64 "\"}";

static tv_status parse(audit_line *out, const char *text, const char **why) {
  return audit_line_parse(out, why, text, strlen(text));
}

static void test_parses_every_type(void **state) {
  (void)state;
  audit_line l;
  const char *why = NULL;
  assert_int_equal(parse(&l, good_call, &why), TV_OK);
  assert_int_equal(l.type, AUDIT_LINE_CALL);
  assert_int_equal(l.seq, 7);
  assert_int_equal(l.time_ms, 1764120000123ull);
  assert_int_equal(l.hash_prefix_len, strstr(good_call, ",\"hash\"") - good_call);
  assert_int_equal(parse(&l, good_checkpoint, &why), TV_OK);
  assert_int_equal(l.type, AUDIT_LINE_CHECKPOINT);
  assert_int_equal(l.entries, 10);
  assert_int_equal(l.key.len, strlen("tokenvault-mac-1"));
  assert_memory_equal(good_checkpoint + l.key.off, "tokenvault-mac-1", l.key.len);
  assert_int_equal(l.mac_prefix_len, strstr(good_checkpoint, ",\"mac\"") - good_checkpoint);
  assert_string_equal(audit_line_type_name(AUDIT_LINE_ALERT), "alert");
}

/* Replaces the first |from| in the good call line by |to| and expects the
 * parser to refuse it. */
static void expect_refused(const char *from, const char *to) {
  char line[2048];
  const char *at = strstr(good_call, from);
  assert_non_null(at);
  size_t head = (size_t)(at - good_call);
  snprintf(line, sizeof line, "%.*s%s%s", (int)head, good_call, to, at + strlen(from));
  audit_line l;
  const char *why = NULL;
  assert_int_equal(audit_line_parse(&l, &why, line, strlen(line)), TV_E_AUDIT_MALFORMED);
  assert_non_null(why);
  print_message("%-24s -> %s\n", to, why);
}

static void test_refuses_everything_else(void **state) {
  (void)state;
  expect_refused("\"seq\":7", "\"seq\":07");                 /* leading zero */
  expect_refused("\"seq\":7", "\"seq\":-7");                 /* sign */
  expect_refused("\"seq\":7", "\"seq\":99999999999999999999"); /* > 2^64 */
  expect_refused("\"call\"", "\"calls\"");                   /* unknown type */
  expect_refused("\"items\":10,\"code\":0", "\"code\":0,\"items\":10"); /* key order */
  expect_refused("\"ns\":\"pan\",", "");                     /* missing key */
  expect_refused(Z64 "\",\"hash", "0" Z64 "\",\"hash");      /* hex too long */
  expect_refused("\"prev\":\"0", "\"prev\":\"A");            /* uppercase hex */
  expect_refused("\"prev\":\"00", "\"prev\":\"0");           /* hex too short */
  expect_refused("\"ns\":\"pan\"", "\"ns\":\"p\x01n\"");     /* raw control byte */
  expect_refused("\"ns\":\"pan\"", "\"ns\":\"p\\u0041n\"");  /* needless escape */
  expect_refused("\"ns\":\"pan\"", "\"ns\":\"p\\nn\"");      /* other escape */
  expect_refused("\"ns\":\"pan\"", "\"ns\":\"p\xc3n\"");     /* cut UTF-8 */
  expect_refused("\"ns\":\"pan\"", "\"ns\":\"p\xc0\xafn\""); /* overlong UTF-8 */
  expect_refused("\"ns\":\"pan\"", "\"ns\":\"\xed\xa0\x80\""); /* surrogate */
  expect_refused("\"ns\":\"pan\"", "\"ns\": \"pan\"");       /* whitespace */
  expect_refused("\"}", "\"} ");                             /* trailing bytes */
  expect_refused("\"}", "\"");                               /* no closing brace */
  expect_refused("{\"seq\"", "[\"seq\"");
  expect_refused("\"ns\":\"pan\"", "\"ns\":\"pan");          /* unterminated */
}

/* Replaces |from| in the counted call line by |to|: refused. */
static void expect_counted_refused(const char *from, const char *to) {
  char line[2048];
  const char *at = strstr(good_counted_call, from);
  assert_non_null(at);
  snprintf(line, sizeof line, "%.*s%s%s", (int)(at - good_counted_call), good_counted_call, to, at + strlen(from));
  audit_line l;
  const char *why = NULL;
  assert_int_equal(audit_line_parse(&l, &why, line, strlen(line)), TV_E_AUDIT_MALFORMED);
  print_message("%-24s -> %s\n", to, why);
}

/* Old lines (no group) and new ones (the whole group) both parse; a group
 * in part, out of order, or in another place does not. */
static void test_optional_count_group(void **state) {
  (void)state;
  audit_line l;
  const char *why = NULL;
  assert_int_equal(parse(&l, good_counted_call, &why), TV_OK);
  assert_int_equal(l.type, AUDIT_LINE_CALL);
  assert_int_equal(l.hash_prefix_len, strstr(good_counted_call, ",\"hash\"") - good_counted_call);
  assert_int_equal(parse(&l, good_call, &why), TV_OK);
  expect_counted_refused(",\"ok\":1", "");                         /* part of the group */
  expect_counted_refused(",\"failed\":\"not_found:1\"", "");
  expect_counted_refused("\"reveal\":\"FULL\",\"ok\":1", "\"ok\":1,\"reveal\":\"FULL\""); /* order */
  expect_counted_refused("\"ok\":1", "\"ok\":\"1\"");                 /* type */
  expect_counted_refused(",\"reveal\":\"FULL\"", "");                  /* first key gone */
  /* The group belongs to call lines only. */
  char alert[1024];
  snprintf(alert, sizeof alert,
           "{\"seq\":3,\"type\":\"alert\",\"time_ms\":1,\"alert\":\"a\",\"principal\":\"p\",\"peer\":\"x\","
           "\"method\":\"m\",\"ns\":\"n\",\"items\":1,\"limit\":1,\"request_id\":\"\",\"detail\":\"d\","
           "\"reveal\":\"FULL\",\"ok\":1,\"failed\":\"\",\"prev\":\"" Z64 "\",\"hash\":\"" Z64 "\"}");
  assert_int_equal(audit_line_parse(&l, &why, alert, strlen(alert)), TV_E_AUDIT_MALFORMED);
}

static void test_line_and_field_bounds(void **state) {
  (void)state;
  static char line[AUDIT_LINE_BYTES_MAX + 2];
  memset(line, 'a', sizeof line);
  audit_line l;
  const char *why = NULL;
  assert_int_equal(audit_line_parse(&l, &why, line, AUDIT_LINE_BYTES_MAX + 1),
                   TV_E_AUDIT_MALFORMED);
  assert_string_equal(why, "line too long");
  char field[AUDIT_FIELD_BYTES_MAX + 2];
  memset(field, 'x', sizeof field);
  field[AUDIT_FIELD_BYTES_MAX + 1] = '\0';
  char from_to[AUDIT_FIELD_BYTES_MAX + 16];
  snprintf(from_to, sizeof from_to, "\"%s\"", field);
  expect_refused("\"pan\"", from_to);
  field[AUDIT_FIELD_BYTES_MAX] = '\0'; /* exactly the limit is fine */
  char ok[2048];
  const char *at = strstr(good_call, "\"pan\"");
  snprintf(ok, sizeof ok, "%.*s\"%s\"%s", (int)(at - good_call), good_call, field, at + 5);
  assert_int_equal(audit_line_parse(&l, &why, ok, strlen(ok)), TV_OK);
}

static void test_escape_then_parse_round_trip(void **state) {
  (void)state;
  const char text[] = "a\"b\\c\x01\x1f\x7f d\xe2\x82\xac \xf0\x9f\x94\x92";
  char out[256];
  size_t pos = 0;
  assert_int_equal(audit_text_escape(out, &pos, sizeof out, text, sizeof text - 1), 0);
  out[pos] = '\0';
  assert_string_equal(out, "\"a\\\"b\\\\c\\u0001\\u001f\\u007f d\xe2\x82\xac \xf0\x9f\x94\x92\"");
  pos = 0;
  assert_int_equal(audit_text_escape(out, &pos, sizeof out, "\xff", 1), -1);
  pos = 0;
  assert_int_equal(audit_text_escape(out, &pos, 4, "abcdef", 6), -1); /* no room */
}

static void test_body_format(void **state) {
  (void)state;
  char body[AUDIT_BODY_BYTES_MAX];
  size_t len = 0;
  tv_audit_entry e = {.type = TV_AUDIT_ALERT, .time_ms = 42, .alert = "reveal_rate_exceeded",
                      .principal = "p", .items = 101, .limit = 100};
  assert_int_equal(audit_body_format(body, &len, &e), TV_OK);
  static const char want[] =
      "\"type\":\"alert\",\"time_ms\":42,\"alert\":\"reveal_rate_exceeded\","
      "\"principal\":\"p\",\"peer\":\"\",\"method\":\"\",\"ns\":\"\","
      "\"items\":101,\"limit\":100,\"request_id\":\"\",\"detail\":\"\"";
  assert_int_equal(len, sizeof want - 1);
  assert_memory_equal(body, want, sizeof want - 1);
  char longer[AUDIT_FIELD_BYTES_MAX + 2];
  memset(longer, 'p', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  tv_audit_entry bad = {.type = TV_AUDIT_CALL, .principal = longer};
  assert_int_equal(audit_body_format(body, &len, &bad), TV_E_AUDIT_ENTRY_INVALID);
  bad.principal = "bad \xc3 utf8";
  assert_int_equal(audit_body_format(body, &len, &bad), TV_E_AUDIT_ENTRY_INVALID);
  bad.principal = "ok";
  bad.type = (tv_audit_entry_type)9;
  assert_int_equal(audit_body_format(body, &len, &bad), TV_E_AUDIT_ENTRY_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parses_every_type),
      cmocka_unit_test(test_refuses_everything_else),
      cmocka_unit_test(test_optional_count_group),
      cmocka_unit_test(test_line_and_field_bounds),
      cmocka_unit_test(test_escape_then_parse_round_trip),
      cmocka_unit_test(test_body_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
