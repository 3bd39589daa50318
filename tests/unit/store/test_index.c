/* Index: insert, lookup, replace, remove, hash collisions, growth, a
 * randomized comparison against a simple model, and readers running
 * while a writer thread mutates. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vault/store/index.h"

static tv_store_loc loc_of(uint64_t i) { return tv_loc_pack((uint32_t)(1 + i % 1000), 32 + (i / 1000) * 8, 160); }

static void test_location_packing(void **state) {
  (void)state;
  tv_store_loc l = tv_loc_pack(0xfffff, (1ull << 31) - 8, 65528);
  assert_int_equal(tv_loc_segment(l), 0xfffff);
  assert_true(tv_loc_offset(l) == (1ull << 31) - 8);
  assert_int_equal(tv_loc_len(l), 65528);
  l = tv_loc_pack(1, 32, 8);
  assert_true(l != 0);
  assert_int_equal(tv_loc_segment(l), 1);
  assert_true(tv_loc_offset(l) == 32);
  assert_int_equal(tv_loc_len(l), 8);
}

static void test_insert_lookup_remove(void **state) {
  (void)state;
  tv_index *idx;
  assert_int_equal(tv_index_new(0, 42, &idx), TV_OK);
  const uint8_t ns[] = "pan";
  uint64_t h1 = tv_index_token_hash(idx, ns, 3, (const uint8_t *)"4111000011112222", 16);
  uint64_t h2 = tv_index_token_hash(idx, ns, 3, (const uint8_t *)"4111000011112223", 16);
  assert_true(h1 != h2);
  /* The namespace/token split is part of the key. */
  assert_true(tv_index_token_hash(idx, (const uint8_t *)"ab", 2, (const uint8_t *)"c", 1) !=
              tv_index_token_hash(idx, (const uint8_t *)"a", 1, (const uint8_t *)"bc", 2));
  tv_store_loc out[4];
  assert_int_equal(tv_index_token_find(idx, h1, out, 4), 0);
  tv_index_write_begin(idx);
  assert_int_equal(tv_index_token_insert(idx, h1, loc_of(1)), TV_OK);
  assert_int_equal(tv_index_token_insert(idx, h2, loc_of(2)), TV_OK);
  tv_index_write_end(idx);
  assert_int_equal(tv_index_token_find(idx, h1, out, 4), 1);
  assert_true(out[0] == loc_of(1));
  tv_index_write_begin(idx);
  assert_int_equal(tv_index_token_replace(idx, h1, loc_of(1), loc_of(3)), 1);
  assert_int_equal(tv_index_token_replace(idx, h1, loc_of(1), loc_of(4)), 0); /* old loc gone */
  assert_int_equal(tv_index_token_remove(idx, h2, loc_of(1)), 0);              /* wrong loc */
  assert_int_equal(tv_index_token_remove(idx, h2, loc_of(2)), 1);
  tv_index_write_end(idx);
  assert_int_equal(tv_index_token_find(idx, h1, out, 4), 1);
  assert_true(out[0] == loc_of(3));
  assert_int_equal(tv_index_token_find(idx, h2, out, 4), 0);
  tv_index_stats st;
  tv_index_get_stats(idx, &st);
  assert_int_equal(st.tokens, 1);
  assert_int_equal(st.fingerprints, 0);
  tv_index_free(idx);
}

static void test_collisions_are_kept_apart(void **state) {
  (void)state;
  tv_index *idx;
  assert_int_equal(tv_index_new(0, 1, &idx), TV_OK);
  /* Ten entries with one hash (as if the 64-bit hash collided), mixed
   * with others: all are returned as candidates, each removable alone. */
  tv_index_write_begin(idx);
  for (uint64_t i = 0; i < 10; i++) {
    assert_int_equal(tv_index_fp_insert(idx, 777, loc_of(i)), TV_OK);
    assert_int_equal(tv_index_fp_insert(idx, 1000 + i, loc_of(100 + i)), TV_OK);
  }
  tv_index_write_end(idx);
  tv_store_loc out[16];
  assert_int_equal(tv_index_fp_find(idx, 777, out, 16), 10);
  assert_int_equal(tv_index_fp_find(idx, 777, out, 3), 10); /* count beyond out_max */
  tv_index_write_begin(idx);
  assert_int_equal(tv_index_fp_remove(idx, 777, loc_of(4)), 1);
  tv_index_write_end(idx);
  size_t n = tv_index_fp_find(idx, 777, out, 16);
  assert_int_equal(n, 9);
  for (size_t i = 0; i < n; i++) {
    assert_true(out[i] != loc_of(4));
  }
  for (uint64_t i = 0; i < 10; i++) {
    assert_int_equal(tv_index_fp_find(idx, 1000 + i, out, 16), 1);
  }
  tv_index_free(idx);
}

/* The model: a flat array of (hash, loc, live). Hashes are drawn from a
 * small range so probe runs overlap, wrap around and get deleted from. */
