/* Values at rest: a tampered ciphertext, or one moved to another token,
 * namespace or key version, fails authentication and is never revealed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"
#include "vault/engine/engine_internal.h"

/* Reads the live record of |token| (canonical) in |ns| into |*out|, whose
 * pointers refer into |buf|. */
static void read_record(eng_fixture *fx, const char *ns, const char *token, tv_store_buf *buf,
                        tv_store_item *out) {
  tv_store_key key = {(const uint8_t *)ns, strlen(ns), (const uint8_t *)token, strlen(token)};
  eng_check(tv_store_get_batch(fx->store, &key, 1, out, buf), "get");
  eng_check(out->status, "record");
}

/* Re-puts |src|'s stored fields under (ns, token) with |mutate| applied. */
static void reput_as(eng_fixture *fx, const tv_record_put *src, const char *ns, const char *token,
                     void (*mutate)(tv_record_put *, uint8_t *), int new_token) {
  uint8_t ct[TV_STORE_CIPHERTEXT_LEN_MAX];
  memcpy(ct, src->ciphertext, src->ciphertext_len);
  tv_record_put p = *src;
  p.ns = (const uint8_t *)ns;
  p.ns_len = strlen(ns);
  p.token = (const uint8_t *)token;
  p.token_len = strlen(token);
  p.ciphertext = ct;
  if (mutate != NULL) {
    mutate(&p, ct);
  }
  if (new_token) {
    eng_check(tv_store_put(fx->store, &p, NULL), "put");
  } else {
    eng_check(tv_store_reput(fx->store, &p, NULL), "reput");
  }
}

static void flip_ct(tv_record_put *p, uint8_t *ct) {
  (void)p;
  ct[0] ^= 1;
}
static void flip_tag(tv_record_put *p, uint8_t *ct) {
  (void)ct;
  p->tag[15] ^= 0x80;
}
static void flip_nonce(tv_record_put *p, uint8_t *ct) {
  (void)ct;
  p->nonce[3] ^= 0x10;
}
static void bump_version(tv_record_put *p, uint8_t *ct) {
  (void)ct;
  p->key_version = 2;
}

static void expect_decrypt_failure(eng_fixture *fx, const char *ns, const char *token) {
  for (int reveal = TV_REVEAL_MASKED; reveal <= TV_REVEAL_FULL; reveal++) {
    tv_detokenize_item d = eng_detok1(fx, ns, token, (tv_reveal)reveal);
    assert_int_equal(d.status, TV_E_ENGINE_DECRYPT);
    assert_int_equal(d.value_len, 0);
    assert_string_equal(d.value, "");
  }
}

static void test_tampered_fields(void **state) {
  eng_fixture *fx = *state;
  void (*mutations[])(tv_record_put *, uint8_t *) = {flip_ct, flip_tag, flip_nonce};
  for (size_t m = 0; m < 3; m++) {
    char pan[17];
    eng_pan(pan, 77 + m);
    tv_tokenize_item t = eng_tokenize1(fx, "pan_nc", pan);
    eng_check(t.status, "tokenize");
    tv_store_buf buf = {0};
    tv_store_item it;
    read_record(fx, "pan_nc", t.token, &buf, &it);
    reput_as(fx, &it.put, "pan_nc", t.token, mutations[m], 0);
    tv_store_buf_cleanup(&buf);
    expect_decrypt_failure(fx, "pan_nc", t.token);
    /* Existence is not a decryption: NONE still answers. */
    eng_check(eng_detok1(fx, "pan_nc", t.token, TV_REVEAL_NONE).status, "none");
  }
}

static void test_version_swap(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item t = eng_tokenize1(fx, "pan_nc", "4111111111111111");
  eng_check(t.status, "tokenize");
  kr_check(tv_keyring_rotate_data_key(fx->kr->kr, NULL, "pan_nc"), "rotate");
  tv_store_buf buf = {0};
  tv_store_item it;
  read_record(fx, "pan_nc", t.token, &buf, &it);
  reput_as(fx, &it.put, "pan_nc", t.token, bump_version, 0);
  tv_store_buf_cleanup(&buf);
  expect_decrypt_failure(fx, "pan_nc", t.token);
}

static void test_moved_ciphertext(void **state) {
  eng_fixture *fx = *state;
  tv_tokenize_item a = eng_tokenize1(fx, "pan_nc", "4111111111111111");
  tv_tokenize_item b = eng_tokenize1(fx, "pan_nc", "5555555555554444");
  eng_check(a.status, "a");
  eng_check(b.status, "b");
  tv_store_buf buf = {0};
  tv_store_item it;
  read_record(fx, "pan_nc", a.token, &buf, &it);
  /* a's ciphertext under b's token: must not reveal a's value as b's. */
  reput_as(fx, &it.put, "pan_nc", b.token, NULL, 0);
  expect_decrypt_failure(fx, "pan_nc", b.token);
  /* a's ciphertext moved to the same token in another namespace (one
   * that shares nothing but the token text). */
  reput_as(fx, &it.put, "pan", a.token, NULL, 1);
  tv_store_buf_cleanup(&buf);
  expect_decrypt_failure(fx, "pan", a.token);
  /* a itself is untouched. */
  tv_detokenize_item d = eng_detok1(fx, "pan_nc", a.token, TV_REVEAL_FULL);
  eng_check(d.status, "a intact");
  assert_string_equal(d.value, "4111111111111111");
}

