/* Checked readers over libyaml's document tree. Every refusal goes
 * through cfg_fail so each message carries the line and key path. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/config/config_internal.h"

tv_status cfg_fail(cfg_ctx *ctx, const yaml_node_t *node, tv_status status, const char *fmt, ...) {
  assert(status != TV_OK);
  config_error *err = ctx->err;
  if (err == NULL) {
    return status;
  }
  /* Leaves room for the line and path within CONFIG_ERROR_TEXT_MAX. */
  char message[CONFIG_ERROR_TEXT_MAX - sizeof(err->path) - 40];
  va_list args;
  va_start(args, fmt);
  (void)vsnprintf(message, sizeof(message), fmt, args);
  va_end(args);
  err->line = node != NULL ? (unsigned)node->start_mark.line + 1u : 0u;
  (void)snprintf(err->path, sizeof(err->path), "%s", ctx->path);
  const char *sep = ctx->path_len > 0 ? ": " : "";
  if (err->line > 0) {
    (void)snprintf(err->text, sizeof(err->text), "config line %u: %s%s%s", err->line, ctx->path,
                   sep, message);
  } else {
    (void)snprintf(err->text, sizeof(err->text), "config: %s%s%s", ctx->path, sep, message);
  }
  return status;
}

/* path_commit accounts for |n| bytes snprintf wrote (or wanted to)
 * after |before|; a path too long to print is cut, not overrun. */
static size_t path_commit(cfg_ctx *ctx, size_t before, int n) {
  size_t room = sizeof(ctx->path) - before;
  if (n > 0) {
    ctx->path_len = (size_t)n < room ? before + (size_t)n : sizeof(ctx->path) - 1;
  }
  return before;
}

size_t cfg_path_push_key(cfg_ctx *ctx, const char *key) {
  size_t before = ctx->path_len;
  int n = snprintf(ctx->path + before, sizeof(ctx->path) - before, "%s%s", before == 0 ? "" : ".",
                   key);
  return path_commit(ctx, before, n);
}

size_t cfg_path_push_index(cfg_ctx *ctx, size_t index) {
  size_t before = ctx->path_len;
  int n = snprintf(ctx->path + before, sizeof(ctx->path) - before, "[%zu]", index);
  return path_commit(ctx, before, n);
}

void cfg_path_pop(cfg_ctx *ctx, size_t len) {
  assert(len <= ctx->path_len);
  ctx->path_len = len;
  ctx->path[len] = '\0';
}

tv_status cfg_node(cfg_ctx *ctx, int index, yaml_node_t **out_node) {
  yaml_node_t *node = yaml_document_get_node(ctx->doc, index);
  TV_ENSURE(node != NULL, TV_E_INTERNAL);
  size_t slot = (size_t)(index - 1);
  assert(slot < ctx->nodes_len);
  if (ctx->visited[slot]) {
    return cfg_fail(ctx, node, TV_E_CONFIG_VALUE,
                    "aliases (*name) are not supported: write the value out");
  }
  ctx->visited[slot] = 1;
  *out_node = node;
  return TV_OK;
}

static const char *type_name(yaml_node_type_t type) {
  switch (type) {
    case YAML_SCALAR_NODE:
      return "a scalar";
    case YAML_SEQUENCE_NODE:
      return "a list";
    case YAML_MAPPING_NODE:
      return "a mapping";
    case YAML_NO_NODE:
      break;
  }
  return "nothing";
}

tv_status cfg_expect_type(cfg_ctx *ctx, const yaml_node_t *node, yaml_node_type_t type) {
  if (node->type == type) {
    return TV_OK;
  }
  return cfg_fail(ctx, node, TV_E_CONFIG_TYPE, "expected %s, got %s", type_name(type),
                  type_name(node->type));
}

tv_status cfg_scalar_text(cfg_ctx *ctx, const yaml_node_t *node, const char **out_text) {
  TV_TRY(cfg_expect_type(ctx, node, YAML_SCALAR_NODE));
  const char *text = (const char *)node->data.scalar.value;
  if (strlen(text) != node->data.scalar.length) {
    return cfg_fail(ctx, node, TV_E_CONFIG_VALUE, "contains a NUL character");
  }
  *out_text = text;
  return TV_OK;
}

static const yaml_node_t *pair_key(cfg_ctx *ctx, const yaml_node_pair_t *pair) {
  return yaml_document_get_node(ctx->doc, pair->key);
}

static tv_status key_known(cfg_ctx *ctx, const yaml_node_t *key, const cfg_key *keys,
                           size_t keys_len) {
  const char *name = (const char *)key->data.scalar.value;
  for (size_t i = 0; i < keys_len; i++) {
    if (strcmp(keys[i].name, name) == 0) {
      return TV_OK;
    }
  }
  char expected[320] = "";
  size_t used = 0;
  for (size_t i = 0; i < keys_len && used < sizeof(expected); i++) {
    int n = snprintf(expected + used, sizeof(expected) - used, "%s%s", i > 0 ? ", " : "",
                     keys[i].name);
    used += n > 0 ? (size_t)n : 0;
  }
  size_t mark = cfg_path_push_key(ctx, name);
  tv_status status = cfg_fail(ctx, key, TV_E_CONFIG_UNKNOWN_KEY,
                              "unknown key (expected one of: %s)", expected);
  cfg_path_pop(ctx, mark);
  return status;
}

