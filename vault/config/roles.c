/* roles and principals: the authorisation policy, built into a frozen
 * tv_policy. Names must refer to configured namespaces and roles, so a
 * typo in either is an error here and not a silent denial later. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/config/config_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Largest limits one can write; above them "no limit" (omit the key) is
 * the honest spelling. */
#define CONFIG_ITEMS_PER_REQUEST_MAX 100000000ull
#define CONFIG_REVEALS_PER_MINUTE_MAX 10000000000ull
#define CONFIG_TOKENIZE_PER_MINUTE_MAX 10000000000ull
/* The group meter's counters are 32 bits wide. */
#define CONFIG_NEW_TOKENS_PER_GROUP_MAX 4000000000ull

static size_t seq_len(const yaml_node_t *seq) {
  return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

/* seq_item visits item |i| of |seq| with "[i]" pushed; pop with *out_mark. */
static tv_status seq_item(cfg_ctx *ctx, const yaml_node_t *seq, size_t i, yaml_node_t **out_item,
                          size_t *out_mark) {
  *out_mark = cfg_path_push_index(ctx, i);
  tv_status status = cfg_node(ctx, seq->data.sequence.items.start[i], out_item);
  if (status != TV_OK) {
    cfg_path_pop(ctx, *out_mark);
  }
  return status;
}

/* item_text: the scalar item |i| of |seq| (path pushed as for seq_item). */
static tv_status item_text(cfg_ctx *ctx, const yaml_node_t *seq, size_t i, yaml_node_t **out_item,
                           const char **out_text, size_t *out_mark) {
  TV_TRY(seq_item(ctx, seq, i, out_item, out_mark));
  tv_status status = cfg_scalar_text(ctx, *out_item, out_text);
  if (status != TV_OK) {
    cfg_path_pop(ctx, *out_mark);
  }
  return status;
}

static tv_status grant_one(cfg_ctx *ctx, const char *role, const char *ns, const yaml_node_t *item,
                           const char *text) {
  tv_permission perm = TV_PERM_COUNT;
  if (policy_permission_parse(text, strlen(text), &perm) != TV_OK) {
    return cfg_fail(ctx, item, TV_E_CONFIG_VALUE,
                    "must be one of tokenize, detokenize:masked, detokenize:full, delete, "
                    "keys:read, keys:rotate, keys:approve, audit:read, got '%s'",
                    text);
  }
  if (policy_role_grant(ctx->cfg->policy, role, ns, perm) != TV_OK) {
    return cfg_fail(ctx, item, TV_E_CONFIG_VALUE,
                    "'%s' needs a named namespace: '*' only carries keys:read, keys:rotate, "
                    "keys:approve and audit:read",
                    text);
  }
  return TV_OK;
}

static tv_status parse_grant(cfg_ctx *ctx, const char *role, const yaml_node_t *map) {
  static const cfg_key keys[] = {{"namespace", 1}, {"allow", 1}};
  TV_TRY(cfg_map_check(ctx, map, keys, COUNT(keys)));
  char ns[FORMAT_NAMESPACE_LEN_MAX + 1] = "";
  TV_TRY(cfg_get_string(ctx, map, "namespace", ns, sizeof(ns)));
  if (strcmp(ns, POLICY_NAMESPACE_ANY) != 0 && config_find_namespace(ctx->cfg, ns) == NULL) {
    size_t mark = cfg_path_push_key(ctx, "namespace");
    tv_status status = cfg_fail(ctx, cfg_map_key_node(ctx, map, "namespace"), TV_E_CONFIG_VALUE,
                                "unknown namespace '%s' (not under namespaces:)", ns);
    cfg_path_pop(ctx, mark);
    return status;
  }
  yaml_node_t *allow = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, map, "allow", &allow, &mark));
  tv_status status = cfg_expect_type(ctx, allow, YAML_SEQUENCE_NODE);
  for (size_t i = 0; status == TV_OK && i < seq_len(allow); i++) {
    yaml_node_t *item = NULL;
    const char *text = NULL;
    size_t item_mark = 0;
    status = item_text(ctx, allow, i, &item, &text, &item_mark);
    if (status == TV_OK) {
      status = grant_one(ctx, role, ns, item, text);
      cfg_path_pop(ctx, item_mark);
    }
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status parse_networks(cfg_ctx *ctx, const char *role, const yaml_node_t *seq) {
  TV_TRY(cfg_expect_type(ctx, seq, YAML_SEQUENCE_NODE));
  if (seq_len(seq) > POLICY_NETWORKS_MAX) {
    return cfg_fail(ctx, seq, TV_E_CONFIG_TOO_LARGE, "%zu networks, at most %u", seq_len(seq),
                    POLICY_NETWORKS_MAX);
  }
  for (size_t i = 0; i < seq_len(seq); i++) {
    yaml_node_t *item = NULL;
    const char *text = NULL;
    size_t mark = 0;
    TV_TRY(item_text(ctx, seq, i, &item, &text, &mark));
    tv_status status = TV_OK;
    if (policy_role_allow_network(ctx->cfg->policy, role, text) != TV_OK) {
      status = cfg_fail(ctx, item, TV_E_CONFIG_VALUE,
                        "not a CIDR network (e.g. 10.0.0.0/8 or fd00::/8, host bits zero): '%s'",
                        text);
    }
    cfg_path_pop(ctx, mark);
    TV_TRY(status);
  }
  return TV_OK;
}

static tv_status add_role(cfg_ctx *ctx, const yaml_node_t *at, const char *name,
                          const policy_limits *limits) {
  tv_status status = policy_add_role(ctx->cfg->policy, name, limits);
  if (status == TV_E_POLICY_LIMIT) {
    return cfg_fail(ctx, at, TV_E_CONFIG_TOO_LARGE, "more than %u roles", POLICY_ROLES_MAX);
  }
  if (status != TV_OK) {
    return cfg_fail(ctx, at, TV_E_CONFIG_VALUE, "role '%s' refused", name);
  }
  return TV_OK;
}

/* limits_fields reads the limits (not the networks) of the mapping |map|. */
static tv_status limits_fields(cfg_ctx *ctx, const yaml_node_t *map, policy_limits *out) {
  static const cfg_key keys[] = {{"items_per_request", 0},
                                 {"reveals_per_minute", 0},
                                 {"require_reason", 0},
                                 {"tokenize_per_minute", 0},
                                 {"new_tokens_per_kept_group", 0},
                                 {"networks", 0}};
  uint64_t items = 0;
  TV_TRY(cfg_map_check(ctx, map, keys, COUNT(keys)));
  TV_TRY(cfg_get_uint(ctx, map, "items_per_request", 1, CONFIG_ITEMS_PER_REQUEST_MAX, &items));
  TV_TRY(cfg_get_uint(ctx, map, "reveals_per_minute", 1, CONFIG_REVEALS_PER_MINUTE_MAX,
                      &out->reveals_per_minute_max));
  TV_TRY(cfg_get_bool(ctx, map, "require_reason", &out->require_reason));
  TV_TRY(cfg_get_uint(ctx, map, "tokenize_per_minute", 1, CONFIG_TOKENIZE_PER_MINUTE_MAX,
                      &out->tokenize_per_minute_max));
  /* 0 switches the group limit off for this role; absent keeps
   * POLICY_GROUP_LIMIT_AUTO (each namespace's default). */
  TV_TRY(cfg_get_uint(ctx, map, "new_tokens_per_kept_group", 0, CONFIG_NEW_TOKENS_PER_GROUP_MAX,
                      &out->new_tokens_per_kept_group));
  out->items_max = (uint32_t)items;
  return TV_OK;
}

/* role_with_limits adds role |name| with its `limits:` (absent: none) and
 * then its networks, which need the role to exist. */
static tv_status role_with_limits(cfg_ctx *ctx, const yaml_node_t *role_map, const char *name) {
  policy_limits limits = {.new_tokens_per_kept_group = POLICY_GROUP_LIMIT_AUTO};
  yaml_node_t *map = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, role_map, "limits", &map, &mark));
  if (map == NULL) {
    return add_role(ctx, role_map, name, &limits);
  }
  tv_status status = limits_fields(ctx, map, &limits);
  if (status == TV_OK) {
    status = add_role(ctx, map, name, &limits);
  }
  yaml_node_t *networks = NULL;
  size_t net_mark = 0;
  if (status == TV_OK) {
    status = cfg_map_get(ctx, map, "networks", &networks, &net_mark);
  }
  if (status == TV_OK && networks != NULL) {
    status = parse_networks(ctx, name, networks);
    cfg_path_pop(ctx, net_mark);
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status role_name(cfg_ctx *ctx, const yaml_node_t *map, char *name, size_t name_cap) {
  TV_TRY(cfg_get_string(ctx, map, "name", name, name_cap));
  const yaml_node_t *key = cfg_map_key_node(ctx, map, "name");
  size_t len = strlen(name);
  tv_status status = TV_OK;
  size_t mark = cfg_path_push_key(ctx, "name");
  if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len) {
    status = cfg_fail(ctx, key, TV_E_CONFIG_VALUE,
                      "must be characters of a-z, 0-9, _ and -, got '%s'", name);
  }
  cfg_path_pop(ctx, mark);
  return status;
}

