/* The transport-neutral call (vault/service/call_iface.h) over a fake
 * transport: every function lands in the transport's ops with the same
 * call, and tv_call_finish turns a tv_status into the canonical code and
 * the "NAME: detail" text the gRPC transport used to build itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/service/call_iface.h"

/* A transport's call object: the tv_call first, then its own state. */
typedef struct fake_call {
  tv_call base;
  tv_identity identity;
  int finishes;
  tv_code code;
  char details[256];
  const ProtobufCMessage *response;
  int sends;
  int closes_registered;
} fake_call;

static fake_call *fake_of(tv_call *c) { return (fake_call *)(void *)c; }

static const fake_call *fake_of_const(const tv_call *c) { return (const fake_call *)(const void *)c; }

static const tv_identity *fake_identity(const tv_call *c) { return &fake_of_const(c)->identity; }

static const tv_method *fake_method(const tv_call *c) {
  (void)c;
  return tv_method_get(TV_METHOD_TOKENIZE);
}

static const char *fake_peer(const tv_call *c) {
  (void)c;
  return "ipv4:127.0.0.1:1";
}

static int fake_is_cancelled(tv_call *c) {
  (void)c;
  return 1;
}

static int64_t fake_deadline_ms(const tv_call *c) {
  (void)c;
  return 1234;
}

static void fake_finish(tv_call *c, tv_code code, const char *details, const ProtobufCMessage *response) {
  fake_call *f = fake_of(c);
  f->finishes++;
  f->code = code;
  snprintf(f->details, sizeof f->details, "%s", details != NULL ? details : "(null)");
  f->response = response;
}

static tv_status fake_send(tv_call *c, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg) {
  (void)msg;
  fake_of(c)->sends++;
  if (on_sent != NULL) {
    on_sent(c, 1, arg);
  }
  return TV_OK;
}

static int fake_on_close(tv_call *c, tv_close_fn fn, void *arg) {
  (void)fn;
  (void)arg;
  fake_of(c)->closes_registered++;
  return 0;
}

static const tv_call_ops fake_ops = {fake_identity, fake_method,  fake_peer, fake_is_cancelled,
                                     fake_deadline_ms, fake_finish, fake_send, fake_on_close};

static void fake_init(fake_call *f) {
  memset(f, 0, sizeof *f);
  f->base.ops = &fake_ops;
  f->code = TV_CODE_UNKNOWN;
  snprintf(f->identity.principal, sizeof f->identity.principal, "spiffe://x/app");
}

static void test_queries_reach_the_transport(void **state) {
  (void)state;
  fake_call f;
  fake_init(&f);
  assert_string_equal(tv_call_identity(&f.base)->principal, "spiffe://x/app");
  assert_int_equal(tv_call_method(&f.base)->id, TV_METHOD_TOKENIZE);
  assert_string_equal(tv_call_peer(&f.base), "ipv4:127.0.0.1:1");
  assert_int_equal(tv_call_is_cancelled(&f.base), 1);
  assert_int_equal(tv_call_deadline_ms(&f.base), 1234);
  assert_int_equal(tv_call_on_close(&f.base, NULL, NULL), 0);
  assert_int_equal(f.closes_registered, 1);
}

static tv_call *sent_call;
static int sent_success;

static void on_sent(tv_call *call, int success, void *arg) {
  (void)arg;
  sent_call = call;
  sent_success = success;
}

static void test_send_passes_the_same_call(void **state) {
  (void)state;
  fake_call f;
  fake_init(&f);
  Tokenvault__V1__TokenizeResponse resp = TOKENVAULT__V1__TOKENIZE_RESPONSE__INIT;
  assert_int_equal(tv_call_send(&f.base, &resp.base, on_sent, NULL), TV_OK);
  assert_int_equal(f.sends, 1);
  assert_ptr_equal(sent_call, &f.base);
  assert_int_equal(sent_success, 1);
}

static void test_finish_ok_sends_the_response(void **state) {
  (void)state;
  fake_call f;
  fake_init(&f);
  Tokenvault__V1__TokenizeResponse resp = TOKENVAULT__V1__TOKENIZE_RESPONSE__INIT;
  tv_call_finish(&f.base, TV_OK, "ignored", &resp.base);
  assert_int_equal(f.finishes, 1);
  assert_int_equal(f.code, TV_CODE_OK);
  assert_string_equal(f.details, "(null)");
  assert_ptr_equal(f.response, &resp.base);
}

static void test_finish_failure_names_the_status(void **state) {
  (void)state;
  fake_call f;
  fake_init(&f);
  Tokenvault__V1__TokenizeResponse resp = TOKENVAULT__V1__TOKENIZE_RESPONSE__INIT;
  tv_call_finish(&f.base, TV_E_POLICY_DENIED, "principal 'a' lacks tokenize", &resp.base);
  assert_int_equal(f.code, TV_CODE_PERMISSION_DENIED);
  assert_string_equal(f.details, "POLICY_DENIED: principal 'a' lacks tokenize");
  assert_null(f.response); /* a failure never carries the answer */

  fake_init(&f);
  tv_call_finish(&f.base, TV_E_SERVER_UNIMPLEMENTED, NULL, NULL);
  assert_int_equal(f.code, TV_CODE_UNIMPLEMENTED);
  char want[256];
  snprintf(want, sizeof want, "SERVER_UNIMPLEMENTED: %s", tv_status_message(TV_E_SERVER_UNIMPLEMENTED));
  assert_string_equal(f.details, want);
}

static void test_finish_code_is_passed_as_given(void **state) {
  (void)state;
  fake_call f;
  fake_init(&f);
  tv_call_finish_code(&f.base, TV_CODE_UNAUTHENTICATED, "needs a client certificate", NULL);
  assert_int_equal(f.code, TV_CODE_UNAUTHENTICATED);
  assert_string_equal(f.details, "needs a client certificate");
  assert_string_equal(tv_code_name(TV_CODE_UNAUTHENTICATED), "UNAUTHENTICATED");
  assert_string_equal(tv_code_name(99), "UNKNOWN");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queries_reach_the_transport),
      cmocka_unit_test(test_send_passes_the_same_call),
      cmocka_unit_test(test_finish_ok_sends_the_response),
      cmocka_unit_test(test_finish_failure_names_the_status),
      cmocka_unit_test(test_finish_code_is_passed_as_given),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
