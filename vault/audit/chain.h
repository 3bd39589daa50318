/* The hash chain and the checkpoint seal of the audit log: what is hashed,
 * what is MACed, and where the HSM remembers the latest checkpoint. */
#ifndef TV_AUDIT_CHAIN_H
#define TV_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "hsm/hsm.h"
#include "vault/audit/line.h"

/* "tv-audit-" + 32 hex digits of the log id, NUL. */
#define AUDIT_COUNTER_LABEL_MAX 48u

/* audit_chain_genesis sets |out| to the "prev" of a log's first entry:
 * SHA-256 of a domain string and the log id, so the chain of one log can
 * never be spliced onto another. Returns TV_E_CRYPTO_BACKEND on failure. */
tv_status audit_chain_genesis(uint8_t out[AUDIT_HASH_LEN],
                              const uint8_t log_id[AUDIT_LOG_ID_LEN]);

/* audit_chain_hash sets |out| to SHA-256 of the |prefix_len| bytes before
 * `,"hash":"` of a line. */
tv_status audit_chain_hash(uint8_t out[AUDIT_HASH_LEN], const char *prefix, size_t prefix_len);

/* audit_checkpoint_sign computes a checkpoint's MAC in the HSM over the
 * domain string and the |prefix_len| bytes before `,"mac":"`. Fails with the
 * HSM's status (TV_E_HSM_UNAVAILABLE, ...). */
tv_status audit_checkpoint_sign(tv_hsm *hsm, uint8_t out_mac[AUDIT_HASH_LEN],
                                const char *key_label, const char *prefix, size_t prefix_len);

/* audit_checkpoint_verify checks |mac| the same way. TV_OK if it matches,
 * TV_E_HSM_MAC_INVALID if not, another HSM status if it could not tell. */
tv_status audit_checkpoint_verify(tv_hsm *hsm, const char *key_label, const char *prefix,
                                  size_t prefix_len, const uint8_t mac[AUDIT_HASH_LEN]);

/* audit_counter_label writes the label of the HSM counter that holds the
 * sequence number of the log's latest checkpoint. */
void audit_counter_label(char out[AUDIT_COUNTER_LABEL_MAX],
                         const uint8_t log_id[AUDIT_LOG_ID_LEN]);

#endif
