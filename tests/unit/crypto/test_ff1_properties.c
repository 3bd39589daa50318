/* Properties of FF1 that hold for any correct implementation: the two
 * implementations agree on random inputs (integer and big-number paths),
 * decrypt inverts encrypt, encryption is a bijection on a full 10^6
 * domain, batches equal single calls, and a key shared by threads gives
 * the same results as a key used alone. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/rand.h>

#include "tests/unit/crypto/ff1_test_util.h"

typedef struct random_case {
  uint8_t key[32];
  size_t key_len;
  uint8_t tweak[64];
  size_t tweak_len;
  unsigned radix;
  uint8_t in[600];
  size_t len;
} random_case;

static uint32_t rand_u32(void) {
  uint32_t x;
  assert_int_equal(RAND_bytes((uint8_t *)&x, sizeof x), 1);
  return x;
}

static size_t min_length(unsigned radix) {
  size_t len = 1;
  uint64_t domain = radix;
  while (domain < FF1_DOMAIN_MIN) {
    domain *= radix;
    len++;
  }
  return len < 2 ? 2 : len;
}

static void make_case(random_case *c, size_t len_max) {
  static const unsigned radixes[] = {2, 3, 7, 10, 16, 26, 36, 62, 64, 255, 256};
  c->key_len = 16u + 8u * (rand_u32() % 3u);
  assert_int_equal(RAND_bytes(c->key, sizeof c->key), 1);
  c->radix = radixes[rand_u32() % (sizeof radixes / sizeof radixes[0])];
  size_t lo = min_length(c->radix);
  c->len = lo + rand_u32() % (len_max - lo + 1u);
  c->tweak_len = rand_u32() % (sizeof c->tweak + 1u);
  assert_int_equal(RAND_bytes(c->tweak, sizeof c->tweak), 1);
  for (size_t i = 0; i < c->len; i++) {
    c->in[i] = (uint8_t)(rand_u32() % c->radix);
  }
}

static void test_implementations_agree(void **state) {
  (void)state;
  if (!test_impl_usable(FF1_IMPL_AESNI)) {
    return; /* remembered: the program exits 77 */
  }
  for (int trial = 0; trial < 3000; trial++) {
    random_case c;
    /* Mostly short inputs (the integer path), every tenth up to 600. */
    make_case(&c, trial % 10 == 0 ? sizeof c.in : 48);
    ff1_key *fast = NULL, *portable = NULL;
    assert_int_equal(ff1_key_new(&fast, FF1_IMPL_AESNI, c.key, c.key_len), TV_OK);
    assert_int_equal(ff1_key_new(&portable, FF1_IMPL_OPENSSL, c.key, c.key_len), TV_OK);
    uint8_t a[600], b[600], back[600];
    assert_int_equal(ff1_encrypt(fast, c.radix, c.tweak, c.tweak_len, c.in, c.len, a), TV_OK);
    assert_int_equal(ff1_encrypt(portable, c.radix, c.tweak, c.tweak_len, c.in, c.len, b), TV_OK);
    assert_memory_equal(a, b, c.len);
    assert_int_equal(ff1_decrypt(fast, c.radix, c.tweak, c.tweak_len, a, c.len, back), TV_OK);
    assert_memory_equal(back, c.in, c.len);
    assert_int_equal(ff1_decrypt(portable, c.radix, c.tweak, c.tweak_len, b, c.len, back), TV_OK);
    assert_memory_equal(back, c.in, c.len);
    ff1_key_free(fast);
    ff1_key_free(portable);
  }
}

/* Inputs right at the edge of the 64-bit integer path: radix^v just below
 * and just above 2^64, where a wrong bound would show. */
static void test_integer_path_edges(void **state) {
  (void)state;
  static const struct { unsigned radix; size_t len; } edges[] = {
      {10, 38}, {10, 39}, {10, 40}, {16, 30}, {16, 31}, {16, 32}, {16, 33},
      {2, 126}, {2, 127}, {2, 128}, {2, 129}, {256, 15}, {256, 16}, {256, 17}, {36, 24}, {36, 25},
  };
  uint8_t key[32] = {9};
  ff1_key *fast = NULL, *portable = NULL;
  assert_int_equal(ff1_key_new(&fast, FF1_IMPL_AUTO, key, 32), TV_OK);
  assert_int_equal(ff1_key_new(&portable, FF1_IMPL_OPENSSL, key, 32), TV_OK);
  for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
    for (int trial = 0; trial < 20; trial++) {
      uint8_t in[200], a[200], b[200];
      for (size_t i = 0; i < edges[e].len; i++) {
        /* Trial 0 is the all-maximum input, which stresses the carries. */
        in[i] = (uint8_t)(trial == 0 ? edges[e].radix - 1u : rand_u32() % edges[e].radix);
      }
      assert_int_equal(ff1_encrypt(fast, edges[e].radix, key, 5, in, edges[e].len, a), TV_OK);
      assert_int_equal(ff1_encrypt(portable, edges[e].radix, key, 5, in, edges[e].len, b), TV_OK);
      assert_memory_equal(a, b, edges[e].len);
      assert_int_equal(ff1_decrypt(fast, edges[e].radix, key, 5, a, edges[e].len, b), TV_OK);
      assert_memory_equal(b, in, edges[e].len);
    }
  }
  ff1_key_free(fast);
  ff1_key_free(portable);
}

