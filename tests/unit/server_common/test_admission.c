/* Admission control: the budgets refuse the excess with a sentence that
 * says busy and retry, release returns exactly what was reserved, an idle
 * server admits one full call, the machine-derived defaults, and the wire
 * count of a request's items (tv_wire_count_items). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/server/common/admission.h"
#include "vault/service/limits.h"
#include "vault/server/common/wire_scan.h"

static void test_items_budget(void **state) {
  (void)state;
  tv_admission a;
  tv_admission_init(&a, (tv_admission_limits){.items_max = 2500, .bytes_max = 64u << 20});
  char err[256] = "";
  assert_int_equal(tv_admission_enter(&a, 1000, 100, 0, err, sizeof err), TV_OK);
  assert_int_equal(tv_admission_enter(&a, 1000, 100, 0, err, sizeof err), TV_OK);
  assert_int_equal(tv_admission_enter(&a, 1000, 100, 0, err, sizeof err), TV_E_SERVER_BUSY);
  assert_string_equal(err, "server busy: 2000 items in flight, limit 2500; retry with backoff");
  assert_int_equal(tv_admission_enter(&a, 500, 100, 0, err, sizeof err), TV_OK); /* exactly at the limit */
  assert_int_equal(tv_admission_enter(&a, 1, 1, 1, err, sizeof err), TV_OK);     /* forced: a stream message */
  uint64_t items = 0, bytes = 0;
  tv_admission_in_flight(&a, &items, &bytes);
  assert_int_equal(items, 2501);
  assert_int_equal(bytes, 301);
  tv_admission_leave(&a, 1000, 100);
  assert_int_equal(tv_admission_enter(&a, 1000, 100, 0, err, sizeof err), TV_E_SERVER_BUSY);
  tv_admission_leave(&a, 1, 1);
  assert_int_equal(tv_admission_enter(&a, 1000, 100, 0, err, sizeof err), TV_OK);
  tv_admission_leave(&a, 1000, 100);
  tv_admission_leave(&a, 1000, 100);
  tv_admission_leave(&a, 500, 100);
  tv_admission_in_flight(&a, &items, &bytes);
  assert_int_equal(items, 0);
  assert_int_equal(bytes, 0);
  tv_admission_cleanup(&a);
}

static void test_bytes_budget(void **state) {
  (void)state;
  tv_admission a;
  tv_admission_init(&a, (tv_admission_limits){.items_max = 100000, .bytes_max = 3000});
  char err[256] = "";
  assert_int_equal(tv_admission_enter(&a, 1, 2000, 0, err, sizeof err), TV_OK);
  assert_int_equal(tv_admission_enter(&a, 1, 2000, 0, err, sizeof err), TV_E_SERVER_BUSY);
  assert_string_equal(err, "server busy: 2000 request bytes in flight, limit 3000; retry with backoff");
  tv_admission_leave(&a, 1, 2000);
  /* Idle: one call is admitted whatever its size (the request limits bound it). */
  assert_int_equal(tv_admission_enter(&a, 1, 5000, 0, err, sizeof err), TV_OK);
  tv_admission_leave(&a, 1, 5000);
  tv_admission_cleanup(&a);
}

static void test_derived_limits(void **state) {
  (void)state;
  tv_admission_limits l = tv_admission_limits_derive(0, 0, 4, UINT64_C(8) << 30);
  assert_int_equal(l.items_max, 4 * TV_ADMISSION_ITEMS_PER_WORKER);
  assert_int_equal(l.bytes_max, (UINT64_C(8) << 30) / TV_ADMISSION_MEMORY_SHARE);
  l = tv_admission_limits_derive(0, 0, 2, UINT64_C(256) << 20); /* small machine: the floor */
  assert_int_equal(l.bytes_max, TV_ADMISSION_BYTES_MIN);
  l = tv_admission_limits_derive(0, 0, 16, UINT64_C(1) << 40); /* big machine: the cap */
  assert_int_equal(l.bytes_max, TV_ADMISSION_BYTES_MAX);
  l = tv_admission_limits_derive(20000, 5u << 20, 4, UINT64_C(8) << 30); /* configured values win */
  assert_int_equal(l.items_max, 20000);
  assert_int_equal(l.bytes_max, 5u << 20);
  l = tv_admission_limits_derive(10, 10, 4, 0); /* never below one full call */
  assert_int_equal(l.items_max, TV_REQUEST_ITEMS_MAX);
  assert_int_equal(l.bytes_max, TV_MESSAGE_BYTES_MAX);
}

static void test_wire_count(void **state) {
  (void)state;
  char *values[3] = {"4111111111111111", "", "5500000000000004"};
  Tokenvault__V1__TokenizeRequest req = TOKENVAULT__V1__TOKENIZE_REQUEST__INIT;
  req.namespace_ = "pan";
  req.n_values = 3;
  req.values = values;
  req.request_id = "r-1";
  size_t len = tokenvault__v1__tokenize_request__get_packed_size(&req);
  uint8_t *buf = malloc(len);
  assert_non_null(buf);
  tokenvault__v1__tokenize_request__pack(&req, buf);
  const ProtobufCMessageDescriptor *d = &tokenvault__v1__tokenize_request__descriptor;
  assert_int_equal(tv_wire_count_items(d, buf, len), 3); /* the empty value counts too */
  assert_int_equal(tv_wire_count_items(d, buf, len - 1), 2); /* truncated: stops, never overruns */
  assert_int_equal(tv_wire_count_items(d, NULL, 0), 0);
  const uint8_t garbage[] = {0xff, 0xff, 0xff};
  assert_int_equal(tv_wire_count_items(d, garbage, sizeof garbage), 0);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_items_budget),
      cmocka_unit_test(test_bytes_budget),
      cmocka_unit_test(test_derived_limits),
      cmocka_unit_test(test_wire_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
