/* Permission checks on the files and directories tokenvaultd trusts, at
 * start-up and on every SIGHUP re-read: a careless mode (a world-writable
 * config, a PIN file readable by everyone) would otherwise be accepted
 * silently, and a config that others can write plus SIGHUP lets any local
 * user grant themselves full reveal.
 *
 * The rules (README "File permissions"):
 *   - every checked path must be owned by root or by the user tokenvaultd
 *     runs as;
 *   - trusted files (config, TLS certificate and CA, and the secrets) must
 *     not be writable by others, nor by a group other than tokenvaultd's
 *     own: refused, no override;
 *   - secrets (HSM PIN file, TLS private key) must not be readable by
 *     others, nor by a group other than tokenvaultd's own; directories
 *     (data, store, audit) must not be writable that way: refused unless
 *     --allow-insecure-permissions, which then logs an error line per
 *     finding and starts anyway.
 * "tokenvaultd's own group" is its effective primary group (e.g. the
 * Kubernetes fsGroup, or a dedicated `tokenvault` group): its members are
 * the vault itself. A path that does not exist is not checked here (the
 * code that opens or creates it reports that). */
#ifndef TV_DAEMON_FILE_MODES_H
#define TV_DAEMON_FILE_MODES_H

#include <stddef.h>
#include <sys/types.h>

#include "vault/daemon/settings.h"
#include "vault/util/status.h"

typedef enum tv_path_kind {
  TV_PATH_TRUSTED, /* config, TLS certificate, client CA */
  TV_PATH_SECRET,  /* HSM PIN file, TLS private key */
  TV_PATH_DIR,     /* data, store and audit directories */
} tv_path_kind;

typedef enum tv_mode_verdict {
  TV_MODE_OK = 0,
  TV_MODE_INSECURE, /* refused unless the operator insists */
  TV_MODE_REFUSED,  /* refused whatever the flags */
} tv_mode_verdict;

/* Who tokenvaultd runs as, for the rules above. */
typedef struct tv_mode_owner {
  uid_t uid;
  gid_t gid;
} tv_mode_owner;

/* tv_mode_judge applies the rules to a stat result (|mode|, |uid|, |gid|)
 * of a path of |kind|. Writes "<what> <path> is mode 0NNN: <problem>;
 * <fix>" into |out_err| when the verdict is not TV_MODE_OK. Pure: the unit
 * test drives it with made-up modes and owners. */
tv_mode_verdict tv_mode_judge(const char *what, const char *path, tv_path_kind kind, mode_t mode, uid_t uid,
                              gid_t gid, const tv_mode_owner *self, char *out_err, size_t out_err_len);

/* tv_mode_check_path stats |path| (following links, as open does) and
 * judges it. A missing path (or NULL) is TV_OK. Returns TV_OK (also for an
 * insecure finding with |allow_insecure|, after logging it as an error
 * line `insecure_permissions`), or TV_E_SERVER_CONFIG with the sentence in
 * |out_err|. */
tv_status tv_mode_check_path(const char *what, const char *path, tv_path_kind kind, int allow_insecure,
                             char *out_err, size_t out_err_len);

/* tv_mode_check_settings checks every path of |s| that tokenvaultd trusts
 * at start-up: the config file, the TLS files, the HSM PIN file, the data
 * directory and, when they exist, its store and audit directories and the
 * dev HSM directory. First refusal wins. */
tv_status tv_mode_check_settings(const tv_settings *s, char *out_err, size_t out_err_len);

/* tv_mode_check_reload_tls checks the TLS files (when |s| uses TLS), which
 * SIGHUP re-reads; reload.c checks the config file itself. */
tv_status tv_mode_check_reload_tls(const tv_settings *s, char *out_err, size_t out_err_len);

#endif