static void test_longest_input_round_trips(void **state) {
  (void)state;
  static uint8_t in[FF1_LENGTH_MAX], out[FF1_LENGTH_MAX], back[FF1_LENGTH_MAX];
  uint8_t key[16] = {1};
  for (size_t i = 0; i < FF1_LENGTH_MAX; i++) {
    in[i] = (uint8_t)(rand_u32());
  }
  ff1_key *k = NULL;
  assert_int_equal(ff1_key_new(&k, FF1_IMPL_AUTO, key, 16), TV_OK);
  assert_int_equal(ff1_encrypt(k, 256, NULL, 0, in, FF1_LENGTH_MAX, out), TV_OK);
  assert_memory_not_equal(in, out, FF1_LENGTH_MAX);
  assert_int_equal(ff1_decrypt(k, 256, NULL, 0, out, FF1_LENGTH_MAX, back), TV_OK);
  assert_memory_equal(in, back, FF1_LENGTH_MAX);
  ff1_key_free(k);
}

static void index_to_digits(uint32_t x, uint8_t digits[6]) {
  for (int i = 5; i >= 0; i--) {
    digits[i] = (uint8_t)(x % 10u);
    x /= 10u;
  }
}

static uint32_t digits_to_index(const uint8_t digits[6]) {
  uint32_t x = 0;
  for (int i = 0; i < 6; i++) {
    x = x * 10u + digits[i];
  }
  return x;
}

/* All 10^6 six-digit inputs, through the batch API: every output is
 * distinct (a permutation) and decrypts back to its input. */
static void test_exhaustive_bijection(void **state) {
  (void)state;
  enum { DOMAIN = 1000000, CHUNK = 1000 };
  uint8_t key[32] = {0x42};
  uint8_t tweak[3] = {'p', 'a', 'n'};
  ff1_key *k = NULL;
  assert_int_equal(ff1_key_new(&k, FF1_IMPL_AUTO, key, 32), TV_OK);
  uint8_t *seen = calloc(DOMAIN, 1);
  assert_non_null(seen);
  static uint8_t in[CHUNK][6], out[CHUNK][6], back[CHUNK][6];
  ff1_batch_item items[CHUNK];
  for (uint32_t base = 0; base < DOMAIN; base += CHUNK) {
    for (uint32_t i = 0; i < CHUNK; i++) {
      index_to_digits(base + i, in[i]);
      items[i] = (ff1_batch_item){tweak, sizeof tweak, in[i], out[i], 6, TV_E_INTERNAL};
    }
    assert_int_equal(ff1_encrypt_batch(k, 10, items, CHUNK), TV_OK);
    for (uint32_t i = 0; i < CHUNK; i++) {
      uint32_t image = digits_to_index(out[i]);
      assert_int_equal(seen[image], 0);
      seen[image] = 1;
      items[i] = (ff1_batch_item){tweak, sizeof tweak, out[i], back[i], 6, TV_E_INTERNAL};
    }
    assert_int_equal(ff1_decrypt_batch(k, 10, items, CHUNK), TV_OK);
    for (uint32_t i = 0; i < CHUNK; i++) {
      assert_memory_equal(back[i], in[i], 6);
    }
  }
  free(seen);
  ff1_key_free(k);
}

/* A batch mixing lengths (integer and big-number), tweak lengths and
 * in-place items equals the same items encrypted one by one. */
static void test_batch_equals_single(void **state) {
  (void)state;
  enum { COUNT = 300 };
  static uint8_t in[COUNT][64], out[COUNT][64], single[64];
  static uint8_t tweaks[COUNT][20];
  ff1_batch_item items[COUNT];
  uint8_t key[24] = {7};
  for (size_t m = 0; m < TEST_IMPL_COUNT; m++) {
    if (!test_impl_usable(test_impls[m])) {
      print_message("%s not available on this CPU: not tested here\n", ff1_impl_name(test_impls[m]));
      continue;
    }
    ff1_key *k = NULL;
    assert_int_equal(ff1_key_new(&k, test_impls[m], key, 24), TV_OK);
    for (size_t i = 0; i < COUNT; i++) {
      /* Runs of equal lengths, as a sorted batch has, and odd ones out. */
      size_t len = (i / 13u) % 3u == 0 ? 16 : (i % 7u == 0 ? 45 : 6u + i % 5u);
      size_t tlen = (i / 29u) % 2u == 0 ? 4 : 20;
      assert_int_equal(RAND_bytes(tweaks[i], 20), 1);
      for (size_t j = 0; j < len; j++) {
        in[i][j] = (uint8_t)(rand_u32() % 10u);
      }
      items[i] = (ff1_batch_item){tweaks[i], tlen, in[i], out[i], len, TV_E_INTERNAL};
    }
    assert_int_equal(ff1_encrypt_batch(k, 10, items, COUNT), TV_OK);
    for (size_t i = 0; i < COUNT; i++) {
      assert_int_equal(items[i].status, TV_OK);
      assert_int_equal(ff1_encrypt(k, 10, tweaks[i], items[i].tweak_len, in[i], items[i].length,
                                   single),
                       TV_OK);
      assert_memory_equal(out[i], single, items[i].length);
      items[i].in = out[i]; /* decrypt in place */
    }
    assert_int_equal(ff1_decrypt_batch(k, 10, items, COUNT), TV_OK);
    for (size_t i = 0; i < COUNT; i++) {
      assert_memory_equal(out[i], in[i], items[i].length);
    }
    ff1_key_free(k);
  }
}

