/* Loading the daemon configuration: the file, the YAML document, and the
 * top-level sections (listen, tls, data_dir, hsm, metrics, audit). The
 * namespaces and the policy have their own files. */
#include "vault/config/config.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/config/config_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const cfg_key root_keys[] = {
    {"listen", 1}, {"tls", 0},        {"data_dir", 1},   {"hsm", 1},       {"metrics", 0},
    {"audit", 1},  {"namespaces", 1}, {"roles", 0},      {"principals", 0}, {"rotation", 0},
    {"server", 0}, {"http", 0},       {"store", 0},      {"node_id", 0},
};

/* "host:port" with a port in 1..65535; "[v6]:port" for IPv6. */
static int address_ok(const char *text, int *out_loopback) {
  const char *colon = strrchr(text, ':');
  if (colon == NULL || colon == text || colon[1] == '\0') {
    return 0;
  }
  size_t port_len = strlen(colon + 1);
  if (port_len > 5 || strspn(colon + 1, "0123456789") != port_len) {
    return 0;
  }
  unsigned long port = strtoul(colon + 1, NULL, 10);
  size_t host_len = (size_t)(colon - text);
  *out_loopback = (host_len == 9 && strncmp(text, "127.0.0.1", 9) == 0) ||
                  (host_len == 5 && strncmp(text, "[::1]", 5) == 0) ||
                  (host_len == 9 && strncmp(text, "localhost", 9) == 0);
  return port >= 1 && port <= 65535;
}

static tv_status parse_address(cfg_ctx *ctx, const yaml_node_t *map, const char *key, char *out,
                               size_t out_cap, int *out_loopback) {
  yaml_node_t *node = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, map, key, &node, &mark));
  if (node == NULL) {
    return TV_OK;
  }
  const char *text = NULL;
  tv_status status = cfg_scalar_text(ctx, node, &text);
  if (status == TV_OK) {
    size_t len = strlen(text);
    if (len == 0 || len >= out_cap || !address_ok(text, out_loopback)) {
      status = cfg_fail(ctx, node, TV_E_CONFIG_VALUE,
                        "expected HOST:PORT (IPv6 as [ADDR]:PORT), got '%s'", text);
    } else {
      memcpy(out, text, len + 1);
    }
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status parse_tls(cfg_ctx *ctx, const yaml_node_t *root) {
  static const cfg_key keys[] = {{"cert", 1}, {"key", 1}, {"client_ca", 1}};
  yaml_node_t *tls = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, "tls", &tls, &mark));
  if (tls == NULL) {
    return TV_OK;
  }
  config_tls *out = &ctx->cfg->tls;
  tv_status status = cfg_map_check(ctx, tls, keys, COUNT(keys));
  if (status == TV_OK) {
    status = cfg_get_string(ctx, tls, "cert", out->cert_file, sizeof(out->cert_file));
  }
  if (status == TV_OK) {
    status = cfg_get_string(ctx, tls, "key", out->key_file, sizeof(out->key_file));
  }
  if (status == TV_OK) {
    status = cfg_get_string(ctx, tls, "client_ca", out->client_ca_file, sizeof(out->client_ca_file));
  }
  out->enabled = status == TV_OK;
  cfg_path_pop(ctx, mark);
  return status;
}

/* exactly_one: of two alternative keys, one and only one is present. */
static tv_status exactly_one(cfg_ctx *ctx, const yaml_node_t *map, const char *a, const char *b) {
  const yaml_node_t *ka = cfg_map_key_node(ctx, map, a);
  const yaml_node_t *kb = cfg_map_key_node(ctx, map, b);
  if ((ka == NULL) != (kb == NULL)) {
    return TV_OK;
  }
  if (ka == NULL) {
    return cfg_fail(ctx, map, TV_E_CONFIG_MISSING, "needs %s or %s", a, b);
  }
  return cfg_fail(ctx, kb, TV_E_CONFIG_VALUE, "give %s or %s, not both", a, b);
}

