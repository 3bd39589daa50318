/* Saying what is really wrong when SoftHSM2 cannot start: its
 * C_Initialize answers CKR_GENERAL_ERROR when the token directory named in
 * its configuration is missing, which reads as "the module failed to load"
 * while the real news is that the token (and every key in it) is gone. */
#ifndef TV_HSM_SOFTHSM_DIAG_H
#define TV_HSM_SOFTHSM_DIAG_H

#include "vault/util/status.h"

/* hsm_softhsm_explain is called after |status| failed a module load. If
 * SOFTHSM2_CONF names a configuration whose directories.tokendir does not
 * exist, it records a detail naming the token (|token_label|, may be
 * NULL), the directory and the configuration file, and returns
 * TV_E_HSM_TOKEN_NOT_FOUND; otherwise it returns |status| unchanged (its
 * detail kept). */
tv_status hsm_softhsm_explain(tv_status status, const char *token_label);

#endif
