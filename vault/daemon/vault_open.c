#include "vault/daemon/vault_open.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsm/counter.h"
#include "hsm/dev_init.h"
#include "vault/daemon/keyring_start.h"
#include "vault/store/pg/pg_counter_lock.h"
#include "vault/store/pg/pg_keyring.h"
#include "vault/store/pg/pg_store.h"
#include "vault/service/log.h"
#include "vault/service/refusal_audit.h"
#include "vault/service/tokenize_meter.h"
#include "vault/util/dir_sync.h"

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

/* make_dir makes |path| durably (its parent fsynced) if it is missing. */
static tv_status make_dir(const char *path) {
  int err = tv_mkdir_durable(path);
  return err == 0 || err == EEXIST ? TV_OK : TV_E_IO;
}

/* --dev: the SoftHSM2 token in <data>/hsm, made on the first start. The
 * module reads SOFTHSM2_CONF when first loaded, so it is set before. */
static tv_status open_dev_hsm(tv_vault *v, const tv_settings *opts, char *err, size_t err_len) {
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

static tv_status open_hsm(tv_vault *v, const tv_settings *opts, char *err, size_t err_len) {
  if (opts->dev) {
    return open_dev_hsm(v, opts, err, err_len);
  }
  if ((opts->hsm_token_label == NULL && opts->hsm_token_serial == NULL) ||
      (opts->hsm_pin_file == NULL) == (opts->hsm_pin_env == NULL)) {
    snprintf(err, err_len, "the HSM needs a token (--hsm-token-label or hsm.token_label/token_serial) and "
                           "exactly one PIN source (--hsm-pin-file, --hsm-pin-env, hsm.pin_file or hsm.pin_env)");
    return TV_E_SERVER_CONFIG;
  }
  tv_hsm_config hc = {.module_path = opts->hsm_module,
                      .token_label = opts->hsm_token_label,
                      .token_serial = opts->hsm_token_serial,
                      .pin_kind = opts->hsm_pin_file != NULL ? TV_HSM_PIN_FILE : TV_HSM_PIN_ENV,
                      .pin_source = opts->hsm_pin_file != NULL ? opts->hsm_pin_file : opts->hsm_pin_env};
  tv_status st = tv_hsm_open(&v->hsm, &hc);
  if (st != TV_OK) {
    return failf(st, err, err_len, "opening the HSM failed", tv_hsm_error_detail());
  }
  return TV_OK;
}

/* The facts tv_keyring_start_decide judges by. Only a missing keyring
 * needs the HSM's generation; reading it changes nothing. */
static tv_status keyring_facts(tv_vault *v, const tv_settings *opts, const char *path, tv_keyring_start_facts *f) {
  struct stat sb;
  tv_store_stats st;
  tv_store_get_stats(v->store, &st);
  *f = (tv_keyring_start_facts){.data_dir = opts->data_dir, .keyring_exists = lstat(path, &sb) == 0 || errno != ENOENT,
                                .dev = opts->dev, .init = opts->init, .store_records = st.log_records + st.records};
  if (f->keyring_exists) {
    return TV_OK;
  }
  tv_status hst = tv_hsm_counter_read(v->hsm, &f->hsm_generation, TV_KEYRING_COUNTER_LABEL_DEFAULT);
  f->hsm_has_generation = hst == TV_OK;
  return hst == TV_E_HSM_KEY_NOT_FOUND ? TV_OK : hst;
}

static void log_keyring_created(const tv_settings *opts, const char *where) {
  tv_log_line line;
  tv_log_begin(&line, "info", "keyring_created");
  tv_log_str(&line, "path", where);
  tv_log_str(&line, "why", opts->init ? "--init, empty store, no keyring generation on the HSM"
                                      : "--dev first start: empty store, no keyring generation on the HSM");
  tv_log_end(&line);
}

/* Every configured namespace has keys (added by the first node to start
 * with it; the others find them). */
static tv_status add_namespaces(tv_vault *v, char *err, size_t err_len) {
  for (size_t i = 0; i < v->config->namespaces_len; i++) {
    const char *name = v->config->namespaces[i].name;
    tv_status st = tv_keyring_add_namespace(v->keyring, name);
    if (st != TV_OK && st != TV_E_KEYRING_NAMESPACE_EXISTS) {
      return failf(st, err, err_len, "adding namespace keys failed", name);
    }
  }
  return TV_OK;
}

/* The decision's facts for a fleet node: the row and the tokens in the
 * database, the HSM's generation when there is no row. */
static tv_status shared_keyring_facts(tv_vault *v, const tv_settings *opts, tv_keyring_start_facts *f) {
  int exists = 0, tokens = 0;
  TV_TRY(tv_pg_keyring_facts(v->pg_keyring, &exists, &tokens));
  *f = (tv_keyring_start_facts){.data_dir = opts->data_dir, .keyring_exists = exists, .dev = opts->dev,
                                .init = opts->init, .store_records = (uint64_t)tokens, .shared = 1};
  if (exists) {
    return TV_OK;
  }
  tv_status hst = tv_hsm_counter_read(v->hsm, &f->hsm_generation, TV_KEYRING_COUNTER_LABEL_DEFAULT);
  f->hsm_has_generation = hst == TV_OK;
  return hst == TV_E_HSM_KEY_NOT_FOUND ? TV_OK : hst;
}

/* A fleet node's keyring: the row of tv_keyring, verified like the file,
 * refreshed in the background so other nodes' changes apply here. Two
 * first nodes racing to create it: one wins, the other opens its row. */
static tv_status open_shared_keyring(tv_vault *v, const tv_settings *opts, char *err, size_t err_len) {
  static const char where[] = "the keyring in the database (store.postgres.conninfo, table tv_keyring)";
  char why[768] = "";
  tv_status st = tv_pg_keyring_new(&v->pg_keyring, opts->pg_conninfo, opts->node_id, why, sizeof why);
  if (st != TV_OK) {
    return failf(st, err, err_len, "store.postgres.conninfo: opening the keyring table failed", why);
  }
  tv_keyring_start_facts facts;
  st = shared_keyring_facts(v, opts, &facts);
  if (st != TV_OK) {
    return failf(st, err, err_len, "reading the keyring facts (database, HSM generation) failed", where);
  }
  tv_keyring_start_action action = tv_keyring_start_decide(&facts, why, sizeof why);
  if (action == TV_KEYRING_START_REFUSE) {
    snprintf(err, err_len, "%s", why);
    return TV_E_KEYRING_NOT_FOUND;
  }
  tv_keyring_persist persist;
  tv_pg_keyring_persist(v->pg_keyring, &persist);
  tv_keyring_options ko = {.path = "tv_keyring", .mac_label = opts->mac_label, .kek_label = opts->kek_label,
                           .persist = &persist, .refresh_ms = TV_KEYRING_REFRESH_MS_DEFAULT};
  st = action == TV_KEYRING_START_CREATE ? tv_keyring_create(&v->keyring, v->hsm, &ko) : TV_E_KEYRING_EXISTS;
  if (st == TV_E_KEYRING_EXISTS) {
    st = tv_keyring_open(&v->keyring, v->hsm, &ko);
  } else if (st == TV_OK) {
    log_keyring_created(opts, where);
  }
  if (st != TV_OK) {
    return failf(st, err, err_len, "opening the keyring failed",
                 st == TV_E_KEYRING_MAC ? "the keyring in the database (table tv_keyring) was made under another "
                                          "HSM key (hsm.mac_label on another token) or altered"
                                        : where);
  }
  return add_namespaces(v, err, err_len);
}

/* The keyring: created only for a new vault (keyring_start.h). */
static tv_status open_keyring(tv_vault *v, const tv_settings *opts, char *err, size_t err_len) {
  if (opts->store_postgres) {
    return open_shared_keyring(v, opts, err, err_len);
  }
  char path[PATH_MAX];
  if (join(path, opts->data_dir, "keyring") != TV_OK) {
    return failf(TV_E_INVALID_ARGUMENT, err, err_len, "--data-dir is too long", NULL);
  }
  tv_keyring_start_facts facts;
  tv_status st = keyring_facts(v, opts, path, &facts);
  if (st != TV_OK) {
    return failf(st, err, err_len, "reading the keyring generation from the HSM failed", tv_hsm_error_detail());
  }
  char why[768];
  tv_keyring_start_action action = tv_keyring_start_decide(&facts, why, sizeof why);
  if (action == TV_KEYRING_START_REFUSE) {
    snprintf(err, err_len, "%s", why);
    return facts.keyring_exists ? TV_E_SERVER_CONFIG : TV_E_KEYRING_NOT_FOUND;
  }
  tv_keyring_options ko = {.path = path, .mac_label = opts->mac_label, .kek_label = opts->kek_label};
  st = action == TV_KEYRING_START_CREATE ? tv_keyring_create(&v->keyring, v->hsm, &ko)
                                         : tv_keyring_open(&v->keyring, v->hsm, &ko);
  if (st != TV_OK) {
    return failf(st, err, err_len, "opening the keyring failed", path);
  }
  if (action == TV_KEYRING_START_CREATE) {
    log_keyring_created(opts, path);
  }
  return add_namespaces(v, err, err_len);
}

/* The operator needs the file and offset of damage, and what to do. */
static tv_status store_open_failed(tv_status st, const tv_store_diag *diag, const char *dir, char *err,
                                   size_t err_len) {
  char detail[TV_STORE_PATH_LEN_MAX + 400];
  if (diag->path[0] == '\0') {
    return failf(st, err, err_len, "opening the store failed", dir);
  }
  if (diag->io_failure) { /* a failed call, not damage at an offset */
    snprintf(detail, sizeof detail, "%s: %s", diag->path, diag->message);
    return failf(st, err, err_len, "opening the store failed", detail);
  }
  snprintf(detail, sizeof detail, "%s at offset %llu: %s%s", diag->path, (unsigned long long)diag->offset,
           diag->message,
           st == TV_E_STORE_CORRUPT ? " (stop here; `tokenvault store repair --data-dir DIR` keeps every "
                                      "intact record and reports what was lost)"
                                    : "");
  return failf(st, err, err_len, "opening the store failed", detail);
}

/* log_store_open reports what the store's open did to the log: every
 * cut of a torn tail and a checkpoint it could not use are warnings an
 * operator must see (the store itself logs nothing). */
static void log_store_open(tv_store *store, const char *dir) {
  tv_store_open_report r;
  tv_store_get_open_report(store, &r);
  tv_log_line line;
  if (r.tail_bytes > 0) {
    tv_log_begin(&line, "warn", "store_tail_cut");
    tv_log_str(&line, "segment", r.tail_segment);
    tv_log_int(&line, "offset", (int64_t)r.tail_offset);
    tv_log_int(&line, "bytes", (int64_t)r.tail_bytes);
    tv_log_int(&line, "records", (int64_t)r.tail_records);
    char kept[PATH_MAX + sizeof r.tail_kept_as];
    snprintf(kept, sizeof kept, "%s/%s", dir, r.tail_kept_as);
    tv_log_str(&line, "kept_as", kept);
    tv_log_str(&line, "why", "a torn write at the end of the log, never acknowledged (a crash during a write)");
    tv_log_end(&line);
  }
  if (r.checkpoint == TV_STORE_CKPT_DISCARDED) {
    tv_log_begin(&line, "warn", "store_checkpoint_discarded");
    tv_log_str(&line, "reason", r.checkpoint_why);
    tv_log_str(&line, "effect", "the whole log was replayed; a new checkpoint is written at the next close");
    tv_log_end(&line);
  }
  tv_log_begin(&line, "info", "store_opened");
  tv_log_str(&line, "checkpoint", r.checkpoint == TV_STORE_CKPT_USED ? "used"
                                  : r.checkpoint == TV_STORE_CKPT_NONE ? "none" : "discarded");
  tv_log_int(&line, "replayed_records", (int64_t)r.replayed_records);
  tv_log_end(&line);
}

/* Every HSM counter call of a fleet node (the keyring's generation, which
 * the nodes share, and its audit checkpoints: SoftHSM2's object store is
 * one per token) runs under the fleet's advisory lock, set before the
 * keyring and audit log first touch a counter (pg_counter_lock.h). While
 * the database is away an audit checkpoint cannot raise its counter, so
 * the node acknowledges nothing until it is back (its data calls fail
 * then anyway). */
static tv_status guard_counters(tv_vault *v, const tv_settings *opts, char *err, size_t err_len) {
  char why[256] = "";
  tv_status st = tv_pg_counter_lock_new(&v->pg_counter_lock, opts->pg_conninfo, why, sizeof why);
  if (st != TV_OK) {
    return failf(st, err, err_len, "store.postgres.conninfo: connecting for the HSM counter lock failed", why);
  }
  tv_hsm_counter_guard guard;
  tv_pg_counter_lock_guard(v->pg_counter_lock, &guard);
  tv_hsm_counter_guard_set(v->hsm, &guard);
  return TV_OK;
}

/* A fleet node's store: --init (and --dev's first start) creates or
 * migrates the schema; otherwise a missing or newer schema, an
 * unreachable database, refuses the start naming the setting. */
static tv_status open_pg_store(tv_vault *v, const tv_settings *opts, char *err, size_t err_len) {
  tv_store_diag diag;
  memset(&diag, 0, sizeof diag);
  tv_status st = TV_OK;
  if (opts->init || opts->dev) {
    st = tv_pg_schema_init(opts->pg_conninfo, &diag);
    if (st != TV_OK) {
      return failf(st, err, err_len, "store.postgres.conninfo: creating or migrating the schema failed",
                   diag.message);
    }
  }
  const config_store *cs = &opts->config->store;
  tv_store_options so = {.conninfo = opts->pg_conninfo,
                         .statement_timeout_ms = (uint32_t)cs->statement_timeout_ms,
                         .read_conninfo = opts->pg_read_conninfo[0] != '\0' ? opts->pg_read_conninfo : NULL,
                         .read_lag_max_ms = opts->pg_read_lag_max_ms};
  st = tv_store_open(&tv_store_backend_pg, &so, &v->store, &diag);
  if (st != TV_OK) {
    /* The store names the optional standby's settings "read_..." */
    const char *what = strncmp(diag.message, "read_", 5) == 0
                           ? "store.postgres.read_conninfo: opening the store failed"
                           : "store.postgres.conninfo: opening the database store failed";
    return failf(st, err, err_len, what, diag.message);
  }
  TV_TRY(guard_counters(v, opts, err, err_len));
  tv_log_line line;
  tv_log_begin(&line, "info", "store_opened");
  tv_log_str(&line, "backend", "postgres");
  tv_log_str(&line, "node_id", opts->node_id);
  tv_log_int(&line, "statement_timeout_ms", (int64_t)cs->statement_timeout_ms);
  tv_log_int(&line, "lease_ms", (int64_t)cs->lease_ms);
  tv_log_int(&line, "read_replica", so.read_conninfo != NULL);
  tv_log_end(&line);
  return TV_OK;
}

/* The store opens before the keyring: whether it holds records decides
 * whether a missing keyring may be created (keyring_start.h). */
static tv_status open_store(tv_vault *v, const tv_settings *opts, char *err, size_t err_len) {
  if (opts->store_postgres) {
    return open_pg_store(v, opts, err, err_len);
  }
  char dir[PATH_MAX];
  if (join(dir, opts->data_dir, "store") != TV_OK) {
    return failf(TV_E_INVALID_ARGUMENT, err, err_len, "--data-dir is too long", NULL);
  }
  /* An index checkpoint every million records (and one at close, which
   * the store adds) keeps restart time bounded as the log grows. */
  tv_store_options so = {.dir = dir, .checkpoint_records = 1000000u};
  tv_store_diag diag;
  memset(&diag, 0, sizeof diag);
  tv_status st = tv_store_open(NULL, &so, &v->store, &diag);
  if (st != TV_OK) {
    return store_open_failed(st, &diag, dir, err, err_len);
  }
  log_store_open(v->store, dir);
  return TV_OK;
}

static tv_status open_engine(tv_vault *v, char *err, size_t err_len) {
  tv_engine_options eo = {.store = v->store, .keyring = v->keyring};
  tv_status st = tv_engine_new(&v->engine, &eo);
  if (st != TV_OK) {
    return failf(st, err, err_len, "creating the engine failed", NULL);
  }
  for (size_t i = 0; i < v->config->namespaces_len; i++) {
    const config_namespace *c = &v->config->namespaces[i];
    tv_engine_namespace ns = {.format = c->format, .convergent = c->convergent,
                              .default_ttl_ms = c->default_ttl_s * 1000u};
    char why[256] = "";
    st = tv_engine_add_namespace(v->engine, &ns, why, sizeof why);
    if (st != TV_OK) {
      return failf(st, err, err_len, "configuring a namespace failed", why[0] != '\0' ? why : c->name);
    }
  }
  return TV_OK;
}

static tv_status open_audit(tv_vault *v, const tv_settings *opts, char *err, size_t err_len) {
  snprintf(v->audit_dir, sizeof v->audit_dir, "%s", opts->audit_dir);
  tv_audit_config ac = {.dir = opts->audit_dir, .hsm = v->hsm, .mac_label = opts->mac_label,
                        .checkpoint_interval_ms = opts->checkpoint_interval_ms};
  tv_status st = tv_audit_open(&v->audit, &ac);
  if (st != TV_OK) {
    return failf(st, err, err_len, "opening the audit log failed", opts->audit_dir);
  }
  st = tv_refusal_audit_start(&v->refusals, v->audit);
  if (st != TV_OK) {
    return failf(st, err, err_len, "starting the refused-call auditor failed", NULL);
  }
  return TV_OK;
}

/* The policy is published through a handle so a SIGHUP reload can swap
 * it while calls run; the meter outlives reloads so a reload never hands
 * anyone a fresh minute of reveals. */
static tv_status open_policy(tv_vault *v, tv_settings *opts, char *err, size_t err_len) {
  tv_policy *policy = config_take_policy(opts->config);
  if (policy == NULL) {
    return failf(TV_E_INVALID_ARGUMENT, err, err_len, "the configuration has no policy", NULL);
  }
  tv_status st = policy_handle_new(policy, &v->policy);
  if (st != TV_OK) {
    policy_release(policy);
    return failf(st, err, err_len, "publishing the policy failed", NULL);
  }
  st = policy_meter_new(NULL, NULL, &v->meter);
  if (st != TV_OK) {
    return failf(st, err, err_len, "allocating the reveal meter failed", NULL);
  }
  st = policy_group_meter_new(NULL, NULL, &v->group_meter);
  if (st != TV_OK) {
    return failf(st, err, err_len, "allocating the new-token meter failed", NULL);
  }
  svc_log_guessing_spaces(v->config);
  return TV_OK;
}

tv_status tv_vault_open(tv_vault *out, tv_settings *opts, char *out_err, size_t out_err_len) {
  memset(out, 0, sizeof *out);
  out->dev = opts->dev;
  out->plaintext = !opts->tls;
  out->config = opts->config;
  snprintf(out_err, out_err_len, "%s", "");
  TV_ENSURE(opts->config != NULL, TV_E_INVALID_ARGUMENT);
  tv_status st = make_dir(opts->data_dir);
  if (st != TV_OK) {
    return failf(st, out_err, out_err_len, "cannot create the data directory", opts->data_dir);
  }
  st = open_policy(out, opts, out_err, out_err_len);
  if (st == TV_OK) {
    st = open_hsm(out, opts, out_err, out_err_len);
  }
  if (st == TV_OK) {
    st = open_store(out, opts, out_err, out_err_len);
  }
  if (st == TV_OK) {
    st = open_keyring(out, opts, out_err, out_err_len);
  }
  if (st == TV_OK) {
    st = open_engine(out, out_err, out_err_len);
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
  /* The server has stopped: no refusal is reported any more, and the
   * queued ones reach the log before its final checkpoint. */
  tv_refusal_audit_stop(vault->refusals);
  tv_status st = TV_OK;
  if (vault->audit != NULL) {
    st = tv_audit_close(vault->audit);
  }
  tv_store_close(vault->store);
  tv_keyring_free(vault->keyring);
  tv_pg_keyring_free(vault->pg_keyring);
  if (vault->hsm != NULL) {
    tv_hsm_counter_guard_set(vault->hsm, NULL);
  }
  tv_pg_counter_lock_free(vault->pg_counter_lock);
  tv_hsm_free(vault->hsm);
  policy_meter_free(vault->meter);
  policy_group_meter_free(vault->group_meter);
  policy_handle_free(vault->policy);
  memset(vault, 0, sizeof *vault);
  return st;
}