static tv_status hsm_fields(cfg_ctx *ctx, const yaml_node_t *hsm, config_hsm *out) {
  static const cfg_key keys[] = {{"module", 1},   {"token_label", 0}, {"token_serial", 0},
                                 {"pin_file", 0}, {"pin_env", 0},     {"kek_label", 0},
                                 {"mac_label", 0}};
  const yaml_node_t *pin = cfg_map_key_node(ctx, hsm, "pin");
  if (pin != NULL) {
    size_t mark = cfg_path_push_key(ctx, "pin");
    tv_status status = cfg_fail(
        ctx, pin, TV_E_CONFIG_SECRET,
        "a PIN is never read from the config file (it would end up in backups, version "
        "control and process listings); use pin_file: PATH or pin_env: VARIABLE");
    cfg_path_pop(ctx, mark);
    return status;
  }
  TV_TRY(cfg_map_check(ctx, hsm, keys, COUNT(keys)));
  TV_TRY(exactly_one(ctx, hsm, "token_label", "token_serial"));
  TV_TRY(exactly_one(ctx, hsm, "pin_file", "pin_env"));
  TV_TRY(cfg_get_string(ctx, hsm, "module", out->module_path, sizeof(out->module_path)));
  TV_TRY(cfg_get_string(ctx, hsm, "token_label", out->token_label, sizeof(out->token_label)));
  TV_TRY(cfg_get_string(ctx, hsm, "token_serial", out->token_serial, sizeof(out->token_serial)));
  TV_TRY(cfg_get_string(ctx, hsm, "pin_file", out->pin_file, sizeof(out->pin_file)));
  TV_TRY(cfg_get_string(ctx, hsm, "pin_env", out->pin_env, sizeof(out->pin_env)));
  TV_TRY(cfg_get_string(ctx, hsm, "kek_label", out->kek_label, sizeof(out->kek_label)));
  TV_TRY(cfg_get_string(ctx, hsm, "mac_label", out->mac_label, sizeof(out->mac_label)));
  return TV_OK;
}

static tv_status parse_hsm(cfg_ctx *ctx, const yaml_node_t *root) {
  yaml_node_t *hsm = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, "hsm", &hsm, &mark));
  assert(hsm != NULL); /* required */
  (void)snprintf(ctx->cfg->hsm.kek_label, sizeof(ctx->cfg->hsm.kek_label), "tokenvault-kek-1");
  (void)snprintf(ctx->cfg->hsm.mac_label, sizeof(ctx->cfg->hsm.mac_label), "tokenvault-mac-1");
  tv_status status = cfg_expect_type(ctx, hsm, YAML_MAPPING_NODE);
  if (status == TV_OK) {
    status = hsm_fields(ctx, hsm, &ctx->cfg->hsm);
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status parse_metrics(cfg_ctx *ctx, const yaml_node_t *root) {
  static const cfg_key keys[] = {{"listen", 1}};
  yaml_node_t *metrics = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, "metrics", &metrics, &mark));
  if (metrics == NULL) {
    return TV_OK;
  }
  int loopback = 0;
  tv_status status = cfg_map_check(ctx, metrics, keys, COUNT(keys));
  if (status == TV_OK) {
    status = parse_address(ctx, metrics, "listen", ctx->cfg->metrics_listen,
                           sizeof(ctx->cfg->metrics_listen), &loopback);
  }
  cfg_path_pop(ctx, mark);
  return status;
}

/* http.listen: the HTTP/JSON API's address (vault/server/http/); tokenvaultd
 * decides whether it may be served (phase 1: --dev only). */
