#include "vault/daemon/settings.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hsm/dev_init.h"
#include "vault/daemon/settings_store.h"

/* The file's optional strings are "" when absent; settings use NULL. */
static const char *opt_str(const char *s) {
  return s != NULL && s[0] != '\0' ? s : NULL;
}

__attribute__((format(printf, 3, 4))) static tv_status failf(char *out_err, size_t out_err_len, const char *fmt,
                                                              ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out_err, out_err_len, fmt, ap);
  va_end(ap);
  return TV_E_SERVER_CONFIG;
}

static tv_status load_config(tv_settings *s, const tv_options *o, char *err, size_t err_len) {
  config_error cerr;
  memset(&cerr, 0, sizeof cerr);
  tv_status st = TV_OK;
  if (o->config != NULL) {
    st = config_load(o->config, &s->config, &cerr);
  } else if (o->dev) {
    st = config_dev(&s->config, &cerr);
  }
  if (st != TV_OK) {
    return failf(err, err_len, "%s", cerr.text[0] != '\0' ? cerr.text : tv_status_message(st));
  }
  return TV_OK;
}

/* --dev: everything under the data directory, as on the first start. */
static tv_status resolve_dev(tv_settings *s, const tv_options *o, char *err, size_t err_len) {
  if (!tv_listen_is_loopback(s->listen)) {
    return failf(err, err_len,
                 "--dev refuses to listen on %s: plaintext is allowed on loopback only "
                 "(127.0.0.1, [::1] or localhost)",
                 s->listen);
  }
  s->data_dir = o->data_dir != NULL ? o->data_dir : "./var";
  TV_TRY(tv_settings_resolve_store(s, err, err_len));
  /* A fleet node keeps its own audit chain: two --dev nodes may share
   * one data directory (its SoftHSM2 token), never one audit log. */
  int n = s->store_postgres ? snprintf(s->audit_dir, sizeof s->audit_dir, "%s/audit-%s", s->data_dir, s->node_id)
                            : snprintf(s->audit_dir, sizeof s->audit_dir, "%s/audit", s->data_dir);
  if (n < 0 || (size_t)n >= sizeof s->audit_dir) {
    return failf(err, err_len, "--data-dir is too long: %s", s->data_dir);
  }
  s->kek_label = TV_HSM_DEV_KEK_LABEL;
  s->mac_label = TV_HSM_DEV_MAC_LABEL;
  s->open_vault = 1;
  return TV_OK;
}

/* TLS: the three flags, else the file's tls block, else plaintext, which
 * only a loopback address may serve (callers are then dev:local). */
static tv_status resolve_tls(tv_settings *s, const tv_options *o, char *err, size_t err_len) {
  if (o->tls_cert != NULL) {
    s->tls = 1;
    s->tls_cert = o->tls_cert;
    s->tls_key = o->tls_key;
    s->tls_ca = o->tls_ca;
  } else if (s->config != NULL && s->config->tls.enabled) {
    s->tls = 1;
    s->tls_cert = s->config->tls.cert_file;
    s->tls_key = s->config->tls.key_file;
    s->tls_ca = s->config->tls.client_ca_file;
  } else if (s->config == NULL) {
    return failf(err, err_len, "%s",
                 "mTLS needs --tls-cert, --tls-key and --tls-ca, or --config FILE with a tls block "
                 "(or --dev for plaintext on loopback)");
  } else if (!tv_listen_is_loopback(s->listen)) {
    return failf(err, err_len, "plaintext (no tls block, no TLS flags) is allowed on loopback only, not %s",
                 s->listen);
  }
  return TV_OK;
}

/* The HTTP/JSON API is HTTPS with client certificates whenever the gRPC
 * port is mTLS (the same files); plaintext only in --dev on loopback,
 * whose callers are all the dev principal anyway. */
