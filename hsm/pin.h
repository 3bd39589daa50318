/* Internal to hsm/: reading the user PIN from its source. */
#ifndef TV_HSM_PIN_H
#define TV_HSM_PIN_H

#include <stddef.h>

#include "hsm/hsm.h"

/* PINs longer than this are refused (PKCS#11 tokens use far shorter ones). */
#define HSM_PIN_MAX 256

/* hsm_pin_read reads the PIN named by |kind|/|source| into |out_pin|
 * (capacity HSM_PIN_MAX + 1, NUL-terminated) and sets |*out_len|. A file
 * holds the PIN on its first line; a trailing "\n" or "\r\n" is dropped.
 * Fails with TV_E_HSM_PIN_SOURCE if the source is missing, unreadable,
 * empty or too long; |out_pin| is then wiped. The caller wipes the PIN. */
tv_status hsm_pin_read(char *out_pin, size_t *out_len, tv_hsm_pin_kind kind, const char *source);

#endif
