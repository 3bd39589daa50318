/* The per-thread jansson arena (vault/server/http/json_arena.h): blocks of
 * a scope come from the thread's region and are wiped together at its
 * end; outside a scope, and beyond the region, blocks are malloc'ed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "vault/server/http/json_arena.h"
#include "vault/server/http/json_codec.h"

static const char secret[] = "4111111111111111";

/* A string made in a scope lives in the region, survives its own free
 * until the scope ends, and is zeros after it. */
static void test_scope_wipes_at_end(void **state) {
  (void)state;
  tv_json_use_wiping_allocator();
  tv_json_arena_begin();
  json_t *s = json_string(secret);
  assert_non_null(s);
  const char *text = json_string_value(s);
  assert_true(tv_json_arena_used() > sizeof secret);
  json_decref(s); /* no-op for the region: still readable here */
  assert_memory_equal(text, secret, sizeof secret);
  tv_json_arena_end();
  char zeros[sizeof secret] = {0};
  assert_memory_equal(text, zeros, sizeof secret); /* the region stays mapped for the thread */
  assert_int_equal(tv_json_arena_used(), 0);
}

/* Outside a scope jansson gets malloc (the region is not touched). */
static void test_outside_scope_is_malloc(void **state) {
  (void)state;
  tv_json_use_wiping_allocator();
  json_t *s = json_string(secret);
  assert_non_null(s);
  assert_int_equal(tv_json_arena_used(), 0);
  json_decref(s);
}

/* A block larger than the region falls back to malloc inside a scope. */
static void test_oversized_block_falls_back(void **state) {
  (void)state;
  tv_json_arena_begin();
  void *big = tv_json_arena_malloc(TV_JSON_ARENA_BYTES + 1);
  assert_non_null(big);
  assert_int_equal(tv_json_arena_used(), 0);
  memset(big, 'x', TV_JSON_ARENA_BYTES + 1);
  tv_json_arena_free(big);
  void *small = tv_json_arena_malloc(24);
  assert_non_null(small);
  assert_int_equal((uintptr_t)small % 16, 0);
  assert_int_equal(tv_json_arena_used(), 32);
  tv_json_arena_end();
}

/* Encoding and decoding run in scopes and leave none open. */
static void test_codec_leaves_no_scope(void **state) {
  (void)state;
  tv_request req;
  char err[200];
  const char body[] = "{\"namespace\":\"pan\",\"values\":[\"4111111111111111\"]}";
  assert_int_equal(tv_json_request_decode(&req, tv_method_get(TV_METHOD_TOKENIZE), body, sizeof body - 1, err,
                                          sizeof err),
                   TV_OK);
  assert_int_equal(tv_json_arena_used(), 0);
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(tv_json_message_encode(req.msg, &text, &len), TV_OK);
  assert_int_equal(tv_json_arena_used(), 0);
  assert_int_equal(strlen(text), len);
  assert_non_null(strstr(text, "\"values\":[\"4111111111111111\"]"));
  tv_json_text_free(text);
  tv_request_cleanup(&req);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scope_wipes_at_end),
      cmocka_unit_test(test_outside_scope_is_malloc),
      cmocka_unit_test(test_oversized_block_falls_back),
      cmocka_unit_test(test_codec_leaves_no_scope),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
