/* tokenvaultd's configuration: one YAML file (parsed with libyaml) into one
 * struct. See deploy/config/tokenvault.prod.yaml for every key.
 *
 * The file holds paths and names only, never secrets: the HSM PIN comes
 * from a file or an environment variable named here, and a literal `pin:`
 * is refused. Validation is strict: unknown keys, duplicate keys or names,
 * wrong types, values out of range and format options the format layer
 * refuses are errors naming the key path and line, e.g.
 *   config line 17: namespaces[2].format.keep_first: must be 6 or 8, got 7
 * so a typo never silently falls back to a default. */
#ifndef TV_CONFIG_CONFIG_H
#define TV_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "vault/format/format.h"
#include "vault/policy/policy.h"
#include "vault/util/status.h"

/* Bounds: a config file is small, read once per start or reload. */
#define CONFIG_FILE_BYTES_MAX (1024u * 1024u)
#define CONFIG_PATH_LEN_MAX 4095u
#define CONFIG_ADDRESS_LEN_MAX 255u
#define CONFIG_NAMESPACES_MAX 64u
#define CONFIG_ERROR_TEXT_MAX 640u
/* Nesting of lists and mappings; the real structure is 5 deep. */
#define CONFIG_DEPTH_MAX 32u
/* Longest default TTL: 100 years, in seconds. */
#define CONFIG_TTL_SECONDS_MAX (100ull * 366u * 24u * 3600u)

/* The principal of a plaintext loopback caller in --dev mode: the server
 * has no certificate to name it by, so it uses this name. */
#define CONFIG_DEV_PRINCIPAL "dev:local"

typedef struct config_tls {
  int enabled; /* 0: no `tls:` block; only allowed on a loopback listen */
  char cert_file[CONFIG_PATH_LEN_MAX + 1];
  char key_file[CONFIG_PATH_LEN_MAX + 1];
  char client_ca_file[CONFIG_PATH_LEN_MAX + 1];
} config_tls;

/* Where the PIN comes from: exactly one of pin_file / pin_env is set. */
typedef struct config_hsm {
  char module_path[CONFIG_PATH_LEN_MAX + 1];
  char token_label[33];  /* PKCS#11 labels are 32 bytes */
  char token_serial[17]; /* PKCS#11 serials are 16 bytes */
  char pin_file[CONFIG_PATH_LEN_MAX + 1];
  char pin_env[CONFIG_ADDRESS_LEN_MAX + 1];
  char kek_label[65];    /* default "tokenvault-kek-1" */
  char mac_label[65];    /* audit checkpoint MAC key; default "tokenvault-mac-1" */
} config_hsm;

typedef struct config_audit {
  char dir[CONFIG_PATH_LEN_MAX + 1];
  uint64_t checkpoint_interval_s; /* default 60 */
} config_audit;

/* Background rotation completion rates (tokenvaultd's rotation worker). */
#define CONFIG_COMPACT_BYTES_PER_S_DEFAULT (UINT64_C(64) * 1024 * 1024)
typedef struct config_rotation {
  uint64_t reencrypt_records_per_s; /* 0: unlimited (default) */
  uint64_t compact_bytes_per_s;     /* default CONFIG_COMPACT_BYTES_PER_S_DEFAULT */
} config_rotation;

/* The transport's protective limits (`server:` block). */
#define CONFIG_HANDSHAKE_TIMEOUT_MS_DEFAULT 10000u
typedef struct config_server {
  uint64_t handshake_timeout_ms;        /* TLS/HTTP2 handshake bound; default 10 s */
  uint64_t items_in_flight_max;         /* 0: derived from the machine */
  uint64_t request_bytes_in_flight_max; /* 0: derived from the machine */
} config_server;

/* Where records and the keyring live (`store:` block). */
#define CONFIG_CONNINFO_LEN_MAX 1023u
#define CONFIG_NODE_ID_LEN_MAX 64u
typedef enum config_store_backend {
  CONFIG_STORE_LOG = 0,      /* default: the io_uring log under data_dir, one node */
  CONFIG_STORE_POSTGRES = 1, /* a shared PostgreSQL database: a fleet of nodes */
} config_store_backend;
typedef struct config_store {
  int backend;                                   /* config_store_backend */
  char conninfo[CONFIG_CONNINFO_LEN_MAX + 1];    /* libpq string or URI, no password */
  char password_file[CONFIG_PATH_LEN_MAX + 1];   /* "" or a libpq password file */
  uint64_t statement_timeout_ms; /* postgres: the server cancels a statement after this */
  uint64_t lease_ms;             /* postgres: the rotation worker's lease, unless renewed */
  char read_conninfo[CONFIG_CONNINFO_LEN_MAX + 1]; /* "" or one hot standby for reveals, no password */
  uint64_t read_lag_max_ms;                        /* 0: the store's default (1000) */
} config_store;
/* store.postgres.statement_timeout_ms: a slow database fails a call
 * (DEADLINE_EXCEEDED) rather than holding it; at least 100 ms (a round
 * trip and a commit), at most 10 min. */