static tv_status parse_http(cfg_ctx *ctx, const yaml_node_t *root) {
  static const cfg_key keys[] = {{"listen", 1}};
  yaml_node_t *http = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, "http", &http, &mark));
  if (http == NULL) {
    return TV_OK;
  }
  int loopback = 0;
  tv_status status = cfg_map_check(ctx, http, keys, COUNT(keys));
  if (status == TV_OK) {
    status = parse_address(ctx, http, "listen", ctx->cfg->http_listen, sizeof(ctx->cfg->http_listen), &loopback);
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status parse_audit(cfg_ctx *ctx, const yaml_node_t *root) {
  static const cfg_key keys[] = {{"dir", 1}, {"checkpoint_interval", 0}};
  /* An hour between MACed checkpoints is the most we let an undetected
   * truncation of the tail go unnoticed by the HSM-keyed check. */
  static const uint64_t interval_max_s = 3600;
  yaml_node_t *audit = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, "audit", &audit, &mark));
  assert(audit != NULL);
  config_audit *out = &ctx->cfg->audit;
  out->checkpoint_interval_s = 60;
  tv_status status = cfg_map_check(ctx, audit, keys, COUNT(keys));
  if (status == TV_OK) {
    status = cfg_get_string(ctx, audit, "dir", out->dir, sizeof(out->dir));
  }
  if (status == TV_OK) {
    status = cfg_get_duration(ctx, audit, "checkpoint_interval", interval_max_s,
                              &out->checkpoint_interval_s);
  }
  if (status == TV_OK && out->checkpoint_interval_s == 0) {
    status = cfg_fail(ctx, audit, TV_E_CONFIG_VALUE, "checkpoint_interval must be at least 1s");
  }
  cfg_path_pop(ctx, mark);
  return status;
}

/* rotation: how fast tokenvaultd's background rotation worker may go
 * (vault/service/rotation_worker.h). Optional; 0 re-encryption rate is
 * unlimited, the compaction rate defaults to 64 MiB/s. */
static tv_status parse_rotation(cfg_ctx *ctx, const yaml_node_t *root) {
  static const cfg_key keys[] = {{"reencrypt_records_per_s", 0}, {"compact_bytes_per_s", 0}};
  config_rotation *out = &ctx->cfg->rotation;
  out->compact_bytes_per_s = CONFIG_COMPACT_BYTES_PER_S_DEFAULT;
  yaml_node_t *rotation = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, "rotation", &rotation, &mark));
  if (rotation == NULL) {
    return TV_OK;
  }
  tv_status status = cfg_map_check(ctx, rotation, keys, COUNT(keys));
  if (status == TV_OK) {
    status = cfg_get_uint(ctx, rotation, "reencrypt_records_per_s", 0, UINT32_MAX,
                          &out->reencrypt_records_per_s);
  }
  if (status == TV_OK) { /* at least 1 MiB/s: slower would take days on a real store */
    status = cfg_get_uint(ctx, rotation, "compact_bytes_per_s", UINT64_C(1) << 20, UINT64_C(1) << 40,
                          &out->compact_bytes_per_s);
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status parse_listen(cfg_ctx *ctx, const yaml_node_t *root) {
  int loopback = 0;
  tv_config *cfg = ctx->cfg;
  TV_TRY(parse_address(ctx, root, "listen", cfg->listen, sizeof(cfg->listen), &loopback));
  if (cfg->tls.enabled || loopback) {
    return TV_OK;
  }
  /* Without TLS there is no principal and no encryption: loopback only. */
  return cfg_fail(ctx, cfg_map_key_node(ctx, root, "listen"), TV_E_CONFIG_VALUE,
                  "listen: without a tls block the service only listens on loopback "
                  "(127.0.0.1, [::1] or localhost), got '%s'",
                  cfg->listen);
}

static tv_status parse_root(cfg_ctx *ctx, const yaml_node_t *root) {
  TV_TRY(cfg_map_check(ctx, root, root_keys, COUNT(root_keys)));
  TV_TRY(parse_tls(ctx, root));
  TV_TRY(parse_listen(ctx, root));
  TV_TRY(cfg_get_string(ctx, root, "data_dir", ctx->cfg->data_dir, sizeof(ctx->cfg->data_dir)));
  TV_TRY(parse_hsm(ctx, root));
  TV_TRY(parse_metrics(ctx, root));
  TV_TRY(parse_http(ctx, root));
  TV_TRY(parse_audit(ctx, root));
  TV_TRY(parse_rotation(ctx, root));
  TV_TRY(cfg_parse_server(ctx, root));
  TV_TRY(cfg_parse_store(ctx, root));
  TV_TRY(cfg_parse_node_id(ctx, root));
  yaml_node_t *namespaces = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, "namespaces", &namespaces, &mark));
  tv_status status = cfg_parse_namespaces(ctx, namespaces);
  cfg_path_pop(ctx, mark);
  TV_TRY(status);
  return cfg_parse_policy(ctx, root);
}