/* Keys: scalars, known, each at most once. */
static tv_status check_keys(cfg_ctx *ctx, const yaml_node_t *map, const cfg_key *keys,
                            size_t keys_len) {
  const yaml_node_pair_t *start = map->data.mapping.pairs.start;
  const yaml_node_pair_t *top = map->data.mapping.pairs.top;
  for (const yaml_node_pair_t *p = start; p < top; p++) {
    const yaml_node_t *key = pair_key(ctx, p);
    TV_ENSURE(key != NULL, TV_E_INTERNAL);
    if (key->type != YAML_SCALAR_NODE) {
      return cfg_fail(ctx, key, TV_E_CONFIG_TYPE, "keys must be plain names, got %s",
                      type_name(key->type));
    }
    const char *name = NULL;
    TV_TRY(cfg_scalar_text(ctx, key, &name));
    TV_TRY(key_known(ctx, key, keys, keys_len));
    for (const yaml_node_pair_t *q = start; q < p; q++) {
      const yaml_node_t *other = pair_key(ctx, q);
      if (strcmp((const char *)other->data.scalar.value, name) == 0) {
        size_t mark = cfg_path_push_key(ctx, name);
        tv_status status = cfg_fail(ctx, key, TV_E_CONFIG_DUPLICATE,
                                    "key appears twice (first on line %u)",
                                    (unsigned)other->start_mark.line + 1u);
        cfg_path_pop(ctx, mark);
        return status;
      }
    }
  }
  return TV_OK;
}

static const yaml_node_pair_t *find_pair(cfg_ctx *ctx, const yaml_node_t *map, const char *key) {
  for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    if (strcmp((const char *)pair_key(ctx, p)->data.scalar.value, key) == 0) {
      return p;
    }
  }
  return NULL;
}

tv_status cfg_map_check(cfg_ctx *ctx, const yaml_node_t *map, const cfg_key *keys,
                        size_t keys_len) {
  TV_TRY(cfg_expect_type(ctx, map, YAML_MAPPING_NODE));
  TV_TRY(check_keys(ctx, map, keys, keys_len));
  for (size_t i = 0; i < keys_len; i++) {
    if (keys[i].required && find_pair(ctx, map, keys[i].name) == NULL) {
      size_t mark = cfg_path_push_key(ctx, keys[i].name);
      tv_status status = cfg_fail(ctx, map, TV_E_CONFIG_MISSING, "required key is missing");
      cfg_path_pop(ctx, mark);
      return status;
    }
  }
  return TV_OK;
}

tv_status cfg_map_get(cfg_ctx *ctx, const yaml_node_t *map, const char *key,
                      yaml_node_t **out_value, size_t *out_mark) {
  *out_value = NULL;
  const yaml_node_pair_t *pair = find_pair(ctx, map, key);
  if (pair == NULL) {
    return TV_OK;
  }
  *out_mark = cfg_path_push_key(ctx, key);
  tv_status status = cfg_node(ctx, pair->value, out_value);
  if (status != TV_OK) {
    *out_value = NULL;
    cfg_path_pop(ctx, *out_mark);
  }
  return status;
}

/* get_scalar: the scalar under |key| or NULL if absent; path pushed. */
static tv_status get_scalar(cfg_ctx *ctx, const yaml_node_t *map, const char *key,
                            yaml_node_t **out_node, const char **out_text, size_t *out_mark) {
  *out_node = NULL;
  TV_TRY(cfg_map_get(ctx, map, key, out_node, out_mark));
  if (*out_node == NULL) {
    return TV_OK;
  }
  tv_status status = cfg_scalar_text(ctx, *out_node, out_text);
  if (status != TV_OK) {
    cfg_path_pop(ctx, *out_mark);
  }
  return status;
}