enum { THREADS = 4, THREAD_CASES = 400 };

typedef struct thread_job {
  const ff1_key *key;
  const uint8_t (*inputs)[40];
  const uint8_t (*expected)[40];
  int failures;
} thread_job;

static size_t case_length(size_t i) {
  return 6u + i % 33u; /* many shapes: exercises the shape cache slots */
}

static void *thread_main(void *arg) {
  thread_job *job = arg;
  for (int rep = 0; rep < 5; rep++) {
    for (size_t i = 0; i < THREAD_CASES; i++) {
      uint8_t out[40];
      size_t len = case_length(i);
      if (ff1_encrypt(job->key, 10, NULL, 0, job->inputs[i], len, out) != TV_OK ||
          memcmp(out, job->expected[i], len) != 0) {
        job->failures++;
      }
    }
  }
  return NULL;
}

static void test_shared_key_across_threads(void **state) {
  (void)state;
  static uint8_t inputs[THREAD_CASES][40], expected[THREAD_CASES][40];
  uint8_t key[16] = {3};
  ff1_key *reference = NULL, *shared = NULL;
  assert_int_equal(ff1_key_new(&reference, FF1_IMPL_OPENSSL, key, 16), TV_OK);
  assert_int_equal(ff1_key_new(&shared, FF1_IMPL_AUTO, key, 16), TV_OK);
  for (size_t i = 0; i < THREAD_CASES; i++) {
    for (size_t j = 0; j < case_length(i); j++) {
      inputs[i][j] = (uint8_t)(rand_u32() % 10u);
    }
    assert_int_equal(ff1_encrypt(reference, 10, NULL, 0, inputs[i], case_length(i), expected[i]),
                     TV_OK);
  }
  pthread_t threads[THREADS];
  thread_job jobs[THREADS];
  for (int t = 0; t < THREADS; t++) {
    jobs[t] = (thread_job){shared, (const uint8_t(*)[40])inputs, (const uint8_t(*)[40])expected, 0};
    assert_int_equal(pthread_create(&threads[t], NULL, thread_main, &jobs[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) {
    assert_int_equal(pthread_join(threads[t], NULL), 0);
    assert_int_equal(jobs[t].failures, 0);
  }
  ff1_key_free(reference);
  ff1_key_free(shared);
}

/* More shapes than the cache has slots and than its arena holds, used
 * twice over: results must not depend on what the cache remembers. */
static void test_many_shapes(void **state) {
  (void)state;
  uint8_t key[32] = {5}, tweak[FF1_TWEAK_MAX] = {0};
  ff1_key *fast = NULL, *portable = NULL;
  assert_int_equal(ff1_key_new(&fast, FF1_IMPL_AUTO, key, 32), TV_OK);
  assert_int_equal(ff1_key_new(&portable, FF1_IMPL_OPENSSL, key, 32), TV_OK);
  for (int pass = 0; pass < 2; pass++) {
    for (size_t tlen = 0; tlen <= FF1_TWEAK_MAX; tlen += 3) {
      for (size_t len = 6; len <= 12; len += 3) {
        uint8_t in[12], a[12], b[12];
        for (size_t i = 0; i < len; i++) {
          in[i] = (uint8_t)((tlen + i * 7u) % 10u);
        }
        assert_int_equal(ff1_encrypt(fast, 10, tweak, tlen, in, len, a), TV_OK);
        assert_int_equal(ff1_encrypt(portable, 10, tweak, tlen, in, len, b), TV_OK);
        assert_memory_equal(a, b, len);
      }
    }
  }
  ff1_key_free(fast);
  ff1_key_free(portable);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_implementations_agree),
      cmocka_unit_test(test_integer_path_edges),
      cmocka_unit_test(test_longest_input_round_trips),
      cmocka_unit_test(test_exhaustive_bijection),
      cmocka_unit_test(test_batch_equals_single),
      cmocka_unit_test(test_shared_key_across_threads),
      cmocka_unit_test(test_many_shapes),
  };
  return test_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
