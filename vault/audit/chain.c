#include "vault/audit/chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "vault/audit/audit_limits.h"
#include "vault/audit/text.h"

static const char genesis_domain[] = "tokenvault audit genesis v1";
/* Keeps an audit checkpoint MAC from ever being valid as another message
 * signed with the same HSM key (the keyring's MAC, for one). */
static const char checkpoint_domain[] = "tokenvault audit checkpoint v1\n";

static tv_status sha256_two(uint8_t out[AUDIT_HASH_LEN], const void *a, size_t a_len,
                            const void *b, size_t b_len) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  TV_ENSURE(ctx != NULL, TV_E_NO_MEMORY);
  unsigned int out_len = 0;
  int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
           EVP_DigestUpdate(ctx, a, a_len) == 1 && EVP_DigestUpdate(ctx, b, b_len) == 1 &&
           EVP_DigestFinal_ex(ctx, out, &out_len) == 1 && out_len == AUDIT_HASH_LEN;
  EVP_MD_CTX_free(ctx);
  return ok ? TV_OK : TV_E_CRYPTO_BACKEND;
}

tv_status audit_chain_genesis(uint8_t out[AUDIT_HASH_LEN],
                              const uint8_t log_id[AUDIT_LOG_ID_LEN]) {
  return sha256_two(out, genesis_domain, sizeof genesis_domain - 1, log_id, AUDIT_LOG_ID_LEN);
}

tv_status audit_chain_hash(uint8_t out[AUDIT_HASH_LEN], const char *prefix, size_t prefix_len) {
  return sha256_two(out, prefix, prefix_len, "", 0);
}

/* The MAC input: domain string then the line's prefix, in one buffer
 * because the HSM signs one contiguous message. */
static tv_status mac_input(uint8_t **out, size_t *out_len, const char *prefix,
                           size_t prefix_len) {
  TV_ENSURE(prefix_len <= AUDIT_LINE_BYTES_MAX, TV_E_INVALID_ARGUMENT);
  size_t len = sizeof checkpoint_domain - 1 + prefix_len;
  uint8_t *buf = malloc(len);
  TV_ENSURE(buf != NULL, TV_E_NO_MEMORY);
  memcpy(buf, checkpoint_domain, sizeof checkpoint_domain - 1);
  memcpy(buf + sizeof checkpoint_domain - 1, prefix, prefix_len);
  *out = buf;
  *out_len = len;
  return TV_OK;
}

tv_status audit_checkpoint_sign(tv_hsm *hsm, uint8_t out_mac[AUDIT_HASH_LEN],
                                const char *key_label, const char *prefix, size_t prefix_len) {
  uint8_t *data = NULL;
  size_t data_len = 0;
  TV_TRY(mac_input(&data, &data_len, prefix, prefix_len));
  tv_status status = tv_hsm_mac_sign(hsm, out_mac, key_label, data, data_len);
  free(data);
  return status;
}

tv_status audit_checkpoint_verify(tv_hsm *hsm, const char *key_label, const char *prefix,
                                  size_t prefix_len, const uint8_t mac[AUDIT_HASH_LEN]) {
  uint8_t *data = NULL;
  size_t data_len = 0;
  TV_TRY(mac_input(&data, &data_len, prefix, prefix_len));
  tv_status status = tv_hsm_mac_verify(hsm, key_label, data, data_len, mac, AUDIT_HASH_LEN);
  free(data);
  return status;
}

void audit_counter_label(char out[AUDIT_COUNTER_LABEL_MAX],
                         const uint8_t log_id[AUDIT_LOG_ID_LEN]) {
  char hex[2 * AUDIT_LOG_ID_LEN + 1];
  audit_hex_encode(hex, log_id, AUDIT_LOG_ID_LEN);
  hex[2 * AUDIT_LOG_ID_LEN] = '\0';
  snprintf(out, AUDIT_COUNTER_LABEL_MAX, "tv-audit-%s", hex);
}
