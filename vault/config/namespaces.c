/* namespaces: each entry becomes a tv_format (format_config_init, the
 * options, format_config_validate), plus convergence and default TTL. The
 * format layer's refusal sentence (e.g. the 10^6 domain floor) is passed
 * to the user unchanged, prefixed with the key path and line. */
#include <stdio.h>
#include <string.h>

#include "vault/config/config_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const kind_names[] = {"pan",            "iban",           "bank_account",
                                         "us_ssn",         "tw_national_id", "cn_resident_id",
                                         "de_tax_id",      "generic"};
static const tv_format_kind kind_values[] = {
    FORMAT_PAN,           FORMAT_IBAN,           FORMAT_BANK_ACCOUNT, FORMAT_US_SSN,
    FORMAT_TW_NATIONAL_ID, FORMAT_CN_RESIDENT_ID, FORMAT_DE_TAX_ID,    FORMAT_GENERIC};
static const char *const mode_names[] = {"ff1", "random"};
static const char *const luhn_names[] = {"invalid", "valid", "any"};
static const char *const iban_check_names[] = {"valid", "invalid"};
static const char *const checksum_names[] = {"none", "luhn", "mod97_10", "mod11_2"};

/* Option keys by kind; "kind" and "attempts_max" apply to all. */
static const cfg_key pan_keys[] = {{"kind", 1},       {"attempts_max", 0}, {"length_min", 0},
                                   {"length_max", 0}, {"keep_first", 0},   {"keep_last", 0},
                                   {"luhn", 0}};
static const cfg_key iban_keys[] = {{"kind", 1}, {"attempts_max", 0}, {"check", 0}};
static const cfg_key bank_keys[] = {{"kind", 1},       {"attempts_max", 0}, {"length_min", 0},
                                    {"length_max", 0}, {"keep_last", 0},    {"routing", 0}};
static const cfg_key ssn_keys[] = {{"kind", 1}, {"attempts_max", 0}, {"keep_last", 0}};
static const cfg_key tw_keys[] = {{"kind", 1}, {"attempts_max", 0}, {"resident_allowed", 0}};
static const cfg_key plain_keys[] = {{"kind", 1}, {"attempts_max", 0}};
static const cfg_key generic_keys[] = {{"kind", 1},        {"attempts_max", 0}, {"alphabet", 0},
                                       {"length_min", 0},  {"length_max", 0},   {"keep_prefix", 0},
                                       {"keep_suffix", 0}, {"checksum", 0},     {"separators", 0}};

static tv_status get_unsigned(cfg_ctx *ctx, const yaml_node_t *map, const char *key,
                              unsigned max, unsigned *out) {
  uint64_t v = *out;
  TV_TRY(cfg_get_uint(ctx, map, key, 0, max, &v));
  *out = (unsigned)v;
  return TV_OK;
}

static tv_status pan_options(cfg_ctx *ctx, const yaml_node_t *map, tv_format_pan *pan) {
  TV_TRY(cfg_map_check(ctx, map, pan_keys, COUNT(pan_keys)));
  TV_TRY(get_unsigned(ctx, map, "length_min", FORMAT_CHARS_MAX, &pan->length_min));
  TV_TRY(get_unsigned(ctx, map, "length_max", FORMAT_CHARS_MAX, &pan->length_max));
  TV_TRY(get_unsigned(ctx, map, "keep_first", FORMAT_CHARS_MAX, &pan->keep_first));
  /* PCI DSS allows the first 6 or 8 digits (the BIN) in clear: nothing else. */
  if (pan->keep_first != 6 && pan->keep_first != 8) {
    size_t mark = cfg_path_push_key(ctx, "keep_first");
    tv_status status = cfg_fail(ctx, cfg_map_key_node(ctx, map, "keep_first"), TV_E_CONFIG_VALUE,
                                "must be 6 or 8, got %u", pan->keep_first);
    cfg_path_pop(ctx, mark);
    return status;
  }
  TV_TRY(get_unsigned(ctx, map, "keep_last", FORMAT_CHARS_MAX, &pan->keep_last));
  int luhn = (int)pan->luhn;
  TV_TRY(cfg_get_enum(ctx, map, "luhn", luhn_names, COUNT(luhn_names), &luhn));
  pan->luhn = (tv_luhn_policy)luhn;
  return TV_OK;
}

