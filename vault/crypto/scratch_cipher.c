#include "vault/crypto/scratch_cipher.h"

#include <limits.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "vault/util/secure_mem.h"

struct tv_scratch_cipher {
  EVP_CIPHER_CTX *ctx;
  unsigned char key[32];
  unsigned char iv[16];
};

tv_status tv_scratch_cipher_rewind(tv_scratch_cipher *c) {
  TV_ENSURE(c != NULL, TV_E_INVALID_ARGUMENT);
  return EVP_CipherInit_ex(c->ctx, EVP_aes_256_ctr(), NULL, c->key, c->iv, 1) == 1 ? TV_OK : TV_E_CRYPTO_BACKEND;
}

tv_status tv_scratch_cipher_new(tv_scratch_cipher **out) {
  TV_ENSURE(out != NULL, TV_E_INVALID_ARGUMENT);
  *out = NULL;
  tv_scratch_cipher *c = calloc(1, sizeof *c);
  if (c == NULL) {
    return TV_E_NO_MEMORY;
  }
  c->ctx = EVP_CIPHER_CTX_new();
  tv_status st = c->ctx == NULL ? TV_E_NO_MEMORY : TV_OK;
  if (st == TV_OK && (RAND_bytes(c->key, sizeof c->key) != 1 || RAND_bytes(c->iv, sizeof c->iv) != 1)) {
    st = TV_E_CRYPTO_BACKEND;
  }
  if (st == TV_OK) {
    st = tv_scratch_cipher_rewind(c);
  }
  if (st != TV_OK) {
    tv_scratch_cipher_free(c);
    return st;
  }
  *out = c;
  return TV_OK;
}

tv_status tv_scratch_cipher_apply(tv_scratch_cipher *c, unsigned char *out, const unsigned char *in, size_t len) {
  TV_ENSURE(c != NULL && (len == 0 || (out != NULL && in != NULL)) && len <= INT_MAX, TV_E_INVALID_ARGUMENT);
  int out_len = 0;
  if (len > 0 && (EVP_CipherUpdate(c->ctx, out, &out_len, in, (int)len) != 1 || (size_t)out_len != len)) {
    return TV_E_CRYPTO_BACKEND;
  }
  return TV_OK;
}

void tv_scratch_cipher_free(tv_scratch_cipher *c) {
  if (c == NULL) {
    return;
  }
  EVP_CIPHER_CTX_free(c->ctx); /* OpenSSL clears the context's key schedule */
  tv_wipe(c, sizeof *c);
  free(c);
}
