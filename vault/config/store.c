/* store: where token records and the keyring live, and node_id: this
 * node's name in a fleet. Optional; the default is the embedded io_uring
 * log under data_dir (one node). `backend: postgres` puts both in a shared
 * PostgreSQL database (vault/store/pg) so several nodes serve one vault.
 * A password never comes from the config: the conninfo is checked for one
 * by tokenvaultd (libpq parses it), and password_file names a libpq
 * password file instead. */
#include <string.h>

#include "vault/config/config.h"
#include "vault/config/config_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The database's timing: the statement timeout on every store connection
 * and the lease on once-per-fleet work (defaults set by cfg_parse_store). */
static tv_status parse_postgres_timing(cfg_ctx *ctx, const yaml_node_t *pg) {
  config_store *out = &ctx->cfg->store;
  TV_TRY(cfg_get_uint(ctx, pg, "statement_timeout_ms", CONFIG_PG_STATEMENT_TIMEOUT_MS_MIN,
                      CONFIG_PG_STATEMENT_TIMEOUT_MS_MAX, &out->statement_timeout_ms));
  return cfg_get_uint(ctx, pg, "lease_ms", CONFIG_PG_LEASE_MS_MIN, CONFIG_PG_LEASE_MS_MAX, &out->lease_ms);
}

/* Reads from a hot standby (issue 11): read_conninfo names it (checked
 * for a password by tokenvaultd, like conninfo), read_lag_max_ms bounds
 * how stale a read from it may be. */
static tv_status parse_read_replica(cfg_ctx *ctx, const yaml_node_t *pg, config_store *out) {
  TV_TRY(cfg_get_string(ctx, pg, "read_conninfo", out->read_conninfo, sizeof out->read_conninfo));
  TV_TRY(cfg_get_uint(ctx, pg, "read_lag_max_ms", CONFIG_READ_LAG_MAX_MS_MIN, CONFIG_READ_LAG_MAX_MS_MAX,
                      &out->read_lag_max_ms));
  if (out->read_lag_max_ms == 0 || out->read_conninfo[0] != '\0') {
    return TV_OK;
  }
  size_t mark = cfg_path_push_key(ctx, "read_lag_max_ms");
  tv_status status = cfg_fail(ctx, cfg_map_key_node(ctx, pg, "read_lag_max_ms"), TV_E_CONFIG_VALUE,
                              "needs read_conninfo (the standby whose reads it bounds)");
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status parse_postgres(cfg_ctx *ctx, const yaml_node_t *store) {
  static const cfg_key keys[] = {{"conninfo", 1},      {"password_file", 0}, {"statement_timeout_ms", 0},
                                 {"lease_ms", 0},      {"read_conninfo", 0}, {"read_lag_max_ms", 0}};
  config_store *out = &ctx->cfg->store;
  yaml_node_t *pg = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, store, "postgres", &pg, &mark));
  if (pg == NULL) {
    if (out->backend == CONFIG_STORE_POSTGRES) {
      return cfg_fail(ctx, store, TV_E_CONFIG_MISSING, "backend postgres needs a postgres block with conninfo");
    }
    return TV_OK;
  }
  tv_status status = cfg_map_check(ctx, pg, keys, COUNT(keys));
  if (status == TV_OK) {
    status = cfg_get_string(ctx, pg, "conninfo", out->conninfo, sizeof out->conninfo);
  }
  if (status == TV_OK) {
    status = cfg_get_string(ctx, pg, "password_file", out->password_file, sizeof out->password_file);
  }
  if (status == TV_OK) {
    status = parse_postgres_timing(ctx, pg);
  }
  if (status == TV_OK) {
    status = parse_read_replica(ctx, pg, out);
  }
  if (status == TV_OK && out->backend != CONFIG_STORE_POSTGRES) {
    status = cfg_fail(ctx, pg, TV_E_CONFIG_VALUE, "a postgres block needs backend: postgres");
  }
  cfg_path_pop(ctx, mark);
  return status;
}

tv_status cfg_parse_store(cfg_ctx *ctx, const yaml_node_t *root) {
  static const cfg_key keys[] = {{"backend", 0}, {"postgres", 0}};
  static const char *const backends[] = {"log", "postgres"};
  config_store *out = &ctx->cfg->store;
  out->backend = CONFIG_STORE_LOG;
  out->statement_timeout_ms = CONFIG_PG_STATEMENT_TIMEOUT_MS_DEFAULT;
  out->lease_ms = CONFIG_PG_LEASE_MS_DEFAULT;
  yaml_node_t *store = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, "store", &store, &mark));
  if (store == NULL) {
    return TV_OK;
  }
  tv_status status = cfg_map_check(ctx, store, keys, COUNT(keys));
  if (status == TV_OK) {
    status = cfg_get_enum(ctx, store, "backend", backends, COUNT(backends), &out->backend);
  }
  if (status == TV_OK) {
    status = parse_postgres(ctx, store);
  }
  cfg_path_pop(ctx, mark);
  return status;
}

/* A node's name goes into the shared keyring row (who wrote it) and logs:
 * 1..64 bytes of [A-Za-z0-9_.-]. "" (absent): the host name. */
tv_status cfg_parse_node_id(cfg_ctx *ctx, const yaml_node_t *root) {
  char *id = ctx->cfg->node_id;
  TV_TRY(cfg_get_string(ctx, root, "node_id", id, sizeof ctx->cfg->node_id));
  size_t len = strlen(id); /* 0: absent (cfg_get_string refuses "") */
  if (strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == len) {
    return TV_OK;
  }
  size_t mark = cfg_path_push_key(ctx, "node_id");
  tv_status status = cfg_fail(ctx, cfg_map_key_node(ctx, root, "node_id"), TV_E_CONFIG_VALUE,
                              "must be 1..%u characters of A-Z a-z 0-9 _ . -, got '%s'", CONFIG_NODE_ID_LEN_MAX, id);
  cfg_path_pop(ctx, mark);
  return status;
}