static tv_status check_http_listen(const tv_settings *s, char *err, size_t err_len) {
  if (s->http_listen[0] == '\0' || s->tls || (s->dev && tv_listen_is_loopback(s->http_listen))) {
    return TV_OK;
  }
  return failf(err, err_len,
               "http.listen %s refused: the HTTP/JSON API is served over mTLS (a tls block or the --tls-* flags, "
               "the same files as the gRPC port) or, plaintext, only with --dev on loopback (127.0.0.1, [::1] or "
               "localhost)",
               s->http_listen);
}

/* HSM flags override the file field by field; a PIN flag replaces the
 * file's PIN source whichever kind it was. */
static void resolve_hsm(tv_settings *s, const tv_options *o) {
  const config_hsm *h = &s->config->hsm;
  s->hsm_module = o->hsm_module != NULL ? o->hsm_module : opt_str(h->module_path);
  s->hsm_token_label = o->hsm_token_label != NULL ? o->hsm_token_label : opt_str(h->token_label);
  s->hsm_token_serial = o->hsm_token_label != NULL ? NULL : opt_str(h->token_serial);
  if (o->hsm_pin_file != NULL || o->hsm_pin_env != NULL) {
    s->hsm_pin_file = o->hsm_pin_file;
    s->hsm_pin_env = o->hsm_pin_env;
  } else {
    s->hsm_pin_file = opt_str(h->pin_file);
    s->hsm_pin_env = opt_str(h->pin_env);
  }
  s->kek_label = h->kek_label;
  s->mac_label = h->mac_label;
}

static tv_status resolve_file(tv_settings *s, const tv_options *o, char *err, size_t err_len) {
  const tv_config *c = s->config;
  s->data_dir = o->data_dir != NULL ? o->data_dir : c->data_dir;
  int n = snprintf(s->audit_dir, sizeof s->audit_dir, "%s", c->audit.dir);
  if (n < 0 || (size_t)n >= sizeof s->audit_dir) {
    return failf(err, err_len, "audit.dir is too long: %s", c->audit.dir);
  }
  resolve_hsm(s, o);
  TV_TRY(tv_settings_resolve_store(s, err, err_len));
  s->open_vault = 1;
  return TV_OK;
}

tv_status tv_settings_resolve(tv_settings *s, const tv_options *o, char *err, size_t err_len) {
  memset(s, 0, sizeof *s);
  snprintf(err, err_len, "%s", "");
  s->dev = o->dev;
  s->init = o->init;
  s->config_path = o->config;
  s->allow_insecure_permissions = o->allow_insecure_permissions;
  TV_TRY(load_config(s, o, err, err_len));
  s->listen = o->listen != NULL ? o->listen : s->config != NULL ? s->config->listen : TV_LISTEN_DEFAULT;
  s->metrics_listen = o->metrics_listen != NULL ? o->metrics_listen
                      : s->config != NULL ? s->config->metrics_listen : "";
  s->http_listen = o->http_listen != NULL ? o->http_listen : s->config != NULL ? s->config->http_listen : "";
  s->handshake_timeout_ms = CONFIG_HANDSHAKE_TIMEOUT_MS_DEFAULT;
  if (s->config != NULL) {
    s->handshake_timeout_ms = (uint32_t)s->config->server.handshake_timeout_ms;
    s->items_in_flight_max = s->config->server.items_in_flight_max;
    s->request_bytes_in_flight_max = s->config->server.request_bytes_in_flight_max;
    s->checkpoint_interval_ms = (uint32_t)(s->config->audit.checkpoint_interval_s * 1000u);
  }
  if (s->dev) {
    TV_TRY(check_http_listen(s, err, err_len));
    return resolve_dev(s, o, err, err_len);
  }
  TV_TRY(resolve_tls(s, o, err, err_len));
  TV_TRY(check_http_listen(s, err, err_len));
  if (s->config != NULL) {
    return resolve_file(s, o, err, err_len);
  }
  if (o->hsm_module != NULL || o->hsm_token_label != NULL || o->hsm_pin_file != NULL || o->hsm_pin_env != NULL) {
    return failf(err, err_len, "%s",
                 "opening the vault needs --config FILE (its namespaces, roles and principals); "
                 "--hsm-* flags only override the file's hsm block");
  }
  if (o->metrics_listen != NULL) {
    /* Refused rather than ignored: an operator who asked for a metrics
     * port would otherwise scrape nothing and not know why. */
    return failf(err, err_len, "--metrics-listen %s needs a vault to measure: add --config FILE (or --dev); "
                 "without either tokenvaultd serves only Health and WhoAmI", o->metrics_listen);
  }
  s->data_dir = o->data_dir != NULL ? o->data_dir : "./var";
  return TV_OK;
}

