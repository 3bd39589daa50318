/* Development HSM: a SoftHSM2 token in a directory of its own, with its own
 * configuration file and random PINs, ready for tokenvaultd. Never for
 * production: the PIN sits in a file next to the token. */
#ifndef TV_HSM_DEV_INIT_H
#define TV_HSM_DEV_INIT_H

#include <limits.h>

#include "vault/util/status.h"

#define TV_HSM_DEV_TOKEN_LABEL "tokenvault-dev"
#define TV_HSM_DEV_KEK_LABEL "tokenvault-kek-1"
#define TV_HSM_DEV_MAC_LABEL "tokenvault-mac-1"

typedef struct tv_hsm_dev_options {
  const char *dir;          /* created (0700) if missing; must not hold a token yet */
  const char *token_label;  /* NULL: TV_HSM_DEV_TOKEN_LABEL; at most 32 bytes */
  const char *module_path;  /* NULL: TV_HSM_DEFAULT_MODULE */
  const char *kek_label;    /* NULL: TV_HSM_DEV_KEK_LABEL */
  const char *mac_label;    /* NULL: TV_HSM_DEV_MAC_LABEL */
} tv_hsm_dev_options;

typedef struct tv_hsm_dev_token {
  char dir[PATH_MAX];         /* absolute */
  char conf_path[PATH_MAX];   /* <dir>/softhsm2.conf: export as SOFTHSM2_CONF */
  char pin_path[PATH_MAX];    /* <dir>/user.pin, mode 0600 */
  char so_pin_path[PATH_MAX]; /* <dir>/so.pin, mode 0600 */
  char token_label[33];
  char kek_label[65];
  char mac_label[65];
} tv_hsm_dev_token;

/* tv_hsm_dev_init creates <dir>/tokens, <dir>/softhsm2.conf pointing SoftHSM2
 * there, random user and SO PINs in 0600 files, then — through the PKCS#11
 * module, with SOFTHSM2_CONF set in this process's environment to the new
 * file (it stays set, so later tv_hsm_open calls find the token) —
 * initialises the token (C_InitToken, C_InitPIN) and generates the KEK and
 * the MAC key in it. Fills |*out_token| on success. Returns
 * TV_E_HSM_TOKEN_EXISTS if <dir> already holds a softhsm2.conf or a tokens
 * directory, TV_E_HSM_MODULE if the module cannot be loaded (checked before
 * anything is written), TV_E_IO if files cannot be written, and the tv_hsm
 * statuses of the PKCS#11 steps. A failure after the files were written
 * removes them again, so the same directory can be used for another try.
 * No tv_hsm on the same module may be open in this process meanwhile:
 * SoftHSM2 reads its configuration only when first initialised. */
tv_status tv_hsm_dev_init(tv_hsm_dev_token *out_token, const tv_hsm_dev_options *options);

#endif
