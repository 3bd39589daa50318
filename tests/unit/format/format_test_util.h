/* Helpers shared by the format tests (cmocka). Everything is static
 * inline so each test program uses what it needs. */
#ifndef TV_TESTS_FORMAT_TEST_UTIL_H
#define TV_TESTS_FORMAT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/crypto/ff1.h"
#include "vault/format/format.h"

/* The fixed test key: bytes 0x00..0x1f (AES-256). */
static inline ff1_key *fmt_test_key(void) {
  uint8_t key[32];
  for (size_t i = 0; i < sizeof key; i++) {
    key[i] = (uint8_t)i;
  }
  ff1_key *k = NULL;
  assert_int_equal(ff1_key_new(&k, FF1_IMPL_AUTO, key, sizeof key), TV_OK);
  assert_non_null(k);
  return k;
}

/* A default, validated configuration of |kind| for namespace "test-ns". */
static inline void fmt_test_cfg(tv_format *cfg, tv_format_kind kind) {
  char why[256];
  assert_int_equal(format_config_init(cfg, kind, "test-ns"), TV_OK);
  assert_int_equal(format_config_validate(cfg, why, sizeof why), TV_OK);
  assert_string_equal(why, "");
}

static inline tv_status fmt_parse(const tv_format *cfg, const char *s, format_value *v) {
  return format_parse(cfg, s, strlen(s), v);
}

/* Asserts |token| has |input|'s length and the same characters wherever
 * |input| has one of |separators|, and no separator elsewhere. */
static inline void fmt_assert_same_shape(const char *input, const char *token,
                                         const char *separators) {
  assert_int_equal(strlen(input), strlen(token));
  for (size_t i = 0; input[i] != '\0'; i++) {
    int in_sep = strchr(separators, input[i]) != NULL;
    int tok_sep = strchr(separators, token[i]) != NULL;
    assert_int_equal(in_sep, tok_sep);
    if (in_sep) {
      assert_int_equal(input[i], token[i]);
    }
  }
}

/* Generates the candidates of attempts 0..|attempts|-1 of |input| (which
 * must parse) into |tokens| and checks the properties every format shares:
 * same shape, canonical differs from the input's, deterministic, tokens of
 * different attempts differ. Returns how many attempts gave a candidate. */
static inline size_t fmt_candidates(const tv_format *cfg, const ff1_key *key, const char *input,
                                    const char *separators, format_token *tokens,
                                    size_t attempts) {
  format_value v;
  assert_int_equal(fmt_parse(cfg, input, &v), TV_OK);
  size_t made = 0;
  for (uint32_t a = 0; a < attempts; a++) {
    format_token t;
    tv_status s = format_candidate(cfg, key, &v, a, &t);
    if (s == TV_E_FORMAT_CANDIDATE_REJECTED) {
      continue;
    }
    assert_int_equal(s, TV_OK);
    assert_int_equal(t.attempt, a);
    fmt_assert_same_shape(input, t.text, separators);
    assert_int_equal(t.canon_len, v.canon_len);
    assert_memory_not_equal(t.canon, v.canon, v.canon_len);
    format_token again;
    assert_int_equal(format_candidate(cfg, key, &v, a, &again), TV_OK);
    assert_string_equal(again.text, t.text);
    for (size_t i = 0; i < made; i++) {
      assert_string_not_equal(tokens[i].canon, t.canon);
    }
    tokens[made++] = t;
  }
  format_value_wipe(&v);
  return made;
}

#endif
