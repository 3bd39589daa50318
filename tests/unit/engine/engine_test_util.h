/* Shared by the engine tests: a fresh SoftHSM2 token and keyring (the
 * keyring tests' fixture), a store directory, and an engine with a few
 * namespaces, all under one temporary directory per test. */
#ifndef TV_TESTS_ENGINE_TEST_UTIL_H
#define TV_TESTS_ENGINE_TEST_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/unit/keyring/keyring_test_util.h"
#include "vault/engine/engine.h"

/* Namespaces every fixture configures:
 *   "pan"   PAN, FF1, convergent        "pan_nc" PAN, FF1, not convergent
 *   "iban"  IBAN, FF1, convergent       "ssn"    US SSN, FF1, not convergent
 *   "acct"  generic digits (10..16), random mode, convergent
 *   "gen"   generic digits, FF1, not convergent, default TTL 1 hour */
#define ENG_TEST_NS_NUM 6

typedef struct eng_fixture {
  kr_fixture *kr;
  char store_dir[PATH_MAX];
  tv_store *store;
  tv_engine *engine;
  uint64_t clock_offset_ms; /* added to the real clock: tests move time */
  tv_store_fault_fn store_fault; /* passed to the store at the next eng_open */
  void *store_fault_ctx;
} eng_fixture;

/* eng_fixture_new makes token, keyring (with the namespaces), store and
 * engine. Aborts the test on failure. */
eng_fixture *eng_fixture_new(void);

/* eng_fixture_free closes everything and deletes the directory. */
void eng_fixture_free(eng_fixture *fx);

/* eng_close / eng_open: close engine, store, keyring and HSM session;
 * open them again (as a restarted process would). */
void eng_close(eng_fixture *fx);
void eng_open(eng_fixture *fx);

/* eng_try_open is eng_open without test assertions (for forked children):
 * returns the first failure. */
tv_status eng_try_open(eng_fixture *fx);

/* eng_engine_new makes another engine over |store| with the fixture's
 * keyring, clock and namespaces (a second node sharing the keyring). */
tv_status eng_engine_new(eng_fixture *fx, tv_store *store, tv_engine **out);

int eng_setup(void **state);
int eng_teardown(void **state);

/* eng_check fails the test naming |what| and the status unless TV_OK. */
void eng_check(tv_status status, const char *what);

/* eng_pan writes a Luhn-valid 16-digit PAN built from |n| (BIN 411111). */
void eng_pan(char out[17], uint64_t n);

/* eng_tokenize1 tokenizes one value and returns the item (status inside). */
tv_tokenize_item eng_tokenize1(eng_fixture *fx, const char *ns, const char *value);

/* eng_detok1 detokenizes one token at |reveal| and returns the item. */
tv_detokenize_item eng_detok1(eng_fixture *fx, const char *ns, const char *token, tv_reveal reveal);

#endif
