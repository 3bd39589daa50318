/* tokenvaultd's command line. */
#ifndef TV_DAEMON_OPTIONS_H
#define TV_DAEMON_OPTIONS_H

#include <stddef.h>

#include "vault/util/status.h"

typedef struct tv_options {
  /* NULL: not given on the command line (the config file's value, or a
   * default, applies: see vault/daemon/settings.h). */
  const char *listen;
  const char *tls_cert; /* paths: all three or none */
  const char *tls_key;
  const char *tls_ca;
  const char *data_dir;
  const char *config;   /* NULL: no file (--dev: the built-in dev config) */
  int dev;              /* plaintext on loopback only */
  int help;
  /* The HSM (production; --dev makes its own SoftHSM2 token). The PIN is
   * read from a file or an environment variable, never from argv. */
  const char *hsm_module;      /* NULL: TV_HSM_DEFAULT_MODULE */
  const char *hsm_token_label; /* required without --dev */
  const char *hsm_pin_file;    /* exactly one of these two without --dev */
  const char *hsm_pin_env;
  int init; /* create the keyring if it does not exist */
  const char *metrics_listen; /* NULL: the config's metrics.listen */
  const char *http_listen;    /* NULL: the config's http.listen */
  int allow_insecure_permissions; /* see vault/daemon/file_modes.h */
} tv_options;

#define TV_LISTEN_DEFAULT "127.0.0.1:7443"

/* tv_options_parse reads |argv| (pointers into it are kept). Returns TV_OK,
 * or TV_E_SERVER_CONFIG with a sentence in |out_err|: unknown flag, only
 * some of the TLS flags, TLS or HSM flags with --dev, both PIN flags,
 * --dev on an address that is not loopback. Whether TLS is configured at
 * all is decided later, with the config file (tv_settings_resolve). */
tv_status tv_options_parse(tv_options *out, int argc, char **argv, char *out_err, size_t out_err_len);

/* tv_listen_is_loopback returns 1 if |listen| ("host:port" or
 * "[v6]:port") names a loopback host: localhost, 127.0.0.0/8 or ::1. */
int tv_listen_is_loopback(const char *listen);

/* The usage text printed by --help. */
extern const char tv_options_usage[];

#endif
