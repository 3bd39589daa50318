/* The principal rule both transports share (vault/service/cert_principal.h):
 * URI, else DNS, else the CN only without SANs; refusals named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "vault/service/cert_principal.h"

static void add(tv_cert_names *n, tv_cert_name_kind kind, const char *value) {
  tv_cert_names_add(n, kind, value, strlen(value));
}

static void test_uri_first(void **state) {
  (void)state;
  tv_cert_names n = {0};
  add(&n, TV_CERT_NAME_CN, "cn.example.org");
  add(&n, TV_CERT_NAME_DNS, "dns.example.org");
  add(&n, TV_CERT_NAME_URI, "spiffe://example.org/crm");
  add(&n, TV_CERT_NAME_OTHER_SAN, "127.0.0.1");
  tv_identity id;
  tv_cert_principal(&n, &id);
  assert_true(id.authenticated);
  assert_string_equal(id.principal, "spiffe://example.org/crm");
  assert_string_equal(id.source, "san_uri");
  assert_string_equal(id.refusal, "");
}

static void test_dns_then_cn(void **state) {
  (void)state;
  tv_cert_names n = {0};
  add(&n, TV_CERT_NAME_DNS, "a.example.org");
  add(&n, TV_CERT_NAME_DNS, "a.example.org"); /* the same name twice is one name */
  add(&n, TV_CERT_NAME_CN, "cn.example.org");
  tv_identity id;
  tv_cert_principal(&n, &id);
  assert_true(id.authenticated);
  assert_string_equal(id.principal, "a.example.org");
  assert_string_equal(id.source, "san_dns");
  tv_cert_names cn_only = {0};
  add(&cn_only, TV_CERT_NAME_CN, "siem.example.org");
  tv_cert_principal(&cn_only, &id);
  assert_true(id.authenticated);
  assert_string_equal(id.principal, "siem.example.org");
  assert_string_equal(id.source, "cn");
}

static void assert_refused(const tv_cert_names *n, const char *needle) {
  tv_identity id;
  tv_cert_principal(n, &id);
  assert_false(id.authenticated);
  assert_string_equal(id.principal, "");
  assert_string_equal(id.source, "refused");
  assert_non_null(strstr(id.refusal, needle));
}

static void test_refusals(void **state) {
  (void)state;
  tv_cert_names two = {0};
  add(&two, TV_CERT_NAME_URI, "spiffe://example.org/crm");
  add(&two, TV_CERT_NAME_URI, "spiffe://example.org/settlement");
  assert_refused(&two, "more than one principal");
  tv_cert_names other = {0};
  add(&other, TV_CERT_NAME_OTHER_SAN, "siem@example.org");
  add(&other, TV_CERT_NAME_CN, "siem.example.org");
  assert_refused(&other, "the CN is not used when SANs are present");
  tv_cert_names control = {0};
  tv_cert_names_add(&control, TV_CERT_NAME_URI, "spiffe://a\0b", 12); /* an embedded NUL is never cut short */
  assert_refused(&control, "control characters");
  char long_name[TV_PRINCIPAL_BYTES_MAX + 2];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  tv_cert_names too_long = {0};
  add(&too_long, TV_CERT_NAME_DNS, long_name);
  assert_refused(&too_long, "too long");
}

static void test_no_names(void **state) {
  (void)state;
  tv_cert_names none = {0};
  tv_identity id;
  memset(&id, 0x55, sizeof id);
  tv_cert_principal(&none, &id);
  assert_false(id.authenticated);
  assert_string_equal(id.principal, "");
  assert_string_equal(id.source, "none");
  assert_string_equal(id.refusal, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_uri_first), cmocka_unit_test(test_dns_then_cn),
                                     cmocka_unit_test(test_refusals), cmocka_unit_test(test_no_names)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