#define CONFIG_PG_STATEMENT_TIMEOUT_MS_DEFAULT 10000u
#define CONFIG_PG_STATEMENT_TIMEOUT_MS_MIN 100u
#define CONFIG_PG_STATEMENT_TIMEOUT_MS_MAX 600000u
/* store.postgres.lease_ms: how long a node that died keeps once-per-fleet
 * work (the rotation worker) from the others; renewed between chunks of
 * re-encryption, so it must exceed one chunk's time. At least 1 s, at
 * most 1 h. */
#define CONFIG_PG_LEASE_MS_DEFAULT 30000u
#define CONFIG_PG_LEASE_MS_MIN 1000u
#define CONFIG_PG_LEASE_MS_MAX 3600000u
/* read_lag_max_ms bounds (vault/store/pg/pg_replica_internal.h checks the same). */
#define CONFIG_READ_LAG_MAX_MS_MIN 10u
#define CONFIG_READ_LAG_MAX_MS_MAX 600000u

typedef struct config_namespace {
  char name[FORMAT_NAMESPACE_LEN_MAX + 1];
  tv_format format; /* validated by format_config_validate */
  int convergent;
  uint64_t default_ttl_s; /* 0: tokens do not expire */
  unsigned line;          /* where it was defined, for later messages */
} config_namespace;

typedef struct tv_config {
  char listen[CONFIG_ADDRESS_LEN_MAX + 1];
  config_tls tls;
  char data_dir[CONFIG_PATH_LEN_MAX + 1];
  config_hsm hsm;
  char metrics_listen[CONFIG_ADDRESS_LEN_MAX + 1]; /* "" = no metrics port */
  char http_listen[CONFIG_ADDRESS_LEN_MAX + 1];    /* "" = no HTTP/JSON API */
  config_audit audit;
  config_rotation rotation;
  config_server server;
  config_store store;
  char node_id[CONFIG_NODE_ID_LEN_MAX + 1]; /* "": the host name */
  config_namespace namespaces[CONFIG_NAMESPACES_MAX];
  size_t namespaces_len;
  tv_policy *policy; /* frozen; owned (one reference) */
} tv_config;

/* Where and why a configuration was refused. |text| is the whole
 * sentence: "config line L: PATH: MESSAGE" (or "config: ..." without a
 * line). */
typedef struct config_error {
  unsigned line; /* 1-based; 0 if not tied to a line */
  char path[160];
  char text[CONFIG_ERROR_TEXT_MAX];
} config_error;

/* config_parse parses the |len| bytes of YAML at |text| into a new config
 * at *out_config (free with config_free). On failure *out_config is NULL,
 * |err| (if not NULL) says where and why, and the status is one of
 * TV_E_CONFIG_* (or TV_E_NO_MEMORY). */
tv_status config_parse(const char *text, size_t len, tv_config **out_config, config_error *err);

/* config_load reads the file at |path| (at most CONFIG_FILE_BYTES_MAX) and
 * parses it as config_parse does. TV_E_CONFIG_IO if it cannot be read. */
tv_status config_load(const char *path, tv_config **out_config, config_error *err);

/* config_dev builds the built-in development configuration (what
 * `tokenvaultd --dev` runs with): plaintext on 127.0.0.1, state under
 * ./var, SoftHSM, namespaces pan, iban, bank_account, ssn, tw_national_id,
 * cn_resident_id, de_tax_id, and every permission for CONFIG_DEV_PRINCIPAL. */
tv_status config_dev(tv_config **out_config, config_error *err);

/* config_dev_yaml returns the YAML text config_dev parses (static). */
const char *config_dev_yaml(void);

/* config_find_namespace returns the namespace named |name| or NULL. */
const config_namespace *config_find_namespace(const tv_config *config, const char *name);

/* config_take_policy hands the config's policy reference to the caller
 * (e.g. for policy_handle_new) and leaves config->policy NULL. */
tv_policy *config_take_policy(tv_config *config);

/* config_free frees |config| and releases its policy; accepts NULL. */
void config_free(tv_config *config);

#endif