/* depth_check walks the event stream once before the document is built
 * and stops at the first node nested deeper than CONFIG_DEPTH_MAX: the
 * real config is 5 deep, and libyaml's scanner slows down quadratically
 * with flow nesting ("[[[[..."), so deep input is refused before it costs
 * seconds. Syntax errors are left to the loader, which reports them. */
static tv_status depth_check(cfg_ctx *ctx, const char *text, size_t len) {
  yaml_parser_t parser;
  TV_ENSURE(yaml_parser_initialize(&parser), TV_E_NO_MEMORY);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  tv_status status = TV_OK;
  unsigned depth = 0;
  for (int done = 0; !done && status == TV_OK;) {
    yaml_event_t event;
    if (!yaml_parser_parse(&parser, &event)) {
      break;
    }
    if (event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT) {
      if (++depth > CONFIG_DEPTH_MAX) {
        status = cfg_fail(ctx, NULL, TV_E_CONFIG_TOO_LARGE, "line %u: nested deeper than %u levels",
                          (unsigned)event.start_mark.line + 1u, CONFIG_DEPTH_MAX);
      }
    } else if (event.type == YAML_SEQUENCE_END_EVENT || event.type == YAML_MAPPING_END_EVENT) {
      depth--;
    }
    done = event.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&event);
  }
  yaml_parser_delete(&parser);
  return status;
}

/* A second document would be silently ignored by the loader; a file that
 * holds two configs is a mistake worth stopping for. */
static tv_status refuse_second_document(cfg_ctx *ctx, yaml_parser_t *parser) {
  yaml_document_t next;
  if (!yaml_parser_load(parser, &next)) {
    unsigned line = (unsigned)parser->problem_mark.line + 1u;
    return cfg_fail(ctx, NULL, TV_E_CONFIG_SYNTAX, "after the document, line %u: %s", line,
                    parser->problem != NULL ? parser->problem : "malformed YAML");
  }
  yaml_node_t *root = yaml_document_get_root_node(&next);
  unsigned line = root != NULL ? (unsigned)root->start_mark.line + 1u : 0u;
  yaml_document_delete(&next);
  if (root != NULL) {
    return cfg_fail(ctx, NULL, TV_E_CONFIG_SYNTAX,
                    "a second YAML document starts on line %u; the config is one document", line);
  }
  return TV_OK;
}

static tv_status load_document(cfg_ctx *ctx, const char *text, size_t len) {
  yaml_parser_t parser;
  TV_ENSURE(yaml_parser_initialize(&parser), TV_E_NO_MEMORY);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  tv_status status = TV_OK;
  if (!yaml_parser_load(&parser, ctx->doc)) {
    unsigned line = (unsigned)parser.problem_mark.line + 1u;
    const char *problem = parser.problem != NULL ? parser.problem : "malformed YAML";
    if (ctx->err != NULL) {
      ctx->err->line = line;
      ctx->err->path[0] = '\0';
      (void)snprintf(ctx->err->text, sizeof(ctx->err->text), "config line %u: %s%s%s", line,
                     parser.context != NULL ? parser.context : "",
                     parser.context != NULL ? " " : "", problem);
    }
    status = parser.error == YAML_MEMORY_ERROR ? TV_E_NO_MEMORY : TV_E_CONFIG_SYNTAX;
  } else {
    status = refuse_second_document(ctx, &parser);
    if (status != TV_OK) {
      yaml_document_delete(ctx->doc);
    }
  }
  yaml_parser_delete(&parser);
  return status;
}