void tv_settings_cleanup(tv_settings *settings) {
  config_free(settings->config);
  settings->config = NULL;
}

static int namespace_differs(const config_namespace *a, const config_namespace *b) {
  return strcmp(a->name, b->name) != 0 || a->convergent != b->convergent || a->default_ttl_s != b->default_ttl_s ||
         memcmp(&a->format, &b->format, sizeof a->format) != 0;
}

static int same_str(const char *key, const char *a, const char *b, char *out_key, size_t out_key_len) {
  if (strcmp(a, b) == 0) {
    return 1;
  }
  snprintf(out_key, out_key_len, "%s", key);
  return 0;
}

int tv_settings_restart_needed(const tv_config *a, const tv_config *b, char *out_key, size_t out_key_len) {
  snprintf(out_key, out_key_len, "%s", "");
  if (a->namespaces_len != b->namespaces_len) {
    snprintf(out_key, out_key_len, "namespaces");
    return 1;
  }
  for (size_t i = 0; i < a->namespaces_len; i++) {
    if (namespace_differs(&a->namespaces[i], &b->namespaces[i])) {
      snprintf(out_key, out_key_len, "namespaces[%zu]", i);
      return 1;
    }
  }
  int same = same_str("listen", a->listen, b->listen, out_key, out_key_len) &&
             same_str("http.listen", a->http_listen, b->http_listen, out_key, out_key_len) &&
             same_str("data_dir", a->data_dir, b->data_dir, out_key, out_key_len) &&
             same_str("audit.dir", a->audit.dir, b->audit.dir, out_key, out_key_len) &&
             same_str("tls", a->tls.cert_file, b->tls.cert_file, out_key, out_key_len) &&
             same_str("tls", a->tls.key_file, b->tls.key_file, out_key, out_key_len) &&
             same_str("tls", a->tls.client_ca_file, b->tls.client_ca_file, out_key, out_key_len) &&
             same_str("hsm", a->hsm.module_path, b->hsm.module_path, out_key, out_key_len) &&
             same_str("hsm", a->hsm.token_label, b->hsm.token_label, out_key, out_key_len) &&
             same_str("hsm", a->hsm.token_serial, b->hsm.token_serial, out_key, out_key_len) &&
             same_str("hsm", a->hsm.pin_file, b->hsm.pin_file, out_key, out_key_len) &&
             same_str("hsm", a->hsm.pin_env, b->hsm.pin_env, out_key, out_key_len) &&
             same_str("hsm", a->hsm.kek_label, b->hsm.kek_label, out_key, out_key_len) &&
             same_str("hsm", a->hsm.mac_label, b->hsm.mac_label, out_key, out_key_len) &&
             same_str("store", a->store.conninfo, b->store.conninfo, out_key, out_key_len) &&
             same_str("store", a->store.password_file, b->store.password_file, out_key, out_key_len) &&
             same_str("store", a->store.read_conninfo, b->store.read_conninfo, out_key, out_key_len) &&
             same_str("node_id", a->node_id, b->node_id, out_key, out_key_len);
  if (same && (a->store.backend != b->store.backend || a->store.statement_timeout_ms != b->store.statement_timeout_ms ||
               a->store.lease_ms != b->store.lease_ms || a->store.read_lag_max_ms != b->store.read_lag_max_ms)) {
    snprintf(out_key, out_key_len, "store");
    return 1;
  }
  if (same && a->audit.checkpoint_interval_s != b->audit.checkpoint_interval_s) {
    snprintf(out_key, out_key_len, "audit.checkpoint_interval");
    return 1;
  }
  return !same;
}
