/* The YAML walk shared by the config sections: a context that tracks the
 * key path for error messages, and checked readers for mappings and
 * scalars (libyaml's document API underneath). */
#ifndef TV_CONFIG_CONFIG_INTERNAL_H
#define TV_CONFIG_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "vault/config/config.h"

typedef struct cfg_ctx {
  yaml_document_t *doc;
  config_error *err;
  uint8_t *visited; /* one per node: aliases would be walked twice */
  size_t nodes_len;
  tv_config *cfg;
  char path[sizeof(((config_error *)0)->path)];
  size_t path_len;
} cfg_ctx;

/* A key of a mapping: its name and whether it must be present. */
typedef struct cfg_key {
  const char *name;
  int required;
} cfg_key;

/* cfg_fail records "config line L: PATH: MESSAGE" for |node| (NULL: no
 * line) and returns |status|. */
tv_status cfg_fail(cfg_ctx *ctx, const yaml_node_t *node, tv_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* cfg_path_push appends ".key" (or "key" at the root) / "[i]" to the path
 * and returns the previous length for cfg_path_pop. */
size_t cfg_path_push_key(cfg_ctx *ctx, const char *key);
size_t cfg_path_push_index(cfg_ctx *ctx, size_t index);
void cfg_path_pop(cfg_ctx *ctx, size_t len);

/* cfg_node returns node |index| of the document and marks it visited;
 * TV_E_CONFIG_VALUE if seen before (an alias). */
tv_status cfg_node(cfg_ctx *ctx, int index, yaml_node_t **out_node);

/* cfg_expect_type fails with TV_E_CONFIG_TYPE unless |node| is |type|. */
tv_status cfg_expect_type(cfg_ctx *ctx, const yaml_node_t *node, yaml_node_type_t type);

/* cfg_map_check checks that |map| is a mapping whose keys are distinct
 * plain names from |keys| (|keys_len| of them) and that the required ones
 * are there. */
tv_status cfg_map_check(cfg_ctx *ctx, const yaml_node_t *map, const cfg_key *keys,
                        size_t keys_len);

/* cfg_map_get sets *out_value to the value node of |key| in the checked
 * mapping |map| (NULL if absent) and pushes |key| onto the path when
 * found; the caller pops with the returned length in *out_mark. */
tv_status cfg_map_get(cfg_ctx *ctx, const yaml_node_t *map, const char *key,
                      yaml_node_t **out_value, size_t *out_mark);

/* cfg_map_key_node returns the key node |key| of |map| if |map| is a
 * mapping that has it (before any check), else NULL. */
const yaml_node_t *cfg_map_key_node(cfg_ctx *ctx, const yaml_node_t *map, const char *key);

/* Scalar readers for key |key| of mapping |map|; absent keys leave *out
 * untouched (required keys were checked by cfg_map_check). */
tv_status cfg_get_string(cfg_ctx *ctx, const yaml_node_t *map, const char *key, char *out,
                         size_t out_cap);
tv_status cfg_get_uint(cfg_ctx *ctx, const yaml_node_t *map, const char *key, uint64_t min,
                       uint64_t max, uint64_t *out);
tv_status cfg_get_bool(cfg_ctx *ctx, const yaml_node_t *map, const char *key, int *out);
tv_status cfg_get_enum(cfg_ctx *ctx, const yaml_node_t *map, const char *key,
                       const char *const *names, size_t names_len, int *out);
/* Durations: an integer number of seconds, or with a unit s, m, h or d. */
tv_status cfg_get_duration(cfg_ctx *ctx, const yaml_node_t *map, const char *key, uint64_t max_s,
                           uint64_t *out_s);

/* cfg_scalar_text returns a scalar's bytes as a NUL-terminated string
 * (libyaml terminates its scalars) after checking it has no NUL inside. */
tv_status cfg_scalar_text(cfg_ctx *ctx, const yaml_node_t *node, const char **out_text);

/* Sections, one file each. */
tv_status cfg_parse_namespaces(cfg_ctx *ctx, const yaml_node_t *seq);
tv_status cfg_parse_policy(cfg_ctx *ctx, const yaml_node_t *root);
tv_status cfg_parse_server(cfg_ctx *ctx, const yaml_node_t *root);
tv_status cfg_parse_store(cfg_ctx *ctx, const yaml_node_t *root);
tv_status cfg_parse_node_id(cfg_ctx *ctx, const yaml_node_t *root);

#endif
