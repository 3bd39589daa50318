/* tv_hsm — the vault's PKCS#11 client: key custody in a hardware security
 * module.
 *
 * One tv_hsm is one logged-in connection to one token of one PKCS#11 module.
 * It keeps a bounded pool of sessions, so any number of threads may call it
 * at once. It holds two kinds of keys, both generated inside the HSM and never
 * extractable:
 *
 *   - KEKs (AES-256, CKA_WRAP/CKA_UNWRAP only) that wrap the vault's data keys
 *     with AES key wrap with padding (RFC 5649, CKM_AES_KEY_WRAP_PAD). Several
 *     KEKs may exist at once, told apart by label, so that a KEK rotation can
 *     create a new one, rewrap every data key under it, then disable the old.
 *   - MAC keys (generic secret, CKA_SIGN/CKA_VERIFY only) for HMAC-SHA-256
 *     integrity checkpoints of the audit log and the keyring file.
 *
 * Failure model: any failure that means "the HSM or our session is gone"
 * (device removed, session handle invalid, token absent, login lost, or an
 * ambiguous CKR_GENERAL_ERROR after which the session or token no longer
 * answers) marks the connection broken. The call then re-establishes it —
 * re-finds the token, reopens sessions, logs in again (re-reading the PIN
 * from its source), re-finds keys; as a last resort, when no other tv_hsm
 * shares the module, C_Finalize + C_Initialize — and retries, a bounded
 * number of times (3 tries per call, 2 reconnection attempts each). If the
 * HSM is still away the call fails closed with TV_E_HSM_UNAVAILABLE, and
 * the next call tries again (at most once per reconnect_interval_ms).
 * Nothing is ever done in software instead.
 *
 * For the keyring: unwrap every data key once at start-up (tv_hsm_unwrap;
 * ~0.2 ms each on SoftHSM2); for a KEK rotation create the new KEK
 * (tv_hsm_kek_create), wrap the in-memory keys under it (tv_hsm_wrap; or
 * tv_hsm_rewrap from the old blobs when they are not loaded), commit the new
 * keyring file, then tv_hsm_kek_disable the old KEK and, after the second
 * officer's approval, tv_hsm_kek_destroy it. Seal checkpoints with
 * tv_hsm_mac_sign / tv_hsm_mac_verify. A KEK that is ever found extractable
 * or not sensitive is refused (TV_E_HSM_KEY_UNSAFE).
 *
 * Every failing call also leaves a one-line detail for the calling thread,
 * naming the PKCS#11 function and the CKR_* code (tv_hsm_error_detail). */
#ifndef TV_HSM_HSM_H
#define TV_HSM_HSM_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

/* The default module: SoftHSM2 as packaged by Debian (package softhsm2). */
#define TV_HSM_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

/* Labels of keys are at most this many bytes (PKCS#11 allows more; a bound
 * keeps caches and messages simple). */
#define TV_HSM_LABEL_MAX 64

/* Data keys wrapped through the HSM are 16..64 bytes, a multiple of 8:
 * AES-128..256 keys and HMAC keys up to one SHA-256 block. (RFC 5649 allows
 * any length, but SoftHSM2 2.6 returns unwrapped keys still padded.) */
#define TV_HSM_DATA_KEY_MIN 16
#define TV_HSM_DATA_KEY_MAX 64

/* TV_HSM_WRAPPED_LEN is the RFC 5649 output length for a |key_len|-byte key:
 * the 8-byte integrity block plus the key padded to a multiple of 8. */
#define TV_HSM_WRAPPED_LEN(key_len) (8 + (((size_t)(key_len) + 7) / 8) * 8)
#define TV_HSM_WRAPPED_MAX TV_HSM_WRAPPED_LEN(TV_HSM_DATA_KEY_MAX)

/* HMAC-SHA-256 output length. */
#define TV_HSM_MAC_LEN 32

/* Sessions in the pool when the config says 0, and the most allowed. */
#define TV_HSM_SESSIONS_DEFAULT 4
#define TV_HSM_SESSIONS_MAX 64