static void test_random_ops_match_model(void **state) {
  (void)state;
  enum { N = 6000 };
  static uint64_t hashes[N];
  static int live[N];
  tv_index *idx;
  assert_int_equal(tv_index_new(0, 9, &idx), TV_OK);
  srand(3);
  for (int step = 0; step < 60000; step++) {
    int i = rand() % N;
    tv_index_write_begin(idx);
    if (!live[i]) {
      hashes[i] = ((uint64_t)rand() << 33) ^ (uint64_t)(rand() % 64) * 0x0400000000000001ull;
      assert_int_equal(tv_index_token_insert(idx, hashes[i], loc_of((uint64_t)i)), TV_OK);
      live[i] = 1;
    } else {
      assert_int_equal(tv_index_token_remove(idx, hashes[i], loc_of((uint64_t)i)), 1);
      live[i] = 0;
    }
    tv_index_write_end(idx);
  }
  size_t count = 0;
  for (int i = 0; i < N; i++) {
    tv_store_loc out[8];
    size_t n = tv_index_token_find(idx, hashes[i], out, 8);
    int seen = 0;
    for (size_t j = 0; j < n && j < 8; j++) {
      seen |= out[j] == loc_of((uint64_t)i);
    }
    assert_int_equal(seen, live[i]);
    count += (size_t)live[i];
  }
  tv_index_stats st;
  tv_index_get_stats(idx, &st);
  assert_int_equal(st.tokens, count);
  tv_index_free(idx);
}

static void test_growth_and_bytes_per_token(void **state) {
  (void)state;
  tv_index *idx;
  assert_int_equal(tv_index_new(0, 5, &idx), TV_OK);
  enum { N = 200000 };
  tv_index_write_begin(idx);
  for (uint64_t i = 0; i < N; i++) {
    uint64_t h = i * 0x9E3779B97F4A7C15ull;
    assert_int_equal(tv_index_token_insert(idx, h, loc_of(i)), TV_OK);
    assert_int_equal(tv_index_fp_insert(idx, ~h, loc_of(i)), TV_OK);
  }
  tv_index_write_end(idx);
  for (uint64_t i = 0; i < N; i += 997) {
    tv_store_loc out[2];
    assert_int_equal(tv_index_token_find(idx, i * 0x9E3779B97F4A7C15ull, out, 2), 1);
    assert_true(out[0] == loc_of(i));
  }
  tv_index_stats st;
  tv_index_get_stats(idx, &st);
  assert_int_equal(st.tokens, N);
  /* 2 tables x 16 bytes at 53..80% load. */
  assert_in_range(st.bytes / N, 40, 64);
  tv_index_free(idx);
  /* Presized for the count: close to the 40-byte floor. */
  assert_int_equal(tv_index_new(N, 5, &idx), TV_OK);
  tv_index_get_stats(idx, &st);
  assert_in_range(st.bytes / N, 40, 41);
  tv_index_free(idx);
}

typedef struct race {
  tv_index *idx;
  atomic_int stop;
  atomic_long lookups;
  atomic_int errors;
} race;

enum { STABLE = 20000, CHURN = 20000 };

static uint64_t stable_hash(uint64_t i) { return (i + 1) * 0xD6E8FEB86659FD93ull; }

/* Readers must always find every stable key while the writer inserts,
 * replaces and removes others, growing the table several times. */
static void *reader_main(void *arg) {
  race *r = arg;
  uint64_t i = 0;
  while (!atomic_load(&r->stop)) {
    uint64_t k = i++ % STABLE;
    tv_store_loc out[2];
    size_t n = tv_index_token_find(r->idx, stable_hash(k), out, 2);
    if (n != 1 || out[0] != loc_of(k)) {
      atomic_fetch_add(&r->errors, 1);
    }
    atomic_fetch_add(&r->lookups, 1);
  }
  return NULL;
}

static void *writer_main(void *arg) {
  race *r = arg;
  for (int round = 0; round < 5; round++) {
    for (uint64_t i = 0; i < CHURN; i += 100) {
      tv_index_write_begin(r->idx);
      for (uint64_t j = i; j < i + 100; j++) {
        uint64_t h = (j + 1) * 0xA24BAED4963EE407ull + (uint64_t)round;
        tv_index_token_insert(r->idx, h, loc_of(STABLE + j));
        tv_index_token_replace(r->idx, h, loc_of(STABLE + j), loc_of(STABLE + j + 1));
      }
      tv_index_write_end(r->idx);
    }
    for (uint64_t i = 0; i < CHURN; i++) {
      uint64_t h = (i + 1) * 0xA24BAED4963EE407ull + (uint64_t)round;
      tv_index_write_begin(r->idx);
      tv_index_token_remove(r->idx, h, loc_of(STABLE + i + 1));
      tv_index_write_end(r->idx);
    }
  }
  atomic_store(&r->stop, 1);
  return NULL;
}

static void test_concurrent_readers_with_writer(void **state) {
  (void)state;
  race r = {0};
  assert_int_equal(tv_index_new(0, 77, &r.idx), TV_OK);
  tv_index_write_begin(r.idx);
  for (uint64_t i = 0; i < STABLE; i++) {
    assert_int_equal(tv_index_token_insert(r.idx, stable_hash(i), loc_of(i)), TV_OK);
  }
  tv_index_write_end(r.idx);
  pthread_t readers[3], writer;
  for (int i = 0; i < 3; i++) {
    pthread_create(&readers[i], NULL, reader_main, &r);
  }
  pthread_create(&writer, NULL, writer_main, &r);
  pthread_join(writer, NULL);
  for (int i = 0; i < 3; i++) {
    pthread_join(readers[i], NULL);
  }
  assert_int_equal(atomic_load(&r.errors), 0);
  assert_true(atomic_load(&r.lookups) > 1000);
  tv_index_stats st;
  tv_index_get_stats(r.idx, &st);
  assert_int_equal(st.tokens, STABLE);
  tv_index_free(r.idx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_location_packing),
      cmocka_unit_test(test_insert_lookup_remove),
      cmocka_unit_test(test_collisions_are_kept_apart),
      cmocka_unit_test(test_random_ops_match_model),
      cmocka_unit_test(test_growth_and_bytes_per_token),
      cmocka_unit_test(test_concurrent_readers_with_writer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
