/* libtokenvault without a server: option and argument checks, code names,
 * and the retry policy (idempotent calls repeated with backoff on
 * UNAVAILABLE, tokenize only when the caller vouches for convergence),
 * measured against a loopback port nothing listens on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "client/c/lib/tokenvault.h"

/* Port 1 on loopback: connections are refused at once (no root service
 * listens there), so each attempt fails fast with UNAVAILABLE. */
#define CLOSED_TARGET "127.0.0.1:1"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_options_are_checked(void **state) {
  (void)state;
  tv_client *c = (tv_client *)(uintptr_t)1;
  tv_client_error err = {0};
  assert_int_equal(tv_client_new(&c, NULL, &err), TV_CLIENT_E_ARGUMENT);
  assert_null(c);
  tv_client_options o = {.target = ""};
  assert_int_equal(tv_client_new(&c, &o, &err), TV_CLIENT_E_ARGUMENT);
  assert_non_null(strstr(err.message, "target"));
  o = (tv_client_options){.target = CLOSED_TARGET, .insecure = 1, .ca_file = "ca.pem"};
  assert_int_equal(tv_client_new(&c, &o, &err), TV_CLIENT_E_ARGUMENT);
  o = (tv_client_options){.target = CLOSED_TARGET, .ca_file = "/nonexistent/ca.pem"};
  assert_int_equal(tv_client_new(&c, &o, &err), TV_CLIENT_E_TLS_FILES);
  assert_non_null(strstr(err.message, "/nonexistent/ca.pem"));
  o = (tv_client_options){.target = CLOSED_TARGET, .insecure = 1, .batch_items = 1001};
  assert_int_equal(tv_client_new(&c, &o, &err), TV_CLIENT_E_ARGUMENT);
  assert_null(c);
}

static void test_code_names(void **state) {
  (void)state;
  assert_string_equal(tv_client_code_name(TV_CLIENT_OK), "OK");
  assert_string_equal(tv_client_code_name(TV_CLIENT_UNAVAILABLE), "UNAVAILABLE");
  assert_string_equal(tv_client_code_name(TV_CLIENT_UNAUTHENTICATED), "UNAUTHENTICATED");
  assert_string_equal(tv_client_code_name(TV_CLIENT_E_TLS_FILES), "E_TLS_FILES");
  assert_string_equal(tv_client_code_name((tv_client_code)77), "E_UNKNOWN_CODE");
  assert_string_equal(tv_client_version(), "0.1.0");
}

static tv_client *dev_client_backoff(uint32_t retries, int retry_tokenize, uint32_t backoff_ms) {
  tv_client_options o = {.target = CLOSED_TARGET, .insecure = 1, .retries_max = retries,
                         .backoff_initial_ms = backoff_ms, .backoff_max_ms = backoff_ms + backoff_ms / 2,
                         .deadline_ms = 2000, .retry_tokenize = retry_tokenize};
  tv_client *c = NULL;
  tv_client_error err = {0};
  assert_int_equal(tv_client_new(&c, &o, &err), TV_CLIENT_OK);
  return c;
}

static tv_client *dev_client(uint32_t retries, int retry_tokenize) {
  return dev_client_backoff(retries, retry_tokenize, 100);
}

static void test_bad_arguments_fail_before_the_network(void **state) {
  (void)state;
  tv_client *c = dev_client(0, 0);
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  const char *one[] = {"4111111111111111"};
  const char *with_null[] = {"x", NULL};
  assert_int_equal(tv_client_tokenize(c, &r, "pan", one, 0, &err), TV_CLIENT_E_ARGUMENT);
  assert_int_equal(tv_client_tokenize(c, &r, "pan", one, 1001, &err), TV_CLIENT_E_ARGUMENT);
  assert_int_equal(tv_client_tokenize(c, &r, "pan", with_null, 2, &err), TV_CLIENT_E_ARGUMENT);
  assert_int_equal(tv_client_tokenize(c, &r, "", one, 1, &err), TV_CLIENT_E_ARGUMENT);
  assert_int_equal(tv_client_detokenize(c, &r, "pan", one, 1, (tv_client_reveal)0, NULL, &err),
                   TV_CLIENT_E_ARGUMENT);
  assert_int_equal(tv_client_audit_read(c, &r, 0, 0, NULL, NULL, &err), TV_CLIENT_E_ARGUMENT);
  tv_client_stream *s = NULL;
  assert_int_equal(tv_client_detokenize_stream_open(c, &s, "pan", (tv_client_reveal)9, NULL, &err),
                   TV_CLIENT_E_ARGUMENT);
  assert_null(r);
  assert_null(s);
  tv_client_result_free(NULL);
  tv_client_stream_free(NULL);
  tv_client_free(c);
}

/* Two retries with backoffs of 100 then 150 ms (capped): at least 250 ms. */
static void test_idempotent_calls_are_retried(void **state) {
  (void)state;
  tv_client *c = dev_client(2, 0);
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  const char *one[] = {"4111119999991111"};
  double start = now_ms();
  assert_int_equal(tv_client_detokenize(c, &r, "pan", one, 1, TV_CLIENT_REVEAL_NONE, NULL, &err),
                   TV_CLIENT_UNAVAILABLE);
  double took = now_ms() - start;
  assert_true(took >= 250.0);
  assert_non_null(strstr(err.message, "Detokenize: UNAVAILABLE"));
  assert_null(r);
  tv_client_free(c);
}

/* Tokenize is not repeated unless the caller says the namespace is
 * convergent. Behaviour, not speed: with a 30 s backoff a single retry
 * would take 30 s, so a call back within 15 s (a hang guard on a loaded
 * machine, not a speed claim) made no retry; a convergent one sleeps
 * through both backoffs (100 + 150 ms at least). */
static void test_tokenize_retried_only_when_convergent(void **state) {
  (void)state;
  const char *one[] = {"4111111111111111"};
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  tv_client *c = dev_client_backoff(2, 0, 30000);
  double start = now_ms();
  assert_int_equal(tv_client_tokenize(c, &r, "pan", one, 1, &err), TV_CLIENT_UNAVAILABLE);
  double once = now_ms() - start;
  tv_client_free(c);
  c = dev_client(2, 1);
  start = now_ms();
  assert_int_equal(tv_client_tokenize(c, &r, "pan", one, 1, &err), TV_CLIENT_UNAVAILABLE);
  double retried = now_ms() - start;
  tv_client_free(c);
  assert_true(once < 15000.0);
  assert_true(retried >= 250.0);
}

static void test_wipe(void **state) {
  (void)state;
  char secret[] = "4111111111111111";
  tv_client_wipe(secret, sizeof secret);
  for (size_t i = 0; i < sizeof secret; i++) assert_int_equal(secret[i], 0);
  tv_client_wipe(NULL, 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_are_checked),
      cmocka_unit_test(test_code_names),
      cmocka_unit_test(test_bad_arguments_fail_before_the_network),
      cmocka_unit_test(test_idempotent_calls_are_retried),
      cmocka_unit_test(test_tokenize_retried_only_when_convergent),
      cmocka_unit_test(test_wipe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
