/* Helpers shared by the store tests: a private temporary directory per
 * test, and deterministic token records derived from an integer id so any
 * record read back can be checked byte for byte. */
#ifndef TV_TESTS_STORE_TEST_UTIL_H
#define TV_TESTS_STORE_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vault/store/store.h"

/* test_tmpdir creates a fresh directory and writes its path to |out|. */
static inline void test_tmpdir(char *out, size_t out_len) {
  const char *base = getenv("TMPDIR");
  snprintf(out, out_len, "%s/tv_store_XXXXXX", base != NULL ? base : "/tmp");
  if (mkdtemp(out) == NULL) {
    perror("mkdtemp");
    abort();
  }
}

/* test_rmdir removes |dir| and everything in it (flat: the store has no
 * subdirectories). */
static inline void test_rmdir(const char *dir) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "could not remove %s\n", dir);
  }
}

/* A token record built from |id|: the buffers live in the struct. */
typedef struct test_rec {
  char token[32];
  uint8_t ciphertext[64];
  uint8_t metadata[8];
  tv_record_put put;
} test_rec;

static inline void test_rec_make(test_rec *t, uint64_t id, uint32_t key_version) {
  memset(t, 0, sizeof *t);
  int n = snprintf(t->token, sizeof t->token, "4111%012llu", (unsigned long long)id);
  for (size_t i = 0; i < sizeof t->ciphertext; i++) {
    t->ciphertext[i] = (uint8_t)(id * 31 + i * 7 + key_version);
  }
  memcpy(t->metadata, "meta", 4);
  t->put.ns = (const uint8_t *)"pan";
  t->put.ns_len = 3;
  t->put.token = (const uint8_t *)t->token;
  t->put.token_len = (size_t)n;
  for (int i = 0; i < 16; i++) {
    t->put.fingerprint[i] = (uint8_t)(id >> (8 * (i % 8))) ^ (uint8_t)i;
  }
  t->put.key_version = key_version;
  for (int i = 0; i < 12; i++) {
    t->put.nonce[i] = (uint8_t)(id + (uint64_t)i);
  }
  t->put.created_ms = 1700000000000ull + id;
  t->put.expires_ms = id % 3 == 0 ? 0 : 1800000000000ull;
  t->put.ciphertext = t->ciphertext;
  t->put.ciphertext_len = 40 + id % 24; /* ~150-byte records */
  for (int i = 0; i < 16; i++) {
    t->put.tag[i] = (uint8_t)(0xA0 + i + id);
  }
  t->put.metadata = t->metadata;
  t->put.metadata_len = 4;
}

static inline tv_store_key test_rec_key(const test_rec *t) {
  tv_store_key k = {t->put.ns, t->put.ns_len, t->put.token, t->put.token_len};
  return k;
}

/* test_put_equal returns 1 if |got| carries exactly the fields of |want|. */
static inline int test_put_equal(const tv_record_put *got, const tv_record_put *want) {
  return got->ns_len == want->ns_len && memcmp(got->ns, want->ns, got->ns_len) == 0 &&
         got->token_len == want->token_len && memcmp(got->token, want->token, got->token_len) == 0 &&
         memcmp(got->fingerprint, want->fingerprint, 16) == 0 && got->key_version == want->key_version &&
         memcmp(got->nonce, want->nonce, 12) == 0 && got->created_ms == want->created_ms &&
         got->expires_ms == want->expires_ms && got->ciphertext_len == want->ciphertext_len &&
         memcmp(got->ciphertext, want->ciphertext, got->ciphertext_len) == 0 &&
         memcmp(got->tag, want->tag, 16) == 0 && got->metadata_len == want->metadata_len &&
         memcmp(got->metadata, want->metadata, got->metadata_len) == 0;
}

/* test_store_options returns options for |dir| with small segments so
 * tests cross segment boundaries. */
static inline tv_store_options test_store_options(const char *dir, uint64_t segment_bytes) {
  tv_store_options o;
  memset(&o, 0, sizeof o);
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  return o;
}

/* test_check_ids reads ids [first, first+num) back with get_batch and
 * returns how many matched exactly. */
static inline size_t test_check_ids(tv_store *s, uint64_t first, size_t num, uint32_t key_version) {
  size_t ok = 0;
  tv_store_buf buf = {0};
  enum { CHUNK = 256 };
  test_rec *recs = calloc(CHUNK, sizeof *recs);
  tv_store_key keys[CHUNK];
  tv_store_item items[CHUNK];
  for (size_t base = 0; base < num; base += CHUNK) {
    size_t n = num - base < CHUNK ? num - base : CHUNK;
    for (size_t i = 0; i < n; i++) {
      test_rec_make(&recs[i], first + base + i, key_version);
      keys[i] = test_rec_key(&recs[i]);
    }
    if (tv_store_get_batch(s, keys, n, items, &buf) != TV_OK) {
      break;
    }
    for (size_t i = 0; i < n; i++) {
      ok += items[i].status == TV_OK && test_put_equal(&items[i].put, &recs[i].put);
    }
  }
  free(recs);
  tv_store_buf_cleanup(&buf);
  return ok;
}

#endif
