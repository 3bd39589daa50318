/* The portable FF1: AES through OpenSSL EVP (which itself uses AES-NI when
 * it can, but pays its per-call overhead on every 16-byte block), with the
 * big-number rounds of ff1_generic.c. It runs on any CPU. */
#include <openssl/evp.h>

#include "vault/crypto/ff1_internal.h"

static const EVP_CIPHER *ecb_cipher_for(size_t key_len) {
  switch (key_len) {
    case 16:
      return EVP_aes_128_ecb();
    case 24:
      return EVP_aes_192_ecb();
    case 32:
      return EVP_aes_256_ecb();
    default:
      return NULL;
  }
}

tv_status ff1_openssl_key_init(ff1_key *key, const uint8_t *raw, size_t raw_len) {
  const EVP_CIPHER *cipher = ecb_cipher_for(raw_len);
  TV_ENSURE(cipher != NULL, TV_E_FF1_KEY_LENGTH);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  TV_ENSURE(ctx != NULL, TV_E_NO_MEMORY);
  if (EVP_EncryptInit_ex(ctx, cipher, NULL, raw, NULL) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return TV_E_CRYPTO_BACKEND;
  }
  key->evp_template = ctx;
  return TV_OK;
}

void ff1_openssl_key_cleanup(ff1_key *key) {
  /* EVP_CIPHER_CTX_free cleanses the expanded key before releasing it. */
  EVP_CIPHER_CTX_free(key->evp_template);
  key->evp_template = NULL;
}

static int evp_encrypt_block(const void *ctx, uint8_t block[AES_BLOCK_BYTES]) {
  int out_len = 0;
  /* The context is casted back from the call's own copy (see below). */
  EVP_CIPHER_CTX *evp = (EVP_CIPHER_CTX *)(uintptr_t)ctx;
  if (EVP_EncryptUpdate(evp, block, &out_len, block, AES_BLOCK_BYTES) != 1 ||
      out_len != (int)AES_BLOCK_BYTES) {
    return -1;
  }
  return 0;
}

tv_status ff1_openssl_crypt(const ff1_key *key, int decrypt, unsigned radix, const uint8_t *tweak,
                            size_t tweak_len, const uint8_t *in, size_t length, uint8_t *out) {
  /* An EVP context is not safe to share between threads: each call works
   * on its own copy of the key's template. */
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  TV_ENSURE(ctx != NULL, TV_E_NO_MEMORY);
  tv_status status = TV_E_CRYPTO_BACKEND;
  if (EVP_CIPHER_CTX_copy(ctx, key->evp_template) == 1) {
    ff1_cipher cipher = {.encrypt_block = evp_encrypt_block, .ctx = ctx};
    status = ff1_generic_crypt(&cipher, decrypt, radix, tweak, tweak_len, in, length, out);
  }
  EVP_CIPHER_CTX_free(ctx);
  return status;
}