/* Roles seen so far, for the duplicate check's "first defined on". */
typedef struct seen_roles {
  char names[POLICY_ROLES_MAX][POLICY_NAME_LEN_MAX + 1];
  unsigned lines[POLICY_ROLES_MAX];
  size_t len;
} seen_roles;

static tv_status parse_role(cfg_ctx *ctx, const yaml_node_t *map, seen_roles *seen) {
  static const cfg_key keys[] = {{"name", 1}, {"permissions", 1}, {"limits", 0}};
  TV_TRY(cfg_map_check(ctx, map, keys, COUNT(keys)));
  char name[POLICY_NAME_LEN_MAX + 1] = "";
  TV_TRY(role_name(ctx, map, name, sizeof(name)));
  for (size_t i = 0; i < seen->len; i++) {
    if (strcmp(seen->names[i], name) == 0) {
      size_t mark = cfg_path_push_key(ctx, "name");
      tv_status status = cfg_fail(ctx, cfg_map_key_node(ctx, map, "name"), TV_E_CONFIG_DUPLICATE,
                                  "duplicate role '%s' (first defined on line %u)", name,
                                  seen->lines[i]);
      cfg_path_pop(ctx, mark);
      return status;
    }
  }
  if (seen->len < POLICY_ROLES_MAX) {
    memcpy(seen->names[seen->len], name, sizeof(name));
    seen->lines[seen->len++] = (unsigned)map->start_mark.line + 1u;
  }
  TV_TRY(role_with_limits(ctx, map, name));
  yaml_node_t *grants = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, map, "permissions", &grants, &mark));
  tv_status status = cfg_expect_type(ctx, grants, YAML_SEQUENCE_NODE);
  for (size_t i = 0; status == TV_OK && i < seq_len(grants); i++) {
    yaml_node_t *item = NULL;
    size_t item_mark = 0;
    status = seq_item(ctx, grants, i, &item, &item_mark);
    if (status == TV_OK) {
      status = parse_grant(ctx, name, item);
      cfg_path_pop(ctx, item_mark);
    }
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status bind_role(cfg_ctx *ctx, const char *principal, const yaml_node_t *item,
                           const char *role) {
  tv_status status = policy_bind_principal(ctx->cfg->policy, principal, role);
  if (status == TV_E_POLICY_LIMIT) {
    return cfg_fail(ctx, item, TV_E_CONFIG_TOO_LARGE, "more than %u principals or %u roles each",
                    POLICY_PRINCIPALS_MAX, POLICY_PRINCIPAL_ROLES_MAX);
  }
  if (status != TV_OK) {
    return cfg_fail(ctx, item, TV_E_CONFIG_VALUE, "unknown role '%s' (not under roles:)", role);
  }
  return TV_OK;
}

static tv_status principal_roles(cfg_ctx *ctx, const yaml_node_t *map, const char *principal) {
  yaml_node_t *roles = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, map, "roles", &roles, &mark));
  tv_status status = cfg_expect_type(ctx, roles, YAML_SEQUENCE_NODE);
  if (status == TV_OK && seq_len(roles) == 0) {
    status = cfg_fail(ctx, roles, TV_E_CONFIG_MISSING, "a principal needs at least one role");
  }
  for (size_t i = 0; status == TV_OK && i < seq_len(roles); i++) {
    yaml_node_t *item = NULL;
    const char *text = NULL;
    size_t item_mark = 0;
    status = item_text(ctx, roles, i, &item, &text, &item_mark);
    if (status == TV_OK) {
      status = bind_role(ctx, principal, item, text);
      cfg_path_pop(ctx, item_mark);
    }
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status parse_principal(cfg_ctx *ctx, const yaml_node_t *map) {
  static const cfg_key keys[] = {{"name", 1}, {"roles", 1}};
  TV_TRY(cfg_map_check(ctx, map, keys, COUNT(keys)));
  char name[POLICY_PRINCIPAL_LEN_MAX + 1] = "";
  TV_TRY(cfg_get_string(ctx, map, "name", name, sizeof(name)));
  const yaml_node_t *key = cfg_map_key_node(ctx, map, "name");
  tv_status status = TV_OK;
  size_t mark = cfg_path_push_key(ctx, "name");
  for (const char *c = name; *c != '\0' && status == TV_OK; c++) {
    if ((unsigned char)*c < 0x20 || *c == 0x7f) {
      status = cfg_fail(ctx, key, TV_E_CONFIG_VALUE, "contains a control character");
    }
  }
  /* Binding the same name twice would merge two entries silently. */
  if (status == TV_OK && policy_has_principal(ctx->cfg->policy, name)) {
    status = cfg_fail(ctx, key, TV_E_CONFIG_DUPLICATE, "duplicate principal '%s'", name);
  }
  cfg_path_pop(ctx, mark);
  TV_TRY(status);
  return principal_roles(ctx, map, name);
}

static tv_status parse_list(cfg_ctx *ctx, const yaml_node_t *root, const char *key,
                            seen_roles *seen) {
  yaml_node_t *seq = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, key, &seq, &mark));
  if (seq == NULL) {
    return TV_OK;
  }
  tv_status status = cfg_expect_type(ctx, seq, YAML_SEQUENCE_NODE);
  for (size_t i = 0; status == TV_OK && i < seq_len(seq); i++) {
    yaml_node_t *item = NULL;
    size_t item_mark = 0;
    status = seq_item(ctx, seq, i, &item, &item_mark);
    if (status == TV_OK) {
      status = seen != NULL ? parse_role(ctx, item, seen) : parse_principal(ctx, item);
      cfg_path_pop(ctx, item_mark);
    }
  }
  cfg_path_pop(ctx, mark);
  return status;
}

tv_status cfg_parse_policy(cfg_ctx *ctx, const yaml_node_t *root) {
  TV_TRY(policy_new(&ctx->cfg->policy));
  seen_roles *seen = calloc(1, sizeof(*seen));
  TV_ENSURE(seen != NULL, TV_E_NO_MEMORY);
  tv_status status = parse_list(ctx, root, "roles", seen);
  free(seen);
  TV_TRY(status);
  TV_TRY(parse_list(ctx, root, "principals", NULL));
  policy_freeze(ctx->cfg->policy);
  return TV_OK;
}