/* Where the user PIN comes from: never the config file, never argv. */
typedef enum tv_hsm_pin_kind {
  TV_HSM_PIN_FILE = 1, /* |pin_source| is a file path; one line, "\n" trimmed */
  TV_HSM_PIN_ENV = 2,  /* |pin_source| is an environment variable name */
} tv_hsm_pin_kind;

typedef struct tv_hsm_config {
  /* Path of the PKCS#11 module; NULL means TV_HSM_DEFAULT_MODULE. */
  const char *module_path;
  /* The token is found by label, or by serial number when |token_serial| is
   * non-NULL (then |token_label| may be NULL). */
  const char *token_label;
  const char *token_serial;
  tv_hsm_pin_kind pin_kind;
  const char *pin_source;
  /* Pool size; 0 means TV_HSM_SESSIONS_DEFAULT. */
  unsigned sessions_max;
  /* After a failed reconnection, calls fail at once (without touching the
   * HSM) for this long, so that many threads do not hammer a dead HSM.
   * 0 retries on every call. */
  unsigned reconnect_interval_ms;
} tv_hsm_config;

typedef struct tv_hsm tv_hsm;

/* tv_hsm_open loads the module, finds the token, opens a session and logs
 * in as CKU_USER with the PIN read from |config|'s PIN source (the PIN is
 * wiped from memory right after C_Login). On success |*out_hsm| owns the
 * connection; free it with tv_hsm_free. On failure |*out_hsm| is NULL and
 * the status says why: TV_E_HSM_MODULE, TV_E_HSM_TOKEN_NOT_FOUND,
 * TV_E_HSM_PIN_SOURCE, TV_E_HSM_PIN_INCORRECT, TV_E_HSM_PIN_LOCKED,
 * TV_E_HSM_UNAVAILABLE, ... The strings in |config| are copied. */
tv_status tv_hsm_open(tv_hsm **out_hsm, const tv_hsm_config *config);

/* tv_hsm_free closes every session, logs out and releases the module.
 * Accepts NULL. No call may be in flight on |hsm|. */
void tv_hsm_free(tv_hsm *hsm);

/* tv_hsm_error_detail returns the calling thread's detail line for the last
 * failing tv_hsm call (e.g. "C_Login: CKR_PIN_INCORRECT (0xa0)"), or "" if
 * none. The pointer is valid until the thread's next tv_hsm call. */
const char *tv_hsm_error_detail(void);

/* ---- KEKs ---------------------------------------------------------------- */

/* tv_hsm_kek_create generates a new AES-256 KEK inside the HSM, stored on the
 * token under |label|: CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_PRIVATE,
 * CKA_WRAP and CKA_UNWRAP true, CKA_ENCRYPT/DECRYPT/SIGN/VERIFY/DERIVE false.
 * Returns TV_E_HSM_KEY_EXISTS if a key with that label already exists. */
tv_status tv_hsm_kek_create(tv_hsm *hsm, const char *label);

/* tv_hsm_kek_ensure finds the KEK |label|; if there is none and
 * |create_if_missing| is non-zero it creates it, otherwise it returns
 * TV_E_HSM_KEY_NOT_FOUND. Returns TV_E_HSM_KEY_UNSAFE if the key found under
 * that label is extractable or not sensitive. */
tv_status tv_hsm_kek_ensure(tv_hsm *hsm, const char *label, int create_if_missing);

/* tv_hsm_kek_is_enabled sets |*out_enabled| to 1 if the KEK |label| may still
 * wrap and unwrap, 0 if it was disabled. */
tv_status tv_hsm_kek_is_enabled(tv_hsm *hsm, int *out_enabled, const char *label);

/* tv_hsm_kek_disable retires the KEK |label| after a rotation: it sets
 * CKA_WRAP and CKA_UNWRAP to false, so wrap and unwrap under it fail with
 * TV_E_HSM_KEY_DISABLED, while the key stays in the HSM (a restore of an old
 * keyring backup can still be recovered by an officer re-enabling it with
 * tv_hsm_kek_enable). */
