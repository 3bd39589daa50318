#ifndef TV_CRYPTO_SCRATCH_CIPHER_H
#define TV_CRYPTO_SCRATCH_CIPHER_H

#include <stddef.h>

#include "vault/util/status.h"

/* A throwaway cipher for bytes that may touch a disk only as ciphertext
 * and only while one in-memory object lives (an HTTP stream's spooled
 * body): AES-256-CTR under a key and counter start drawn at random,
 * which never leave this object. Nothing encrypted with it can be read
 * once it is freed, which is the point. No integrity: the file it
 * protects is unnamed and private to the process. */
typedef struct tv_scratch_cipher tv_scratch_cipher;

/* tv_scratch_cipher_new draws a fresh key and counter start, positioned
 * at the start of the key stream. TV_E_CRYPTO_BACKEND if OpenSSL fails. */
tv_status tv_scratch_cipher_new(tv_scratch_cipher **out);

/* tv_scratch_cipher_apply XORs the next |len| bytes of the key stream
 * into |in|, writing |out| (which may be |in|): the same call encrypts
 * and, after a rewind, decrypts. */
tv_status tv_scratch_cipher_apply(tv_scratch_cipher *c, unsigned char *out, const unsigned char *in, size_t len);

/* tv_scratch_cipher_rewind goes back to the start of the key stream (to
 * read back what was written from its first byte). */
tv_status tv_scratch_cipher_rewind(tv_scratch_cipher *c);

/* tv_scratch_cipher_free wipes the key; accepts NULL. */
void tv_scratch_cipher_free(tv_scratch_cipher *c);

#endif
