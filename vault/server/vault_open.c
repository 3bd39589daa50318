#include "vault/server/vault_open.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsm/dev_init.h"
#include "vault/format/format.h"

const char *const tv_vault_namespaces[] = {"pan", "iban", "bank_account", "ssn",
                                           "tw_national_id", "cn_resident_id", "de_tax_id"};
const size_t tv_vault_namespaces_count = sizeof tv_vault_namespaces / sizeof tv_vault_namespaces[0];

static const tv_format_kind namespace_kinds[] = {FORMAT_PAN, FORMAT_IBAN, FORMAT_BANK_ACCOUNT,
                                                 FORMAT_US_SSN, FORMAT_TW_NATIONAL_ID,
                                                 FORMAT_CN_RESIDENT_ID, FORMAT_DE_TAX_ID};

static tv_status failf(tv_status st, char *out_err, size_t out_err_len, const char *what,
                       const char *extra) {
  snprintf(out_err, out_err_len, "%s: %s (%s)%s%s", what, tv_status_message(st), tv_status_name(st),
           extra != NULL ? ": " : "", extra != NULL ? extra : "");
  return st;
}

/* |out| = |dir| + "/" + |name|; TV_E_INVALID_ARGUMENT if it does not fit. */
static tv_status join(char out[PATH_MAX], const char *dir, const char *name) {
  int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
  return n > 0 && n < PATH_MAX ? TV_OK : TV_E_INVALID_ARGUMENT;
}

static tv_status make_dir(const char *path) {
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    return TV_E_IO;
  }
  return TV_OK;
}

/* --dev: the SoftHSM2 token in <data>/hsm, made on the first start. The
 * module reads SOFTHSM2_CONF when first loaded, so it is set before. */
static tv_status open_dev_hsm(tv_vault *v, const tv_options *opts, char *err, size_t err_len) {
  char dir[PATH_MAX], conf[PATH_MAX], pin[PATH_MAX];
  if (join(dir, opts->data_dir, "hsm") != TV_OK || join(conf, dir, "softhsm2.conf") != TV_OK ||
      join(pin, dir, "user.pin") != TV_OK) {
    return failf(TV_E_INVALID_ARGUMENT, err, err_len, "--data-dir is too long", NULL);
  }
  if (access(conf, F_OK) != 0) {
    tv_hsm_dev_token token;
    tv_hsm_dev_options dopts = {.dir = dir};
    tv_status st = tv_hsm_dev_init(&token, &dopts);
    if (st != TV_OK) {
      return failf(st, err, err_len, "--dev: creating the SoftHSM2 token failed", dir);
    }
  } else if (setenv("SOFTHSM2_CONF", conf, 1) != 0) {
    return failf(TV_E_IO, err, err_len, "--dev: setenv SOFTHSM2_CONF", NULL);
  }
  tv_hsm_config hc = {.token_label = TV_HSM_DEV_TOKEN_LABEL, .pin_kind = TV_HSM_PIN_FILE, .pin_source = pin};
  tv_status st = tv_hsm_open(&v->hsm, &hc);
  if (st != TV_OK) {
    return failf(st, err, err_len, "--dev: opening the SoftHSM2 token failed", tv_hsm_error_detail());
  }
  return TV_OK;
}

static tv_status open_hsm(tv_vault *v, const tv_options *opts, char *err, size_t err_len) {
  if (opts->dev) {
    return open_dev_hsm(v, opts, err, err_len);
  }
  tv_hsm_config hc = {.module_path = opts->hsm_module,
                      .token_label = opts->hsm_token_label,
                      .pin_kind = opts->hsm_pin_file != NULL ? TV_HSM_PIN_FILE : TV_HSM_PIN_ENV,
                      .pin_source = opts->hsm_pin_file != NULL ? opts->hsm_pin_file : opts->hsm_pin_env};
  tv_status st = tv_hsm_open(&v->hsm, &hc);
  if (st != TV_OK) {
    return failf(st, err, err_len, "opening the HSM failed", tv_hsm_error_detail());
  }
  return TV_OK;
}