tv_status tv_hsm_kek_disable(tv_hsm *hsm, const char *label);

/* tv_hsm_kek_enable undoes tv_hsm_kek_disable. */
tv_status tv_hsm_kek_enable(tv_hsm *hsm, const char *label);

/* tv_hsm_kek_destroy deletes the KEK |label| from the HSM for good. Every
 * key still wrapped under it becomes unrecoverable. */
tv_status tv_hsm_kek_destroy(tv_hsm *hsm, const char *label);

/* ---- wrapping data keys --------------------------------------------------- */

/* tv_hsm_wrap wraps the |key_len|-byte data key |key| (a multiple of 8 in
 * TV_HSM_DATA_KEY_MIN..TV_HSM_DATA_KEY_MAX, else TV_E_INVALID_ARGUMENT)
 * under the KEK |kek_label| with CKM_AES_KEY_WRAP_PAD. Writes
 * TV_HSM_WRAPPED_LEN(key_len) bytes to |out| (capacity |out_max|) and sets
 * |*out_len| (0 on failure). The key enters the HSM only as a short-lived
 * session object (sensitive, never on the token), destroyed before return.
 * TV_E_HSM_KEY_DISABLED if the KEK was disabled. */
tv_status tv_hsm_wrap(tv_hsm *hsm, uint8_t *out, size_t *out_len, size_t out_max,
                      const char *kek_label, const uint8_t *key, size_t key_len);

/* tv_hsm_unwrap recovers a data key wrapped by tv_hsm_wrap under |kek_label|.
 * Writes it to |out_key| (capacity |out_key_max|; TV_HSM_DATA_KEY_MAX always
 * suffices) and sets |*out_key_len|. The caller owns the secret and must
 * tv_wipe it. A blob altered in any way, truncated, or wrapped under another
 * KEK gives TV_E_HSM_WRAPPED_INVALID, and |out_key| is wiped. */
tv_status tv_hsm_unwrap(tv_hsm *hsm, uint8_t *out_key, size_t *out_key_len,
                        size_t out_key_max, const char *kek_label,
                        const uint8_t *wrapped, size_t wrapped_len);

/* tv_hsm_rewrap moves one wrapped data key from KEK |old_label| to KEK
 * |new_label| (the HSM part of a KEK rotation). The plaintext key passes
 * through host memory only inside this call and is wiped before return.
 * |out| needs TV_HSM_WRAPPED_MAX bytes at most. */
tv_status tv_hsm_rewrap(tv_hsm *hsm, uint8_t *out, size_t *out_len, size_t out_max,
                        const char *new_label, const char *old_label,
                        const uint8_t *wrapped, size_t wrapped_len);

/* ---- MAC keys ------------------------------------------------------------ */

/* tv_hsm_mac_key_ensure finds the HMAC key |label| (a 256-bit generic secret,
 * sensitive, not extractable, CKA_SIGN/CKA_VERIFY only); if there is none and
 * |create_if_missing| is non-zero it generates it in the HSM, otherwise it
 * returns TV_E_HSM_KEY_NOT_FOUND. */
tv_status tv_hsm_mac_key_ensure(tv_hsm *hsm, const char *label, int create_if_missing);

/* tv_hsm_mac_sign computes HMAC-SHA-256 of |data| with the MAC key |label|
 * inside the HSM and writes TV_HSM_MAC_LEN bytes to |out_mac|. */
tv_status tv_hsm_mac_sign(tv_hsm *hsm, uint8_t out_mac[TV_HSM_MAC_LEN], const char *label,
                          const uint8_t *data, size_t data_len);

/* tv_hsm_mac_verify checks |mac| (|mac_len| bytes) over |data| with C_Verify
 * in the HSM. Returns TV_OK if it matches, TV_E_HSM_MAC_INVALID if not
 * (including a wrong length). */
tv_status tv_hsm_mac_verify(tv_hsm *hsm, const char *label, const uint8_t *data,
                            size_t data_len, const uint8_t *mac, size_t mac_len);

#endif