static tv_status bank_options(cfg_ctx *ctx, const yaml_node_t *map, tv_format_bank_account *b) {
  TV_TRY(cfg_map_check(ctx, map, bank_keys, COUNT(bank_keys)));
  TV_TRY(get_unsigned(ctx, map, "length_min", FORMAT_CHARS_MAX, &b->length_min));
  TV_TRY(get_unsigned(ctx, map, "length_max", FORMAT_CHARS_MAX, &b->length_max));
  TV_TRY(get_unsigned(ctx, map, "keep_last", FORMAT_CHARS_MAX, &b->keep_last));
  return cfg_get_bool(ctx, map, "routing", &b->routing_allowed);
}

static tv_status generic_alphabet(cfg_ctx *ctx, const yaml_node_t *map, tv_format_generic *g) {
  char chars[257] = "";
  TV_TRY(cfg_get_string(ctx, map, "alphabet", chars, sizeof(chars)));
  if (chars[0] == '\0') {
    return TV_OK;
  }
  tv_status status = alphabet_init(&g->alphabet, chars, strlen(chars));
  if (status == TV_OK) {
    return TV_OK;
  }
  size_t mark = cfg_path_push_key(ctx, "alphabet");
  status = cfg_fail(ctx, cfg_map_key_node(ctx, map, "alphabet"), TV_E_CONFIG_VALUE, "%s",
                    tv_status_message(status));
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status generic_options(cfg_ctx *ctx, const yaml_node_t *map, tv_format_generic *g) {
  TV_TRY(cfg_map_check(ctx, map, generic_keys, COUNT(generic_keys)));
  TV_TRY(generic_alphabet(ctx, map, g));
  TV_TRY(get_unsigned(ctx, map, "length_min", FORMAT_CHARS_MAX, &g->length_min));
  TV_TRY(get_unsigned(ctx, map, "length_max", FORMAT_CHARS_MAX, &g->length_max));
  TV_TRY(get_unsigned(ctx, map, "keep_prefix", FORMAT_CHARS_MAX, &g->keep_prefix));
  TV_TRY(get_unsigned(ctx, map, "keep_suffix", FORMAT_CHARS_MAX, &g->keep_suffix));
  int checksum = (int)g->checksum;
  TV_TRY(cfg_get_enum(ctx, map, "checksum", checksum_names, COUNT(checksum_names), &checksum));
  g->checksum = (tv_checksum)checksum;
  return cfg_get_string(ctx, map, "separators", g->separators, sizeof(g->separators));
}

static tv_status kind_options(cfg_ctx *ctx, const yaml_node_t *map, tv_format *f) {
  int v = 0;
  switch (f->kind) {
    case FORMAT_PAN:
      return pan_options(ctx, map, &f->pan);
    case FORMAT_IBAN:
      TV_TRY(cfg_map_check(ctx, map, iban_keys, COUNT(iban_keys)));
      v = (int)f->iban.check;
      TV_TRY(cfg_get_enum(ctx, map, "check", iban_check_names, COUNT(iban_check_names), &v));
      f->iban.check = (tv_iban_policy)v;
      return TV_OK;
    case FORMAT_BANK_ACCOUNT:
      return bank_options(ctx, map, &f->bank);
    case FORMAT_US_SSN:
      TV_TRY(cfg_map_check(ctx, map, ssn_keys, COUNT(ssn_keys)));
      return get_unsigned(ctx, map, "keep_last", FORMAT_CHARS_MAX, &f->ssn.keep_last);
    case FORMAT_TW_NATIONAL_ID:
      TV_TRY(cfg_map_check(ctx, map, tw_keys, COUNT(tw_keys)));
      return cfg_get_bool(ctx, map, "resident_allowed", &f->tw.resident_allowed);
    case FORMAT_GENERIC:
      return generic_options(ctx, map, &f->generic);
    case FORMAT_CN_RESIDENT_ID:
    case FORMAT_DE_TAX_ID:
      break;
  }
  return cfg_map_check(ctx, map, plain_keys, COUNT(plain_keys));
}

/* parse_format fills |f| from the `format:` mapping |map|. */
static tv_status parse_format(cfg_ctx *ctx, const yaml_node_t *map, const char *ns, int mode,
                              tv_format *f) {
  TV_TRY(cfg_expect_type(ctx, map, YAML_MAPPING_NODE));
  if (cfg_map_key_node(ctx, map, "kind") == NULL) {
    /* The other keys depend on the kind, so it is looked for first. */
    size_t mark = cfg_path_push_key(ctx, "kind");
    tv_status status = cfg_fail(ctx, map, TV_E_CONFIG_MISSING, "required key is missing");
    cfg_path_pop(ctx, mark);
    return status;
  }
  int kind = 0;
  TV_TRY(cfg_get_enum(ctx, map, "kind", kind_names, COUNT(kind_names), &kind));
  TV_TRY(format_config_init(f, kind_values[kind], ns));
  f->mode = (tv_format_mode)mode;
  TV_TRY(kind_options(ctx, map, f));
  uint64_t attempts = f->attempts_max;
  TV_TRY(cfg_get_uint(ctx, map, "attempts_max", 1, FORMAT_ATTEMPTS_MAX, &attempts));
  f->attempts_max = (unsigned)attempts;
  char why[CONFIG_ERROR_TEXT_MAX / 2];
  tv_status status = format_config_validate(f, why, sizeof(why));
  if (status != TV_OK) {
    return cfg_fail(ctx, map, TV_E_CONFIG_VALUE, "%s", why);
  }
  return TV_OK;
}

/* Namespace names: what the format layer and the policy both accept. */
static int ns_name_ok(const char *name) {
  size_t len = strlen(name);
  return len >= 1 && len <= FORMAT_NAMESPACE_LEN_MAX &&
         strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

static tv_status namespace_name(cfg_ctx *ctx, const yaml_node_t *map, config_namespace *ns) {
  TV_TRY(cfg_get_string(ctx, map, "name", ns->name, sizeof(ns->name)));
  const yaml_node_t *key = cfg_map_key_node(ctx, map, "name");
  size_t mark = cfg_path_push_key(ctx, "name");
  tv_status status = TV_OK;
  if (!ns_name_ok(ns->name)) {
    status = cfg_fail(ctx, key, TV_E_CONFIG_VALUE,
                      "must be 1..%u characters of a-z, 0-9, _ and -, got '%s'",
                      FORMAT_NAMESPACE_LEN_MAX, ns->name);
  }
  for (size_t i = 0; status == TV_OK && i < ctx->cfg->namespaces_len; i++) {
    const config_namespace *other = &ctx->cfg->namespaces[i];
    if (strcmp(other->name, ns->name) == 0) {
      status = cfg_fail(ctx, key, TV_E_CONFIG_DUPLICATE,
                        "duplicate namespace '%s' (first defined on line %u)", ns->name,
                        other->line);
    }
  }
  cfg_path_pop(ctx, mark);
  return status;
}

static tv_status parse_namespace(cfg_ctx *ctx, const yaml_node_t *map, config_namespace *ns) {
  static const cfg_key keys[] = {{"name", 1},       {"format", 1},     {"convergent", 0},
                                 {"mode", 0},       {"default_ttl", 0}};
  TV_TRY(cfg_map_check(ctx, map, keys, COUNT(keys)));
  ns->line = (unsigned)map->start_mark.line + 1u;
  TV_TRY(namespace_name(ctx, map, ns));
  int mode = FORMAT_MODE_FF1;
  TV_TRY(cfg_get_enum(ctx, map, "mode", mode_names, COUNT(mode_names), &mode));
  TV_TRY(cfg_get_bool(ctx, map, "convergent", &ns->convergent));
  TV_TRY(cfg_get_duration(ctx, map, "default_ttl", CONFIG_TTL_SECONDS_MAX, &ns->default_ttl_s));
  yaml_node_t *format = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, map, "format", &format, &mark));
  tv_status status = parse_format(ctx, format, ns->name, mode, &ns->format);
  cfg_path_pop(ctx, mark);
  return status;
}

tv_status cfg_parse_namespaces(cfg_ctx *ctx, const yaml_node_t *seq) {
  TV_TRY(cfg_expect_type(ctx, seq, YAML_SEQUENCE_NODE));
  size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  if (count == 0) {
    return cfg_fail(ctx, seq, TV_E_CONFIG_MISSING, "at least one namespace is needed");
  }
  if (count > CONFIG_NAMESPACES_MAX) {
    return cfg_fail(ctx, seq, TV_E_CONFIG_TOO_LARGE, "%zu namespaces, at most %u", count,
                    CONFIG_NAMESPACES_MAX);
  }
  for (size_t i = 0; i < count; i++) {
    yaml_node_t *item = NULL;
    size_t mark = cfg_path_push_index(ctx, i);
    tv_status status = cfg_node(ctx, seq->data.sequence.items.start[i], &item);
    if (status == TV_OK) {
      status = parse_namespace(ctx, item, &ctx->cfg->namespaces[i]);
    }
    cfg_path_pop(ctx, mark);
    TV_TRY(status);
    ctx->cfg->namespaces_len = i + 1;
  }
  return TV_OK;
}