static void test_plaintext_not_on_disk(void **state) {
  eng_fixture *fx = *state;
  const char *value = "GB82WEST12345698765432";
  tv_tokenize_item t = eng_tokenize1(fx, "iban", value);
  eng_check(t.status, "tokenize");
  assert_false(kr_tree_contains(fx->store_dir, (const uint8_t *)value, strlen(value)));
  assert_false(kr_tree_contains(fx->store_dir, (const uint8_t *)"12345698765432", 14));
  /* The token itself is stored (canonical form), as a control. */
  assert_true(kr_tree_contains(fx->store_dir, (const uint8_t *)t.token, t.token_len));
}

typedef struct nonce_set {
  uint8_t nonces[600][TV_RECORD_NONCE_LEN];
  size_t num;
} nonce_set;

static tv_status collect_nonce(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)loc;
  nonce_set *n = ctx;
  if (n->num < 600) {
    memcpy(n->nonces[n->num++], put->nonce, TV_RECORD_NONCE_LEN);
  }
  return TV_OK;
}

static void test_nonces_unique(void **state) {
  eng_fixture *fx = *state;
  static char pans[500][17];
  static tv_tokenize_item items[500];
  for (size_t i = 0; i < 500; i++) {
    eng_pan(pans[i], 3000 + i);
    items[i] = (tv_tokenize_item){.value = pans[i], .value_len = 16};
  }
  eng_check(tv_engine_tokenize(fx->engine, "pan_nc", items, 500), "tokenize");
  static nonce_set n;
  n.num = 0;
  eng_check(tv_store_scan(fx->store, collect_nonce, &n), "scan");
  assert_int_equal(n.num, 500);
  for (size_t i = 0; i < n.num; i++) {
    for (size_t j = 0; j < i; j++) {
      assert_memory_not_equal(n.nonces[i], n.nonces[j], TV_RECORD_NONCE_LEN);
    }
  }
}

/* A forked child must not draw the nonces its parent will use next (the
 * per-thread nonce pool is copied by fork). */
static void test_nonces_after_fork(void **state) {
  eng_fixture *fx = *state;
  (void)fx;
  engine_ns ns;
  memset(&ns, 0, sizeof ns);
  strcpy(ns.name, "pan");
  ns.name_len = 3;
  uint8_t key[TV_KEYRING_KEY_LEN] = {1, 2, 3};
  uint8_t ct[ENGINE_CT_LEN_MAX];
  tv_record_put parent_put;
  memset(&parent_put, 0, sizeof parent_put);
  eng_check(engine_seal(&ns, (const uint8_t *)"tok", 3, 1, key, (const uint8_t *)"value", 5, ct, &parent_put),
            "seal before fork");
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    tv_record_put p;
    memset(&p, 0, sizeof p);
    int ok = engine_seal(&ns, (const uint8_t *)"tok", 3, 1, key, (const uint8_t *)"value", 5, ct, &p) == TV_OK;
    ok = ok && write(fds[1], p.nonce, TV_RECORD_NONCE_LEN) == TV_RECORD_NONCE_LEN;
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  uint8_t child_nonce[TV_RECORD_NONCE_LEN];
  assert_int_equal(read(fds[0], child_nonce, sizeof child_nonce), (ssize_t)sizeof child_nonce);
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  tv_record_put next;
  memset(&next, 0, sizeof next);
  eng_check(engine_seal(&ns, (const uint8_t *)"tok", 3, 1, key, (const uint8_t *)"value", 5, ct, &next),
            "seal after fork");
  assert_memory_not_equal(child_nonce, next.nonce, TV_RECORD_NONCE_LEN);
  assert_memory_not_equal(parent_put.nonce, next.nonce, TV_RECORD_NONCE_LEN);
  /* And what was sealed opens again, with the right key only. */
  uint8_t pt[ENGINE_CT_LEN_MAX];
  size_t pt_len = 0;
  next.ns = (const uint8_t *)"pan";
  next.ns_len = 3;
  next.token = (const uint8_t *)"tok";
  next.token_len = 3;
  eng_check(engine_open(&next, key, pt, &pt_len), "open");
  assert_int_equal(pt_len, 5);
  assert_memory_equal(pt, "value", 5);
  key[0] ^= 1;
  assert_int_equal(engine_open(&next, key, pt, &pt_len), TV_E_ENGINE_DECRYPT);
  assert_int_equal(pt_len, 0);
  /* Dropping every cached key: the next use keys again from scratch. */
  key[0] ^= 1;
  engine_forget_keys();
  eng_check(engine_open(&next, key, pt, &pt_len), "open after forget");
  assert_memory_equal(pt, "value", 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_tampered_fields, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_version_swap, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_moved_ciphertext, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_plaintext_not_on_disk, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_nonces_unique, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_nonces_after_fork, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