/* The keyring: created on the first --dev start or with --init. */
static tv_status open_keyring(tv_vault *v, const tv_options *opts, char *err, size_t err_len) {
  char path[PATH_MAX];
  if (join(path, opts->data_dir, "keyring") != TV_OK) {
    return failf(TV_E_INVALID_ARGUMENT, err, err_len, "--data-dir is too long", NULL);
  }
  tv_keyring_options ko = {.path = path, .mac_label = TV_HSM_DEV_MAC_LABEL, .kek_label = TV_HSM_DEV_KEK_LABEL};
  tv_status st = tv_keyring_open(&v->keyring, v->hsm, &ko);
  if (st == TV_E_KEYRING_NOT_FOUND && (opts->dev || opts->init)) {
    st = tv_keyring_create(&v->keyring, v->hsm, &ko);
  } else if (st == TV_E_KEYRING_NOT_FOUND) {
    return failf(st, err, err_len, "no keyring in the data directory", "start once with --init to create it");
  }
  if (st != TV_OK) {
    return failf(st, err, err_len, "opening the keyring failed", path);
  }
  for (size_t i = 0; i < tv_vault_namespaces_count; i++) {
    st = tv_keyring_add_namespace(v->keyring, tv_vault_namespaces[i]);
    if (st != TV_OK && st != TV_E_KEYRING_NAMESPACE_EXISTS) {
      return failf(st, err, err_len, "adding namespace keys failed", tv_vault_namespaces[i]);
    }
  }
  return TV_OK;
}

static tv_status open_engine(tv_vault *v, const tv_options *opts, char *err, size_t err_len) {
  char dir[PATH_MAX];
  if (join(dir, opts->data_dir, "store") != TV_OK) {
    return failf(TV_E_INVALID_ARGUMENT, err, err_len, "--data-dir is too long", NULL);
  }
  tv_store_options so = {.dir = dir};
  tv_store_diag diag;
  tv_status st = tv_store_open(NULL, &so, &v->store, &diag);
  if (st != TV_OK) {
    return failf(st, err, err_len, "opening the store failed", dir);
  }
  tv_engine_options eo = {.store = v->store, .keyring = v->keyring};
  st = tv_engine_new(&v->engine, &eo);
  if (st != TV_OK) {
    return failf(st, err, err_len, "creating the engine failed", NULL);
  }
  for (size_t i = 0; i < tv_vault_namespaces_count; i++) {
    tv_engine_namespace ns = {.convergent = 1};
    char why[256] = "";
    st = format_config_init(&ns.format, namespace_kinds[i], tv_vault_namespaces[i]);
    if (st == TV_OK) {
      st = tv_engine_add_namespace(v->engine, &ns, why, sizeof why);
    }
    if (st != TV_OK) {
      return failf(st, err, err_len, "configuring a namespace failed", why[0] != '\0' ? why : tv_vault_namespaces[i]);
    }
  }
  return TV_OK;
}

static tv_status open_audit(tv_vault *v, const tv_options *opts, char *err, size_t err_len) {
  char dir[PATH_MAX];
  if (join(dir, opts->data_dir, "audit") != TV_OK) {
    return failf(TV_E_INVALID_ARGUMENT, err, err_len, "--data-dir is too long", NULL);
  }
  tv_audit_config ac = {.dir = dir, .hsm = v->hsm, .mac_label = TV_HSM_DEV_MAC_LABEL};
  tv_status st = tv_audit_open(&v->audit, &ac);
  if (st != TV_OK) {
    return failf(st, err, err_len, "opening the audit log failed", dir);
  }
  return TV_OK;
}

tv_status tv_vault_open(tv_vault *out, const tv_options *opts, char *out_err, size_t out_err_len) {
  memset(out, 0, sizeof *out);
  out->dev = opts->dev;
  snprintf(out_err, out_err_len, "%s", "");
  tv_status st = make_dir(opts->data_dir);
  if (st != TV_OK) {
    return failf(st, out_err, out_err_len, "cannot create the data directory", opts->data_dir);
  }
  st = open_hsm(out, opts, out_err, out_err_len);
  if (st == TV_OK) {
    st = open_keyring(out, opts, out_err, out_err_len);
  }
  if (st == TV_OK) {
    st = open_engine(out, opts, out_err, out_err_len);
  }
  if (st == TV_OK) {
    st = open_audit(out, opts, out_err, out_err_len);
  }
  if (st != TV_OK) {
    (void)tv_vault_close(out);
  }
  return st;
}

tv_status tv_vault_close(tv_vault *vault) {
  /* The engine goes first: tv_engine_free waits until every completion
   * callback has returned, and those callbacks append to the audit log. */
  tv_engine_free(vault->engine);
  tv_status st = TV_OK;
  if (vault->audit != NULL) {
    st = tv_audit_close(vault->audit);
  }
  tv_store_close(vault->store);
  tv_keyring_free(vault->keyring);
  tv_hsm_free(vault->hsm);
  memset(vault, 0, sizeof *vault);
  return st;
}
