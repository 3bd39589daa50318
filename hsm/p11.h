/* Internal to hsm/: the PKCS#11 definitions (p11-kit's header, from Debian's
 * libp11-kit-dev, with the standard CK_ names), the CKR table and the
 * per-thread error detail. */
#ifndef TV_HSM_P11_H
#define TV_HSM_P11_H

#include <stddef.h>

#include <p11-kit/pkcs11.h>

#include "vault/util/status.h"

/* hsm_ckr_name returns the symbolic name of |rv|, e.g. "CKR_PIN_LOCKED", or
 * "CKR_VENDOR_DEFINED" / "CKR_UNKNOWN" for codes outside the standard. */
const char *hsm_ckr_name(CK_RV rv);

/* hsm_ckr_status maps a failing |rv| to the tv_status a caller acts on. */
tv_status hsm_ckr_status(CK_RV rv);

/* hsm_ckr_is_lost returns 1 if |rv| means the session, the login or the
 * device is gone, so the connection must be re-established. */
int hsm_ckr_is_lost(CK_RV rv);

/* hsm_fail records "|fn|: CKR_NAME (0xNN)" as the thread's error detail and
 * returns hsm_ckr_status(|rv|). Never call it with CKR_OK. */
tv_status hsm_fail(const char *fn, CK_RV rv);

/* hsm_failf records a free-form detail line and returns |status|. */
tv_status hsm_failf(tv_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* hsm_detail_clear empties the thread's detail line. */
void hsm_detail_clear(void);

#endif
