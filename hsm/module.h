/* Internal to hsm/: loading PKCS#11 modules and finding tokens.
 *
 * A module is initialised once per process (PKCS#11 has per-process state),
 * so loaded modules are shared by path and reference-counted: C_Finalize
 * runs when the last user releases it. */
#ifndef TV_HSM_MODULE_H
#define TV_HSM_MODULE_H

#include "hsm/p11.h"

typedef struct hsm_module hsm_module;

/* hsm_module_acquire loads |path| (or takes another reference to it) and
 * makes sure C_Initialize has run with OS locking. On success |*out_module|
 * holds one reference. Fails with TV_E_HSM_MODULE when the file cannot be
 * loaded or is not a PKCS#11 module. */
tv_status hsm_module_acquire(hsm_module **out_module, const char *path);

/* hsm_module_release drops one reference; the last one finalises the
 * module. Accepts NULL. */
void hsm_module_release(hsm_module *module);

/* hsm_module_functions returns the module's function list. */
CK_FUNCTION_LIST *hsm_module_functions(const hsm_module *module);

/* hsm_module_reinitialize runs C_Initialize again after the module said
 * CKR_CRYPTOKI_NOT_INITIALIZED (e.g. a network HSM library reset itself). */
tv_status hsm_module_reinitialize(hsm_module *module);

/* hsm_module_reset finalises and re-initialises the module, so that it
 * forgets every session and re-reads its token state (SoftHSM2 needs this
 * after its token directory went away and came back). Done only when
 * |module| has a single user, since it ends every session in the process;
 * otherwise returns TV_E_HSM_UNAVAILABLE without touching it. */
tv_status hsm_module_reset(hsm_module *module);

/* hsm_find_token finds the slot whose initialised token has |label| (or
 * |serial| if non-NULL) and sets |*out_slot|. TV_E_HSM_TOKEN_NOT_FOUND if
 * no token matches; if a PKCS#11 call fails, its CKR goes to |*out_rv|. */
tv_status hsm_find_token(CK_FUNCTION_LIST *p11, CK_SLOT_ID *out_slot, CK_RV *out_rv,
                         const char *label, const char *serial);

/* hsm_pad_field copies |text| into the blank-padded, unterminated PKCS#11
 * field |out| of |out_len| bytes. Returns 0 if |text| is too long. */
int hsm_pad_field(unsigned char *out, size_t out_len, const char *text);

#endif
