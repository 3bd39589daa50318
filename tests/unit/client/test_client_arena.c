/* The decode arena (client/c/lib/arena.c): allocations are aligned, do not
 * overlap, span chunks, and a whole 1,000-item answer decodes into it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/lib/client_internal.h"
#include "tokenvault/v1/tokenvault.pb-c.h"

#define ALLOCS 2000

static void test_allocations_aligned_and_disjoint(void **state) {
  (void)state;
  tvc_arena a;
  tvc_arena_init(&a, 0);
  static unsigned char *ptrs[ALLOCS];
  static size_t sizes[ALLOCS];
  for (size_t i = 0; i < ALLOCS; i++) {
    sizes[i] = i == 1000 ? 100000 : 1 + (i * 37) % 200; /* one larger than a chunk */
    ptrs[i] = a.allocator.alloc(a.allocator.allocator_data, sizes[i]);
    assert_non_null(ptrs[i]);
    assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
    memset(ptrs[i], (int)(i & 0xff), sizes[i]);
  }
  a.allocator.free(a.allocator.allocator_data, ptrs[5]); /* a no-op: still readable below */
  for (size_t i = 0; i < ALLOCS; i++) { /* a later allocation overwriting an earlier one shows here */
    for (size_t j = 0; j < sizes[i]; j++) assert_int_equal(ptrs[i][j], (unsigned char)(i & 0xff));
  }
  assert_non_null(a.chunks);
  tvc_arena_free(&a);
  assert_null(a.chunks);
  tvc_arena_free(&a); /* twice is safe */
}

static void test_answer_decodes_into_arena(void **state) {
  (void)state;
  enum { ITEMS = 1000 };
  Tokenvault__V1__TokenizeResponse resp = TOKENVAULT__V1__TOKENIZE_RESPONSE__INIT;
  Tokenvault__V1__TokenizeResult results[ITEMS], *ptrs[ITEMS];
  char tokens[ITEMS][24];
  for (size_t i = 0; i < ITEMS; i++) {
    tokenvault__v1__tokenize_result__init(&results[i]);
    snprintf(tokens[i], sizeof tokens[i], "tok-%06zu", i);
    results[i].token = tokens[i];
    ptrs[i] = &results[i];
  }
  resp.results = ptrs;
  resp.n_results = ITEMS;
  size_t len = protobuf_c_message_get_packed_size(&resp.base);
  uint8_t *wire = malloc(len);
  assert_non_null(wire);
  protobuf_c_message_pack(&resp.base, wire);
  tvc_arena a;
  tvc_arena_init(&a, 0);
  Tokenvault__V1__TokenizeResponse *got =
      (void *)protobuf_c_message_unpack(&tokenvault__v1__tokenize_response__descriptor, &a.allocator, len, wire);
  free(wire);
  assert_non_null(got);
  assert_int_equal(got->n_results, ITEMS);
  for (size_t i = 0; i < ITEMS; i++) assert_string_equal(got->results[i]->token, tokens[i]);
  assert_non_null(a.chunks);
  tvc_arena_free(&a); /* ASan reports any piece protobuf-c took from malloc instead */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allocations_aligned_and_disjoint),
      cmocka_unit_test(test_answer_decodes_into_arena),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