static tv_status parse_document(cfg_ctx *ctx) {
  yaml_node_t *root = yaml_document_get_root_node(ctx->doc);
  if (root == NULL) {
    return cfg_fail(ctx, NULL, TV_E_CONFIG_MISSING, "the file is empty");
  }
  ctx->nodes_len = (size_t)(ctx->doc->nodes.top - ctx->doc->nodes.start);
  ctx->visited = calloc(ctx->nodes_len, 1);
  TV_ENSURE(ctx->visited != NULL, TV_E_NO_MEMORY);
  tv_status status = cfg_node(ctx, 1, &root);
  if (status == TV_OK) {
    status = parse_root(ctx, root);
  }
  free(ctx->visited);
  ctx->visited = NULL;
  return status;
}

tv_status config_parse(const char *text, size_t len, tv_config **out_config, config_error *err) {
  TV_ENSURE(out_config != NULL && (text != NULL || len == 0), TV_E_INVALID_ARGUMENT);
  *out_config = NULL;
  if (err != NULL) {
    memset(err, 0, sizeof(*err));
  }
  cfg_ctx ctx = {.err = err};
  if (len > CONFIG_FILE_BYTES_MAX) {
    return cfg_fail(&ctx, NULL, TV_E_CONFIG_TOO_LARGE, "file is larger than %u bytes",
                    CONFIG_FILE_BYTES_MAX);
  }
  yaml_document_t doc;
  ctx.doc = &doc;
  TV_TRY(depth_check(&ctx, text != NULL ? text : "", len));
  TV_TRY(load_document(&ctx, text != NULL ? text : "", len));
  ctx.cfg = calloc(1, sizeof(*ctx.cfg));
  tv_status status = ctx.cfg != NULL ? parse_document(&ctx) : TV_E_NO_MEMORY;
  yaml_document_delete(&doc);
  if (status != TV_OK) {
    config_free(ctx.cfg);
    return status;
  }
  *out_config = ctx.cfg;
  return TV_OK;
}

tv_status config_load(const char *path, tv_config **out_config, config_error *err) {
  TV_ENSURE(path != NULL && out_config != NULL, TV_E_INVALID_ARGUMENT);
  *out_config = NULL;
  cfg_ctx ctx = {.err = err};
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return cfg_fail(&ctx, NULL, TV_E_CONFIG_IO, "cannot open %s: %s", path, strerror(errno));
  }
  char *buf = malloc(CONFIG_FILE_BYTES_MAX + 1);
  size_t len = buf != NULL ? fread(buf, 1, CONFIG_FILE_BYTES_MAX + 1, f) : 0;
  int failed = buf == NULL || ferror(f);
  fclose(f);
  tv_status status = TV_OK;
  if (failed) {
    status = buf == NULL ? TV_E_NO_MEMORY
                         : cfg_fail(&ctx, NULL, TV_E_CONFIG_IO, "cannot read %s", path);
  } else {
    status = config_parse(buf, len, out_config, err);
  }
  free(buf);
  return status;
}

const config_namespace *config_find_namespace(const tv_config *config, const char *name) {
  for (size_t i = 0; config != NULL && name != NULL && i < config->namespaces_len; i++) {
    if (strcmp(config->namespaces[i].name, name) == 0) {
      return &config->namespaces[i];
    }
  }
  return NULL;
}

tv_policy *config_take_policy(tv_config *config) {
  tv_policy *p = config->policy;
  config->policy = NULL;
  return p;
}

void config_free(tv_config *config) {
  if (config == NULL) {
    return;
  }
  policy_release(config->policy);
  free(config);
}
