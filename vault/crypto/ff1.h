/* FF1 format-preserving encryption (NIST SP 800-38G).
 *
 * Works on numeral strings: arrays of bytes, each a numeral below the radix.
 * Mapping characters to numerals is the alphabet's job (format/alphabet.h).
 *
 * Two implementations sit behind this interface and pass the same vectors:
 *   FF1_IMPL_AESNI    AES-NI round instructions, key schedule expanded once,
 *                     CIPH(P) cached, numerals kept in 64-bit integers when
 *                     radix^ceil(n/2) < 2^64, interleaved batches;
 *   FF1_IMPL_VAES     the same, with the batch kernel's AES rounds on
 *                     256-bit VAES registers (two inputs per instruction);
 *   FF1_IMPL_OPENSSL  portable: AES through OpenSSL EVP, big-number
 *                     arithmetic for every length.
 * ff1_key_new picks the fastest one the CPU supports, once per process.
 *
 * Limits (anything outside gets its own tv_status, never a crash):
 *   radix 2..256; length such that radix^length >= 1,000,000 (the NIST
 *   domain floor) and length <= FF1_LENGTH_MAX; tweak 0..FF1_TWEAK_MAX bytes.
 *
 * Keys are immutable after ff1_key_new and may be shared by many threads.
 * No call allocates after ff1_key_new. */
#ifndef TV_CRYPTO_FF1_H
#define TV_CRYPTO_FF1_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

#define FF1_RADIX_MIN 2u
#define FF1_RADIX_MAX 256u
/* Longest input: 4096 numerals covers any CRM field (an e-mail local part
 * is at most 64) with a wide margin, and bounds stack use of the
 * big-number path to a few KiB. */
#define FF1_LENGTH_MAX 4096u
/* Longest tweak: namespaces, preserved characters and an attempt counter
 * fit easily; a bound keeps the per-call CBC-MAC prefix small. */
#define FF1_TWEAK_MAX 256u
/* radix^length must reach this (SP 800-38G Rev. 1 and its 2025 draft). */
#define FF1_DOMAIN_MIN 1000000u

typedef enum ff1_impl {
  FF1_IMPL_AUTO = 0,
  FF1_IMPL_AESNI = 1,
  FF1_IMPL_OPENSSL = 2,
  FF1_IMPL_VAES = 3, /* FF1_IMPL_AESNI whose batches use 256-bit VAES */
} ff1_impl;

typedef struct ff1_key ff1_key;

/* ff1_best_impl returns the implementation ff1_key_new uses on this CPU. */
ff1_impl ff1_best_impl(void);

/* ff1_impl_name returns "aesni", "vaes", "openssl" or "auto". */
const char *ff1_impl_name(ff1_impl impl);

/* ff1_impl_available returns 1 if |impl| can run on this CPU. */
int ff1_impl_available(ff1_impl impl);

/* ff1_key_new expands |key| (16, 24 or 32 bytes: AES-128/192/256) for
 * |impl| (FF1_IMPL_AUTO picks ff1_best_impl()). On success *out_key owns the
 * schedule in memory locked against swap and excluded from core dumps; the
 * caller releases it with ff1_key_free. The caller's |key| bytes are not
 * kept: wipe them when done. */
tv_status ff1_key_new(ff1_key **out_key, ff1_impl impl, const uint8_t *key, size_t key_len);

/* ff1_key_free wipes and releases |key|; accepts NULL. */
void ff1_key_free(ff1_key *key);

/* ff1_key_impl returns the implementation |key| was built for. */
ff1_impl ff1_key_impl(const ff1_key *key);

/* ff1_check_params returns TV_OK if (radix, length, tweak_len) is a valid
 * FF1 shape, otherwise the status naming the first problem. */
tv_status ff1_check_params(unsigned radix, size_t length, size_t tweak_len);

/* ff1_encrypt writes FF1.Encrypt(key, tweak, in) to |out| (|length|
 * numerals; |out| may equal |in|). Fails without writing |out| if a
 * parameter or a numeral is out of range. */
tv_status ff1_encrypt(const ff1_key *key, unsigned radix, const uint8_t *tweak, size_t tweak_len,
                      const uint8_t *in, size_t length, uint8_t *out);

/* ff1_decrypt is the inverse of ff1_encrypt, with the same contract. */
tv_status ff1_decrypt(const ff1_key *key, unsigned radix, const uint8_t *tweak, size_t tweak_len,
                      const uint8_t *in, size_t length, uint8_t *out);

/* One independent input of a batch. The caller fills every field but
 * |status|; ff1_*_batch sets |status| per item (one bad item does not stop
 * the others) and writes |out| only when it is TV_OK. */
typedef struct ff1_batch_item {
  const uint8_t *tweak;
  size_t tweak_len;
  const uint8_t *in;
  uint8_t *out;
  size_t length;
  tv_status status;
} ff1_batch_item;

/* ff1_encrypt_batch encrypts |count| items in radix |radix|, interleaving
 * independent items so the AES unit stays busy. Results equal ff1_encrypt
 * item by item. Consecutive items of the same length run together: sort a
 * large mixed batch by length for best speed. Returns TV_OK if every item
 * succeeded, otherwise the status of the first failed item. */
tv_status ff1_encrypt_batch(const ff1_key *key, unsigned radix, ff1_batch_item *items,
                            size_t count);

/* ff1_decrypt_batch is the inverse of ff1_encrypt_batch. */
tv_status ff1_decrypt_batch(const ff1_key *key, unsigned radix, ff1_batch_item *items,
                            size_t count);

#endif
