/* What tokenvaultd runs with: the command line (vault/daemon/options.h)
 * merged with the YAML configuration (vault/config/config.h).
 *
 * Precedence: a flag given on the command line wins over the file's value
 * for the same setting; the file wins over built-in defaults. Modes:
 *   --config FILE          production: listen, tls, data_dir, hsm, audit,
 *                          namespaces, roles, principals from FILE. Without
 *                          a tls block (or TLS flags) the listen address
 *                          must be loopback and callers are dev:local.
 *   --dev [--config FILE]  plaintext on loopback, SoftHSM2 token, keyring,
 *                          store and audit log under --data-dir (default
 *                          ./var); the built-in dev configuration unless a
 *                          file is given (its tls, hsm, data_dir and
 *                          audit.dir are then not used).
 *                          With `store: {backend: postgres}` records and the
 *                          keyring live in the database and the audit log
 *                          in <data_dir>/audit-<node_id>, so two nodes can
 *                          share one --data-dir (its SoftHSM2 token).
 *   neither                mTLS flags only: no vault, Health and WhoAmI
 *                          (so --metrics-listen is refused: no metrics). */
#ifndef TV_DAEMON_SETTINGS_H
#define TV_DAEMON_SETTINGS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/config/config.h"
#include "vault/daemon/options.h"
#include "vault/util/status.h"

typedef struct tv_settings {
  tv_config *config;       /* owned; NULL in the "neither" mode */
  const char *config_path; /* the file SIGHUP re-reads; NULL: none */
  const char *listen;
  int dev;
  int tls; /* 1: mTLS with the three files below */
  const char *tls_cert;
  const char *tls_key;
  const char *tls_ca;
  int open_vault; /* 0: serve Health and WhoAmI only */
  int init;
  const char *data_dir;
  char audit_dir[PATH_MAX];
  uint32_t checkpoint_interval_ms; /* 0: the audit log's default */
  const char *hsm_module;          /* NULL: the default module */
  const char *hsm_token_label;
  const char *hsm_token_serial;
  const char *hsm_pin_file; /* exactly one of the two when the vault opens */
  const char *hsm_pin_env;
  const char *kek_label;
  const char *mac_label;
  const char *metrics_listen; /* "": no metrics port */
  const char *http_listen;    /* "": no HTTP/JSON API */
  int allow_insecure_permissions; /* vault/daemon/file_modes.h */
  /* Where records and the keyring live (config `store:` block; `--dev
   * --config F` honours it too). postgres: a fleet node. */
  int store_postgres;
  const char *pg_password_file; /* NULL, or a libpq password file */
  /* The configured conninfo, plus `passfile` when a password file is
   * set: what libpq gets. Never holds a password (refused). */
  char pg_conninfo[CONFIG_CONNINFO_LEN_MAX + CONFIG_PATH_LEN_MAX + 64];
  /* The same for store.postgres.read_conninfo ("": no reads from a
   * standby) and its staleness bound (0: the store's default). */
  char pg_read_conninfo[CONFIG_CONNINFO_LEN_MAX + CONFIG_PATH_LEN_MAX + 64];
  uint32_t pg_read_lag_max_ms;
  char node_id[CONFIG_NODE_ID_LEN_MAX + 1]; /* config node_id, else the host name */
  /* The transport's limits (config `server:` block; defaults without a
   * config): see vault/server/common/admission.h. 0: derived from the machine. */
  uint32_t handshake_timeout_ms;
  uint64_t items_in_flight_max;
  uint64_t request_bytes_in_flight_max;
} tv_settings;

/* tv_settings_resolve loads the configuration |opts| names (or the
 * built-in dev one) and merges it with |opts| into |*out| (pointers into
 * |opts| and into out->config are kept). Returns TV_OK, or
 * TV_E_SERVER_CONFIG with a sentence in |out_err| (a config error names
 * the line and key). Release with tv_settings_cleanup. */
tv_status tv_settings_resolve(tv_settings *out, const tv_options *opts, char *out_err, size_t out_err_len);

/* tv_settings_cleanup frees the configuration; accepts a zeroed struct. */
void tv_settings_cleanup(tv_settings *settings);

/* tv_settings_restart_needed compares the parts of |old_config| and
 * |new_config| that a reload cannot change (namespaces, HSM, data_dir,
 * audit, listen, the tls file paths: SIGHUP re-reads the files at the
 * paths the daemon started with) and writes the first differing key into |out_key|.
 * Returns 1 if one differs. */
int tv_settings_restart_needed(const tv_config *old_config, const tv_config *new_config, char *out_key,
                               size_t out_key_len);

#endif