tv_status cfg_get_string(cfg_ctx *ctx, const yaml_node_t *map, const char *key, char *out,
                         size_t out_cap) {
  yaml_node_t *node = NULL;
  const char *text = NULL;
  size_t mark = 0;
  TV_TRY(get_scalar(ctx, map, key, &node, &text, &mark));
  if (node == NULL) {
    return TV_OK;
  }
  tv_status status = TV_OK;
  size_t len = strlen(text);
  if (len == 0) {
    status = cfg_fail(ctx, node, TV_E_CONFIG_VALUE, "must not be empty");
  } else if (len >= out_cap) {
    status = cfg_fail(ctx, node, TV_E_CONFIG_VALUE, "too long: %zu bytes, at most %zu", len,
                      out_cap - 1);
  } else {
    memcpy(out, text, len + 1);
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static int parse_u64(const char *text, uint64_t *out) {
  size_t len = strlen(text);
  if (len == 0 || len > 20 || strspn(text, "0123456789") != len) {
    return 0;
  }
  errno = 0;
  unsigned long long v = strtoull(text, NULL, 10);
  if (errno != 0) {
    return 0;
  }
  *out = (uint64_t)v;
  return 1;
}

tv_status cfg_get_uint(cfg_ctx *ctx, const yaml_node_t *map, const char *key, uint64_t min,
                       uint64_t max, uint64_t *out) {
  yaml_node_t *node = NULL;
  const char *text = NULL;
  size_t mark = 0;
  TV_TRY(get_scalar(ctx, map, key, &node, &text, &mark));
  if (node == NULL) {
    return TV_OK;
  }
  uint64_t v = 0;
  tv_status status = TV_OK;
  if (!parse_u64(text, &v)) {
    status = cfg_fail(ctx, node, TV_E_CONFIG_TYPE, "expected a whole number, got '%s'", text);
  } else if (v < min || v > max) {
    status = cfg_fail(ctx, node, TV_E_CONFIG_VALUE, "must be in %" PRIu64 "..%" PRIu64 ", got %s",
                      min, max, text);
  } else {
    *out = v;
  }
  cfg_path_pop(ctx, mark);
  return status;
}

tv_status cfg_get_bool(cfg_ctx *ctx, const yaml_node_t *map, const char *key, int *out) {
  yaml_node_t *node = NULL;
  const char *text = NULL;
  size_t mark = 0;
  TV_TRY(get_scalar(ctx, map, key, &node, &text, &mark));
  if (node == NULL) {
    return TV_OK;
  }
  tv_status status = TV_OK;
  /* Only true/false: YAML 1.1's yes/no/on/off surprise people. */
  if (strcmp(text, "true") == 0) {
    *out = 1;
  } else if (strcmp(text, "false") == 0) {
    *out = 0;
  } else {
    status = cfg_fail(ctx, node, TV_E_CONFIG_TYPE, "expected true or false, got '%s'", text);
  }
  cfg_path_pop(ctx, mark);
  return status;
}

tv_status cfg_get_enum(cfg_ctx *ctx, const yaml_node_t *map, const char *key,
                       const char *const *names, size_t names_len, int *out) {
  yaml_node_t *node = NULL;
  const char *text = NULL;
  size_t mark = 0;
  TV_TRY(get_scalar(ctx, map, key, &node, &text, &mark));
  if (node == NULL) {
    return TV_OK;
  }
  char expected[256] = "";
  size_t used = 0;
  for (size_t i = 0; i < names_len; i++) {
    if (strcmp(names[i], text) == 0) {
      *out = (int)i;
      cfg_path_pop(ctx, mark);
      return TV_OK;
    }
    int n = snprintf(expected + used, sizeof(expected) - used, "%s%s", i > 0 ? ", " : "", names[i]);
    used += n > 0 && (size_t)n < sizeof(expected) - used ? (size_t)n : 0;
  }
  tv_status status =
      cfg_fail(ctx, node, TV_E_CONFIG_VALUE, "must be one of %s, got '%s'", expected, text);
  cfg_path_pop(ctx, mark);
  return status;
}

static int parse_duration(const char *text, uint64_t *out_s) {
  char digits[24];
  size_t len = strlen(text);
  if (len == 0 || len >= sizeof(digits)) {
    return 0;
  }
  static const char units[] = "smhd";
  static const uint64_t unit_seconds[] = {1, 60, 3600, 86400};
  uint64_t unit = 1;
  size_t n = len;
  const char *suffix = strchr(units, text[len - 1]);
  if (suffix != NULL) {
    unit = unit_seconds[suffix - units];
    n--;
  }
  memcpy(digits, text, n);
  digits[n] = '\0';
  uint64_t v = 0;
  if (!parse_u64(digits, &v) || v > UINT64_MAX / unit) {
    return 0;
  }
  *out_s = v * unit;
  return 1;
}

tv_status cfg_get_duration(cfg_ctx *ctx, const yaml_node_t *map, const char *key, uint64_t max_s,
                           uint64_t *out_s) {
  yaml_node_t *node = NULL;
  const char *text = NULL;
  size_t mark = 0;
  TV_TRY(get_scalar(ctx, map, key, &node, &text, &mark));
  if (node == NULL) {
    return TV_OK;
  }
  uint64_t v = 0;
  tv_status status = TV_OK;
  if (!parse_duration(text, &v)) {
    status = cfg_fail(ctx, node, TV_E_CONFIG_TYPE,
                      "expected a duration (seconds, or a number with s, m, h or d), got '%s'", text);
  } else if (v > max_s) {
    status = cfg_fail(ctx, node, TV_E_CONFIG_VALUE, "at most %" PRIu64 " seconds, got %s", max_s,
                      text);
  } else {
    *out_s = v;
  }
  cfg_path_pop(ctx, mark);
  return status;
}

const yaml_node_t *cfg_map_key_node(cfg_ctx *ctx, const yaml_node_t *map, const char *key) {
  if (map->type != YAML_MAPPING_NODE) {
    return NULL;
  }
  for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *k = pair_key(ctx, p);
    if (k != NULL && k->type == YAML_SCALAR_NODE &&
        strcmp((const char *)k->data.scalar.value, key) == 0) {
      return k;
    }
  }
  return NULL;
}
