/* Data-key rotation while other threads encrypt and decrypt through the
 * keyring's lookups (AES-256-GCM via OpenSSL, as the engine will): no
 * failure, and every value written under an older version still decrypts. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/keyring/keyring_test_util.h"

#define WORKERS 4
#define ROTATIONS 12
#define SAVED_MAX 4096

typedef struct sealed {
  uint32_t version;
  uint8_t nonce[12];
  uint8_t plain[24];
  uint8_t cipher[24];
  uint8_t tag[16];
} sealed;

typedef struct worker {
  tv_keyring *kr;
  _Atomic int *stop;
  sealed saved[SAVED_MAX];
  size_t num_saved;
  unsigned long encrypted;
  unsigned long decrypted;
  unsigned long failures;
  uint32_t versions_seen_max;
} worker;

/* AAD binds namespace and key version, as the store's records will. */
static int gcm(int enc, const uint8_t *key, uint32_t version, const uint8_t nonce[12],
               const uint8_t *in, uint8_t *out, uint8_t tag[16]) {
  uint8_t aad[8] = {'p', 'a', 'n', 0, (uint8_t)(version >> 24), (uint8_t)(version >> 16),
                    (uint8_t)(version >> 8), (uint8_t)version};
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  int ok = ctx != NULL && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
           EVP_CipherUpdate(ctx, NULL, &len, aad, sizeof aad) == 1 &&
           (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1) &&
           EVP_CipherUpdate(ctx, out, &len, in, 24) == 1 &&
           EVP_CipherFinal_ex(ctx, out + len, &len) == 1 &&
           (!enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

static int seal_one(worker *w, sealed *s) {
  tv_keyring_keys keys;
  if (tv_keyring_reserve(w->kr, &keys, NULL, "pan", 1) != TV_OK) {
    return 0;
  }
  s->version = keys.version;
  w->versions_seen_max = keys.version > w->versions_seen_max ? keys.version : w->versions_seen_max;
  return RAND_bytes(s->nonce, 12) == 1 && RAND_bytes(s->plain, 24) == 1 &&
         gcm(1, keys.value_key, s->version, s->nonce, s->plain, s->cipher, s->tag);
}

static int open_one(tv_keyring *kr, sealed *s) {
  tv_keyring_keys keys;
  uint8_t out[24];
  return tv_keyring_version(kr, &keys, "pan", s->version) == TV_OK &&
         keys.version == s->version &&
         gcm(0, keys.value_key, s->version, s->nonce, s->cipher, out, s->tag) &&
         memcmp(out, s->plain, 24) == 0;
}

static void *work(void *arg) {
  worker *w = arg;
  unsigned pick = 12345;
  while (!atomic_load(w->stop)) {
    sealed s;
    if (!seal_one(w, &s)) {
      w->failures++;
      continue;
    }
    w->encrypted++;
    if (w->num_saved < SAVED_MAX) {
      w->saved[w->num_saved++] = s;
    } else {
      w->saved[pick % SAVED_MAX] = s;
    }
    pick = pick * 1103515245u + 12345u;
    if (!open_one(w->kr, &w->saved[pick % w->num_saved])) {
      w->failures++;
    }
    w->decrypted++;
  }
  return NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_rotation_under_load(void **state) {
  kr_fixture *fx = *state;
  kr_check(tv_keyring_add_namespace(fx->kr, "pan"), "add");
  _Atomic int stop = 0;
  worker *workers = calloc(WORKERS, sizeof *workers);
  assert_non_null(workers);
  pthread_t threads[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    workers[i].kr = fx->kr;
    workers[i].stop = &stop;
    assert_int_equal(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
  }
  for (int r = 0; r < ROTATIONS; r++) {
    sleep_ms(20);
    kr_check(tv_keyring_rotate_data_key(fx->kr, NULL, "pan"), "rotate under load");
  }
  sleep_ms(20);
  atomic_store(&stop, 1);
  unsigned long encrypted = 0;
  uint32_t seen = 0;
  for (int i = 0; i < WORKERS; i++) {
    assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(workers[i].failures, 0);
    encrypted += workers[i].encrypted;
    seen = workers[i].versions_seen_max > seen ? workers[i].versions_seen_max : seen;
  }
  assert_true(encrypted > 100);
  assert_int_equal(seen, ROTATIONS + 1); /* new writes moved to the new version at once */
  /* Everything kept, from every version, still decrypts; after a restart too. */
  kr_reopen(fx);
  size_t checked = 0;
  for (int i = 0; i < WORKERS; i++) {
    for (size_t j = 0; j < workers[i].num_saved; j++) {
      assert_true(open_one(fx->kr, &workers[i].saved[j]));
      checked++;
    }
  }
  assert_true(checked > 100);
  tv_keyring_version_info infos[ROTATIONS + 1];
  size_t count = 0;
  kr_check(tv_keyring_list_versions(fx->kr, infos, &count, ROTATIONS + 1, "pan"), "list");
  assert_int_equal(count, ROTATIONS + 1);
  for (size_t i = 0; i < count; i++) {
    assert_int_equal(infos[i].state, i + 1 < count ? TV_KEY_DECRYPT_ONLY : TV_KEY_ACTIVE);
  }
  free(workers);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rotation_under_load, kr_setup, kr_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
