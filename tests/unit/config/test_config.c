/* Config refusals: each kind of mistake gives its exact sentence, with the
 * key path and the line, and no config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vault/config/config.h"

/* Lines 1..8 of every case; namespaces follow from line 9. */
#define HEAD                   \
  "listen: 127.0.0.1:7443\n"   \
  "data_dir: /srv/tv\n"        \
  "hsm:\n"                     \
  "  module: /lib/hsm.so\n"    \
  "  token_label: tv\n"        \
  "  pin_file: /run/pin\n"     \
  "audit:\n"                   \
  "  dir: /srv/tv/audit\n"
#define PAN_NS              \
  "namespaces:\n"           \
  "  - name: pan\n"         \
  "    format: {kind: pan}\n"

static void expect_error(const char *yaml, tv_status want, const char *text) {
  tv_config *cfg = (tv_config *)(uintptr_t)1;
  config_error err;
  tv_status st = config_parse(yaml, strlen(yaml), &cfg, &err);
  if (strcmp(err.text, text) != 0) {
    print_error("got:  %s\nwant: %s\n", err.text, text);
  }
  assert_int_equal(st, want);
  assert_null(cfg);
  assert_string_equal(err.text, text);
}

static void test_valid_minimal(void **state) {
  (void)state;
  const char *yaml = HEAD PAN_NS;
  tv_config *cfg = NULL;
  config_error err;
  assert_int_equal(config_parse(yaml, strlen(yaml), &cfg, &err), TV_OK);
  assert_string_equal(cfg->listen, "127.0.0.1:7443");
  assert_int_equal(cfg->tls.enabled, 0);
  assert_string_equal(cfg->hsm.pin_file, "/run/pin");
  assert_string_equal(cfg->hsm.pin_env, "");
  assert_string_equal(cfg->hsm.kek_label, "tokenvault-kek-1");
  assert_int_equal(cfg->audit.checkpoint_interval_s, 60);
  assert_int_equal(cfg->namespaces_len, 1);
  assert_int_equal(cfg->namespaces[0].format.kind, FORMAT_PAN);
  assert_int_equal(cfg->namespaces[0].format.pan.keep_first, 6);
  assert_int_equal(cfg->namespaces[0].convergent, 0);
  assert_int_equal(cfg->namespaces[0].line, 10);
  assert_int_equal(policy_role_count(cfg->policy), 0);
  config_free(cfg);
}

static void test_valid_alternatives(void **state) {
  (void)state;
  const char *yaml =
      "listen: '[::]:7443'\n"
      "tls: {cert: /c.pem, key: /k.pem, client_ca: /ca.pem}\n"
      "data_dir: /d\n"
      "hsm: {module: /m.so, token_serial: '0123456789abcdef', pin_env: TV_PIN, kek_label: k2}\n"
      "metrics: {listen: '[::1]:9464'}\n"
      "http: {listen: '127.0.0.1:8080'}\n"
      "audit: {dir: /a, checkpoint_interval: 2m}\n"
      "namespaces:\n"
      "  - {name: acct, format: {kind: bank_account, routing: true, keep_last: 2}, mode: random,\n"
      "     default_ttl: 12h}\n"
      "roles:\n"
      "  - name: batch\n"
      "    permissions: [{namespace: acct, allow: ['detokenize:full']}]\n"
      "    limits: {items_per_request: 500, reveals_per_minute: 9000, require_reason: false}\n"
      "principals:\n"
      "  - {name: 'CN=batch,O=Example', roles: [batch]}\n";
  tv_config *cfg = NULL;
  config_error err;
  assert_int_equal(config_parse(yaml, strlen(yaml), &cfg, &err), TV_OK);
  assert_int_equal(cfg->tls.enabled, 1);
  assert_string_equal(cfg->tls.key_file, "/k.pem");
  assert_string_equal(cfg->hsm.token_serial, "0123456789abcdef");
  assert_string_equal(cfg->hsm.token_label, "");
  assert_string_equal(cfg->hsm.pin_env, "TV_PIN");
  assert_string_equal(cfg->hsm.kek_label, "k2");
  assert_string_equal(cfg->metrics_listen, "[::1]:9464");
  assert_string_equal(cfg->http_listen, "127.0.0.1:8080");
  assert_int_equal(cfg->audit.checkpoint_interval_s, 120);
  const config_namespace *ns = config_find_namespace(cfg, "acct");
  assert_non_null(ns);
  assert_int_equal(ns->format.kind, FORMAT_BANK_ACCOUNT);
  assert_int_equal(ns->format.mode, FORMAT_MODE_RANDOM);
  assert_int_equal(ns->format.bank.routing_allowed, 1);
  assert_int_equal(ns->format.bank.keep_last, 2);
  assert_int_equal(ns->default_ttl_s, 12 * 3600);
  policy_request req = {.principal = "CN=batch,O=Example", .peer = "ipv6:[2001:db8::1]:1",
                        .permission = TV_PERM_DETOKENIZE_FULL, .ns = "acct", .items = 501};
  policy_decision d;
  assert_int_equal(policy_check(cfg->policy, NULL, &req, &d), TV_E_POLICY_TOO_MANY_ITEMS);
  config_free(cfg);
}

static void test_unknown_keys(void **state) {
  (void)state;
  expect_error("listn: 127.0.0.1:7443\n", TV_E_CONFIG_UNKNOWN_KEY,
               "config line 1: listn: unknown key (expected one of: listen, tls, data_dir, hsm, "
                "metrics, audit, namespaces, roles, principals, rotation, server, http, store, node_id)");
  expect_error(HEAD "  checkpoint_intervall: 5s\n" PAN_NS, TV_E_CONFIG_UNKNOWN_KEY,
               "config line 9: audit.checkpoint_intervall: unknown key (expected one of: dir, "
               "checkpoint_interval)");
  expect_error(HEAD "namespaces:\n  - name: pan\n    format: {kind: pan, keep_frist: 6}\n",
               TV_E_CONFIG_UNKNOWN_KEY,
               "config line 11: namespaces[0].format.keep_frist: unknown key (expected one of: "
               "kind, attempts_max, length_min, length_max, keep_first, keep_last, luhn)");
  /* Options of another kind are unknown for this one. */
  expect_error(HEAD "namespaces:\n  - name: iban\n    format: {kind: iban, keep_last: 4}\n",
               TV_E_CONFIG_UNKNOWN_KEY,
               "config line 11: namespaces[0].format.keep_last: unknown key (expected one of: "
               "kind, attempts_max, check)");
}

static void test_wrong_types(void **state) {
  (void)state;
  expect_error("listen: 127.0.0.1:7443\ndata_dir: [a, b]\nhsm: {module: m, token_label: t, "
               "pin_env: P}\naudit: {dir: a}\nnamespaces: [{name: pan, format: {kind: pan}}]\n",
               TV_E_CONFIG_TYPE,
               "config line 2: data_dir: expected a scalar, got a list");
  expect_error(HEAD "namespaces:\n  - name: pan\n    format: {kind: pan, keep_first: six}\n",
               TV_E_CONFIG_TYPE,
               "config line 11: namespaces[0].format.keep_first: expected a whole number, got "
               "'six'");
  expect_error(HEAD PAN_NS "    convergent: yes\n", TV_E_CONFIG_TYPE,
               "config line 12: namespaces[0].convergent: expected true or false, got 'yes'");
  expect_error(HEAD "namespaces:\n  pan: {kind: pan}\n", TV_E_CONFIG_TYPE,
               "config line 10: namespaces: expected a list, got a mapping");
  expect_error(HEAD PAN_NS "    default_ttl: 3 weeks\n", TV_E_CONFIG_TYPE,
               "config line 12: namespaces[0].default_ttl: expected a duration (seconds, or a "
               "number with s, m, h or d), got '3 weeks'");
  expect_error(HEAD "namespaces:\n  - name: pan\n    format: {kind: pan, keep_last: -1}\n",
               TV_E_CONFIG_TYPE,
               "config line 11: namespaces[0].format.keep_last: expected a whole number, got "
               "'-1'");
  expect_error("- listen\n", TV_E_CONFIG_TYPE, "config line 1: expected a mapping, got a list");
}

static void test_bad_values(void **state) {
  (void)state;
  expect_error(HEAD PAN_NS "    mode: ff3\n", TV_E_CONFIG_VALUE,
               "config line 12: namespaces[0].mode: must be one of ff1, random, got 'ff3'");
  expect_error(HEAD "namespaces:\n  - name: visa\n    format: {kind: visa}\n", TV_E_CONFIG_VALUE,
               "config line 11: namespaces[0].format.kind: must be one of pan, iban, "
               "bank_account, us_ssn, tw_national_id, cn_resident_id, de_tax_id, generic, got "
               "'visa'");
  expect_error(HEAD "namespaces:\n  - name: pan\n    format: {kind: pan, luhn: maybe}\n",
               TV_E_CONFIG_VALUE,
               "config line 11: namespaces[0].format.luhn: must be one of invalid, valid, any, "
               "got 'maybe'");
  expect_error(HEAD "namespaces:\n  - name: pan\n    format:\n      kind: pan\n"
                    "      keep_first: 7\n",
               TV_E_CONFIG_VALUE, "config line 13: namespaces[0].format.keep_first: must be 6 or 8, got 7");
  expect_error(HEAD "namespaces:\n  - name: Pan Cards\n    format: {kind: pan}\n",
               TV_E_CONFIG_VALUE,
               "config line 10: namespaces[0].name: must be 1..64 characters of a-z, 0-9, _ and "
               "-, got 'Pan Cards'");
  expect_error(HEAD "namespaces:\n  - name: pan\n    format: {kind: pan, attempts_max: 0}\n",
               TV_E_CONFIG_VALUE,
               "config line 11: namespaces[0].format.attempts_max: must be in 1..100000, got 0");
  expect_error("listen: 0.0.0.0:7443\n", TV_E_CONFIG_MISSING,
               "config line 1: data_dir: required key is missing");
  expect_error("listen: 127.0.0.1\ndata_dir: /d\nhsm: {module: m, token_label: t, pin_env: P}\n"
               "audit: {dir: a}\nnamespaces: [{name: pan, format: {kind: pan}}]\n",
               TV_E_CONFIG_VALUE,
               "config line 1: listen: expected HOST:PORT (IPv6 as [ADDR]:PORT), got "
               "'127.0.0.1'");
  expect_error("listen: 0.0.0.0:7443\ndata_dir: /d\nhsm: {module: m, token_label: t, pin_env: P}\n"
               "audit: {dir: a}\nnamespaces: [{name: pan, format: {kind: pan}}]\n",
               TV_E_CONFIG_VALUE,
               "config line 1: listen: without a tls block the service only listens on loopback "
               "(127.0.0.1, [::1] or localhost), got '0.0.0.0:7443'");
  expect_error(HEAD PAN_NS "    default_ttl: 200000d\n", TV_E_CONFIG_VALUE,
               "config line 12: namespaces[0].default_ttl: at most 3162240000 seconds, got "
               "200000d");
  expect_error(HEAD "namespaces:\n  - name: g\n    format: {kind: generic, alphabet: aab}\n",
               TV_E_CONFIG_VALUE,
               "config line 11: namespaces[0].format.alphabet: alphabet has a repeated character");
}

static void test_pin_literal(void **state) {
  (void)state;
  expect_error("listen: 127.0.0.1:7443\ndata_dir: /d\nhsm:\n  module: /m.so\n  pin: \"1234\"\n"
               "audit: {dir: a}\nnamespaces: [{name: pan, format: {kind: pan}}]\n",
               TV_E_CONFIG_SECRET,
               "config line 5: hsm.pin: a PIN is never read from the config file (it would end "
               "up in backups, version control and process listings); use pin_file: PATH or "
               "pin_env: VARIABLE");
  expect_error("listen: 127.0.0.1:7443\ndata_dir: /d\nhsm:\n  module: /m.so\n  token_label: t\n"
               "  pin_file: /p\n  pin_env: PIN\naudit: {dir: a}\n"
               "namespaces: [{name: pan, format: {kind: pan}}]\n",
               TV_E_CONFIG_VALUE, "config line 7: hsm: give pin_file or pin_env, not both");
  expect_error("listen: 127.0.0.1:7443\ndata_dir: /d\nhsm:\n  module: /m.so\n  token_label: t\n"
               "audit: {dir: a}\nnamespaces: [{name: pan, format: {kind: pan}}]\n",
               TV_E_CONFIG_MISSING, "config line 4: hsm: needs pin_file or pin_env");
}

static void test_duplicates(void **state) {
  (void)state;
  expect_error(HEAD PAN_NS "  - name: iban\n    format: {kind: iban}\n"
                           "  - name: pan\n    format: {kind: pan}\n",
               TV_E_CONFIG_DUPLICATE,
               "config line 14: namespaces[2].name: duplicate namespace 'pan' (first defined on "
               "line 10)");
  expect_error("listen: 127.0.0.1:7443\ndata_dir: /a\nlisten: 127.0.0.1:7444\n",
               TV_E_CONFIG_DUPLICATE, "config line 3: listen: key appears twice (first on line 1)");
  expect_error(HEAD PAN_NS "roles:\n  - name: crm\n    permissions: []\n"
                           "  - name: crm\n    permissions: []\n",
               TV_E_CONFIG_DUPLICATE,
               "config line 15: roles[1].name: duplicate role 'crm' (first defined on line 13)");
  expect_error(HEAD PAN_NS "roles:\n  - name: crm\n    permissions: []\n"
                           "principals:\n  - {name: a, roles: [crm]}\n  - {name: a, roles: [crm]}\n",
               TV_E_CONFIG_DUPLICATE, "config line 17: principals[1].name: duplicate principal 'a'");
}

static void test_domain_floor(void **state) {
  (void)state;
  /* What the format layer says about 13-digit PANs keeping 8 + 4. */
  tv_format f;
  assert_int_equal(format_config_init(&f, FORMAT_PAN, "pan"), TV_OK);
  f.pan.length_min = 13;
  f.pan.keep_first = 8;
  char why[320];
  assert_int_equal(format_config_validate(&f, why, sizeof(why)), TV_E_FORMAT_DOMAIN_TOO_SMALL);
  assert_non_null(strstr(why, "1000000"));
  char want[512];
  snprintf(want, sizeof(want), "config line 11: namespaces[0].format: %s", why);
  expect_error(HEAD "namespaces:\n  - name: pan\n"
                    "    format: {kind: pan, keep_first: 8, length_min: 13}\n",
               TV_E_CONFIG_VALUE, want);
  /* The same numbers for a generic format keeping too much. */
  assert_int_equal(format_config_init(&f, FORMAT_GENERIC, "g"), TV_OK);
  f.generic.length_min = 8;
  f.generic.length_max = 8;
  f.generic.keep_prefix = 3;
  assert_int_equal(format_config_validate(&f, why, sizeof(why)), TV_E_FORMAT_DOMAIN_TOO_SMALL);
  snprintf(want, sizeof(want), "config line 11: namespaces[0].format: %s", why);
  expect_error(HEAD "namespaces:\n  - name: g\n"
                    "    format: {kind: generic, length_min: 8, length_max: 8, keep_prefix: 3}\n",
               TV_E_CONFIG_VALUE, want);
}

static void test_missing_keys(void **state) {
  (void)state;
  expect_error(HEAD, TV_E_CONFIG_MISSING, "config line 1: namespaces: required key is missing");
  expect_error(HEAD "namespaces:\n  - name: pan\n    format: {keep_first: 6}\n",
               TV_E_CONFIG_MISSING, "config line 11: namespaces[0].format.kind: required key is missing");
  expect_error(HEAD "namespaces:\n  - name: pan\n", TV_E_CONFIG_MISSING,
               "config line 10: namespaces[0].format: required key is missing");
  expect_error(HEAD "namespaces: []\n", TV_E_CONFIG_MISSING,
               "config line 9: namespaces: at least one namespace is needed");
  expect_error(HEAD PAN_NS "tls:\n  cert: /c\n  key: /k\n", TV_E_CONFIG_MISSING,
               "config line 13: tls.client_ca: required key is missing");
  expect_error(HEAD PAN_NS "principals:\n  - {name: a, roles: []}\n", TV_E_CONFIG_MISSING,
               "config line 13: principals[0].roles: a principal needs at least one role");
  expect_error("", TV_E_CONFIG_MISSING, "config: the file is empty");
}

#define ROLE_HEAD HEAD PAN_NS "roles:\n  - name: crm\n"

static void test_policy_errors(void **state) {
  (void)state;
  expect_error(ROLE_HEAD "    permissions: [{namespace: pan, allow: [tokenize]}]\n"
                         "    limits:\n      networks: [10.0.0.0/8, 10.0.0.300/8]\n",
               TV_E_CONFIG_VALUE,
               "config line 16: roles[0].limits.networks[1]: not a CIDR network (e.g. "
               "10.0.0.0/8 or fd00::/8, host bits zero): '10.0.0.300/8'");
  expect_error(ROLE_HEAD "    permissions: [{namespace: pan, allow: [tokenize]}]\n"
                         "    limits: {networks: [10.1.0.0/8]}\n",
               TV_E_CONFIG_VALUE,
               "config line 15: roles[0].limits.networks[0]: not a CIDR network (e.g. "
               "10.0.0.0/8 or fd00::/8, host bits zero): '10.1.0.0/8'");
  expect_error(ROLE_HEAD "    permissions: [{namespace: pans, allow: [tokenize]}]\n",
               TV_E_CONFIG_VALUE,
               "config line 14: roles[0].permissions[0].namespace: unknown namespace 'pans' (not "
               "under namespaces:)");
  expect_error(ROLE_HEAD "    permissions: [{namespace: pan, allow: [tokenise]}]\n",
               TV_E_CONFIG_VALUE,
               "config line 14: roles[0].permissions[0].allow[0]: must be one of tokenize, "
               "detokenize:masked, detokenize:full, delete, keys:read, keys:rotate, keys:approve, "
               "audit:read, got 'tokenise'");
  expect_error(ROLE_HEAD "    permissions: [{namespace: '*', allow: ['keys:read', tokenize]}]\n",
               TV_E_CONFIG_VALUE,
               "config line 14: roles[0].permissions[0].allow[1]: 'tokenize' needs a named "
               "namespace: '*' only carries keys:read, keys:rotate, keys:approve and audit:read");
  expect_error(ROLE_HEAD "    permissions: []\n    limits: {reveals_per_minute: 0}\n",
               TV_E_CONFIG_VALUE,
               "config line 15: roles[0].limits.reveals_per_minute: must be in 1..10000000000, "
               "got 0");
  expect_error(ROLE_HEAD "    permissions: []\nprincipals:\n  - {name: x, roles: [crm, fin]}\n",
               TV_E_CONFIG_VALUE,
               "config line 16: principals[0].roles[1]: unknown role 'fin' (not under roles:)");
  expect_error(ROLE_HEAD "    permissions: []\n    limit: {}\n", TV_E_CONFIG_UNKNOWN_KEY,
               "config line 15: roles[0].limit: unknown key (expected one of: name, "
               "permissions, limits)");
}

static void test_yaml_level_errors(void **state) {
  (void)state;
  expect_error("listen: [\n", TV_E_CONFIG_SYNTAX,
               "config line 2: while parsing a flow node did not find expected node content");
  expect_error(HEAD PAN_NS "---\nlisten: 127.0.0.1:1\n", TV_E_CONFIG_SYNTAX,
               "config: a second YAML document starts on line 13; the config is one document");
  expect_error(HEAD "namespaces:\n  - name: pan\n    format: &f {kind: pan}\n"
                    "  - name: pan2\n    format: *f\n",
               TV_E_CONFIG_VALUE,
               "config line 11: namespaces[1].format: aliases (*name) are not supported: write "
               "the value out");
  expect_error("listen: \"a\\0b\"\n" "data_dir: /d\nhsm: {module: m, token_label: t, pin_env: P}\n"
               "audit: {dir: a}\nnamespaces: [{name: pan, format: {kind: pan}}]\n",
               TV_E_CONFIG_VALUE,
               "config line 1: listen: contains a NUL character");
  expect_error("? [a]\n: b\n", TV_E_CONFIG_TYPE, "config line 1: keys must be plain names, got a list");
}

static void test_nesting_limit(void **state) {
  (void)state;
  /* 33 levels of flow lists: refused before libyaml's quadratic scan of a
   * long run of them could take seconds. */
  char deep[200000];
  memset(deep, '[', sizeof(deep) - 1);
  deep[sizeof(deep) - 1] = '\0';
  expect_error(deep, TV_E_CONFIG_TOO_LARGE, "config: line 1: nested deeper than 32 levels");
  expect_error("a:\n b:\n  c: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
               TV_E_CONFIG_TOO_LARGE, "config: line 3: nested deeper than 32 levels");
  /* 32 levels parse (and are then refused for what they say). */
  expect_error("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", TV_E_CONFIG_TYPE,
               "config line 1: expected a mapping, got a list");
}

static void test_load_missing_file(void **state) {
  (void)state;
  tv_config *cfg = NULL;
  config_error err;
  assert_int_equal(config_load("/nonexistent/tokenvault.yaml", &cfg, &err), TV_E_CONFIG_IO);
  assert_null(cfg);
  assert_string_equal(err.text,
                      "config: cannot open /nonexistent/tokenvault.yaml: No such file or directory");
}

/* The optional rotation block: defaults, values, and refusals. */
static void test_rotation_block(void **state) {
  (void)state;
  tv_config *cfg = NULL;
  config_error err;
  const char *plain = HEAD PAN_NS;
  assert_int_equal(config_parse(plain, strlen(plain), &cfg, &err), TV_OK);
  assert_int_equal(cfg->rotation.reencrypt_records_per_s, 0);
  assert_int_equal(cfg->rotation.compact_bytes_per_s, CONFIG_COMPACT_BYTES_PER_S_DEFAULT);
  config_free(cfg);
  const char *set = HEAD PAN_NS "rotation: {reencrypt_records_per_s: 500, compact_bytes_per_s: 2097152}\n";
  assert_int_equal(config_parse(set, strlen(set), &cfg, &err), TV_OK);
  assert_int_equal(cfg->rotation.reencrypt_records_per_s, 500);
  assert_int_equal(cfg->rotation.compact_bytes_per_s, 2097152);
  config_free(cfg);
  expect_error(HEAD PAN_NS "rotation: {compact_rate: 5}\n", TV_E_CONFIG_UNKNOWN_KEY,
               "config line 12: rotation.compact_rate: unknown key (expected one of: "
               "reencrypt_records_per_s, compact_bytes_per_s)");
  expect_error(HEAD PAN_NS "rotation: {compact_bytes_per_s: 1000}\n", TV_E_CONFIG_VALUE,
               "config line 12: rotation.compact_bytes_per_s: must be in 1048576..1099511627776, got 1000");
  expect_error(HEAD PAN_NS "rotation: {reencrypt_records_per_s: fast}\n", TV_E_CONFIG_TYPE,
               "config line 12: rotation.reencrypt_records_per_s: expected a whole number, got 'fast'");
}

/* The optional server block: the handshake bound and admission limits. */
static void test_server_block(void **state) {
  (void)state;
  tv_config *cfg = NULL;
  config_error err;
  const char *plain = HEAD PAN_NS;
  assert_int_equal(config_parse(plain, strlen(plain), &cfg, &err), TV_OK);
  assert_int_equal(cfg->server.handshake_timeout_ms, CONFIG_HANDSHAKE_TIMEOUT_MS_DEFAULT);
  assert_int_equal(cfg->server.items_in_flight_max, 0);
  assert_int_equal(cfg->server.request_bytes_in_flight_max, 0);
  config_free(cfg);
  const char *set = HEAD PAN_NS
      "server: {handshake_timeout_ms: 2500, items_in_flight_max: 20000, request_bytes_in_flight_max: 2097152}\n";
  assert_int_equal(config_parse(set, strlen(set), &cfg, &err), TV_OK);
  assert_int_equal(cfg->server.handshake_timeout_ms, 2500);
  assert_int_equal(cfg->server.items_in_flight_max, 20000);
  assert_int_equal(cfg->server.request_bytes_in_flight_max, 2097152);
  config_free(cfg);
  expect_error(HEAD PAN_NS "server: {handshake_timeout_ms: 50}\n", TV_E_CONFIG_VALUE,
               "config line 12: server.handshake_timeout_ms: must be in 100..300000, got 50");
  expect_error(HEAD PAN_NS "server: {items_in_flight_max: 10}\n", TV_E_CONFIG_VALUE,
               "config line 12: server: items_in_flight_max: must be 0 (derived from the machine) or at least "
               "1000 (one full request), got 10");
}

/* The store block and node_id (issue 10, fleet mode): the log is the
 * default; postgres needs its conninfo; node_id is a plain name. */
static void test_store_block(void **state) {
  (void)state;
  tv_config *cfg = NULL;
  config_error err;
  const char *plain = HEAD PAN_NS;
  assert_int_equal(config_parse(plain, strlen(plain), &cfg, &err), TV_OK);
  assert_int_equal(cfg->store.backend, CONFIG_STORE_LOG);
  assert_string_equal(cfg->node_id, "");
  config_free(cfg);
  const char *pg = HEAD PAN_NS
      "store:\n"
      "  backend: postgres\n"
      "  postgres: {conninfo: 'host=/run/postgresql dbname=tv', password_file: /etc/tv/pgpass}\n"
      "node_id: vault-a.1\n";
  assert_int_equal(config_parse(pg, strlen(pg), &cfg, &err), TV_OK);
  assert_int_equal(cfg->store.backend, CONFIG_STORE_POSTGRES);
  assert_string_equal(cfg->store.conninfo, "host=/run/postgresql dbname=tv");
  assert_string_equal(cfg->store.password_file, "/etc/tv/pgpass");
  assert_string_equal(cfg->node_id, "vault-a.1");
  assert_int_equal(cfg->store.statement_timeout_ms, CONFIG_PG_STATEMENT_TIMEOUT_MS_DEFAULT);
  assert_int_equal(cfg->store.lease_ms, CONFIG_PG_LEASE_MS_DEFAULT);
  config_free(cfg);
  const char *timed = HEAD PAN_NS
      "store:\n"
      "  backend: postgres\n"
      "  postgres: {conninfo: 'dbname=tv', statement_timeout_ms: 2500, lease_ms: 4000}\n";
  assert_int_equal(config_parse(timed, strlen(timed), &cfg, &err), TV_OK);
  assert_int_equal(cfg->store.statement_timeout_ms, 2500);
  assert_int_equal(cfg->store.lease_ms, 4000);
  config_free(cfg);
  expect_error(HEAD PAN_NS "store: {backend: postgres, postgres: {conninfo: x, statement_timeout_ms: 99}}\n",
               TV_E_CONFIG_VALUE, "config line 12: store.postgres.statement_timeout_ms: must be in 100..600000, got 99");
  expect_error(HEAD PAN_NS "store: {backend: postgres, postgres: {conninfo: x, lease_ms: 999}}\n",
               TV_E_CONFIG_VALUE, "config line 12: store.postgres.lease_ms: must be in 1000..3600000, got 999");
  expect_error(HEAD PAN_NS "store: {backend: postgres, postgres: {conninfo: x, lease_ms: 3600001}}\n",
               TV_E_CONFIG_VALUE, "config line 12: store.postgres.lease_ms: must be in 1000..3600000, got 3600001");
  expect_error(HEAD PAN_NS "store: {backend: postgres, postgres: {conninfo: x, lease_ms: 30s}}\n",
               TV_E_CONFIG_TYPE, "config line 12: store.postgres.lease_ms: expected a whole number, got '30s'");
  expect_error(HEAD PAN_NS "store: {backend: postgres}\n", TV_E_CONFIG_MISSING,
               "config line 12: store: backend postgres needs a postgres block with conninfo");
  expect_error(HEAD PAN_NS "store: {backend: mysql}\n", TV_E_CONFIG_VALUE,
               "config line 12: store.backend: must be one of log, postgres, got 'mysql'");
  expect_error(HEAD PAN_NS "store: {postgres: {conninfo: 'dbname=tv'}}\n", TV_E_CONFIG_VALUE,
               "config line 12: store.postgres: a postgres block needs backend: postgres");
  expect_error(HEAD PAN_NS "store: {backend: postgres, postgres: {password_file: /p}}\n", TV_E_CONFIG_MISSING,
               "config line 12: store.postgres.conninfo: required key is missing");
  expect_error(HEAD PAN_NS "node_id: 'vault a'\n", TV_E_CONFIG_VALUE,
               "config line 12: node_id: must be 1..64 characters of A-Z a-z 0-9 _ . -, got 'vault a'");
}

/* Reads from a hot standby (issue 11): read_conninfo and its staleness
 * bound, which is range-checked and needs read_conninfo. */
static void test_store_read_replica(void **state) {
  (void)state;
  tv_config *cfg = NULL;
  config_error err;
  const char *pg = HEAD PAN_NS
      "store:\n"
      "  backend: postgres\n"
      "  postgres: {conninfo: 'host=db-a dbname=tv', read_conninfo: 'host=db-b dbname=tv', read_lag_max_ms: 250}\n";
  assert_int_equal(config_parse(pg, strlen(pg), &cfg, &err), TV_OK);
  assert_string_equal(cfg->store.read_conninfo, "host=db-b dbname=tv");
  assert_int_equal(cfg->store.read_lag_max_ms, 250);
  config_free(cfg);
  const char *bare = HEAD PAN_NS "store: {backend: postgres, postgres: {conninfo: 'dbname=tv'}}\n";
  assert_int_equal(config_parse(bare, strlen(bare), &cfg, &err), TV_OK);
  assert_string_equal(cfg->store.read_conninfo, "");
  assert_int_equal(cfg->store.read_lag_max_ms, 0); /* the store's default */
  config_free(cfg);
  expect_error(HEAD PAN_NS "store: {backend: postgres, postgres: {conninfo: 'dbname=tv', read_conninfo: 'host=b',"
                           " read_lag_max_ms: 5}}\n",
               TV_E_CONFIG_VALUE, "config line 12: store.postgres.read_lag_max_ms: must be in 10..600000, got 5");
  expect_error(HEAD PAN_NS "store: {backend: postgres, postgres: {conninfo: 'dbname=tv', read_lag_max_ms: 100}}\n",
               TV_E_CONFIG_VALUE,
               "config line 12: store.postgres.read_lag_max_ms: needs read_conninfo (the standby whose reads it "
               "bounds)");
}

/* Tokenize limits (issue 13): new_tokens_per_kept_group absent is
 * POLICY_GROUP_LIMIT_AUTO (each namespace's default), 0 switches it off, a
 * number is taken as it is; tokenize_per_minute is off unless given. */
static void test_tokenize_limits(void **state) {
  (void)state;
  const char *yaml =
      "listen: 127.0.0.1:7443\n"
      "data_dir: /d\n"
      "hsm: {module: /m.so, token_label: t, pin_env: P}\n"
      "audit: {dir: /a}\n"
      "namespaces: [{name: pan, format: {kind: pan}, convergent: true}]\n"
      "roles:\n"
      "  - {name: crm, permissions: [{namespace: pan, allow: [tokenize]}]}\n"
      "  - name: loader\n"
      "    permissions: [{namespace: pan, allow: [tokenize]}]\n"
      "    limits: {new_tokens_per_kept_group: 0, tokenize_per_minute: 3}\n"
      "  - name: scraper\n"
      "    permissions: [{namespace: pan, allow: [tokenize]}]\n"
      "    limits: {new_tokens_per_kept_group: 25}\n"
      "principals:\n"
      "  - {name: crm, roles: [crm]}\n"
      "  - {name: loader, roles: [loader]}\n"
      "  - {name: scraper, roles: [scraper]}\n";
  tv_config *cfg = NULL;
  config_error err;
  assert_int_equal(config_parse(yaml, strlen(yaml), &cfg, &err), TV_OK);
  policy_request req = {.principal = "crm", .peer = "ipv4:127.0.0.1:1", .permission = TV_PERM_TOKENIZE,
                        .ns = "pan", .items = 4};
  policy_decision d;
  assert_int_equal(policy_check(cfg->policy, NULL, &req, &d), TV_OK);
  assert_true(d.new_tokens_per_kept_group == POLICY_GROUP_LIMIT_AUTO);
  req.principal = "scraper";
  assert_int_equal(policy_check(cfg->policy, NULL, &req, &d), TV_OK);
  assert_int_equal(d.new_tokens_per_kept_group, 25);
  req.principal = "loader"; /* tokenize_per_minute 3 < 4 items: refused, and needs a meter */
  assert_int_equal(policy_check(cfg->policy, NULL, &req, &d), TV_E_POLICY_METER_FULL);
  config_free(cfg);
  expect_error(ROLE_HEAD "    permissions: []\n    limits: {tokenize_per_minute: 0}\n", TV_E_CONFIG_VALUE,
               "config line 15: roles[0].limits.tokenize_per_minute: must be in 1..10000000000, got 0");
  expect_error(ROLE_HEAD "    permissions: []\n    limits: {new_tokens_per_kept_group: 4000000001}\n",
               TV_E_CONFIG_VALUE,
               "config line 15: roles[0].limits.new_tokens_per_kept_group: must be in 0..4000000000, got "
               "4000000001");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_block),
      cmocka_unit_test(test_valid_minimal),    cmocka_unit_test(test_valid_alternatives),
      cmocka_unit_test(test_tokenize_limits),
      cmocka_unit_test(test_unknown_keys),
      cmocka_unit_test(test_wrong_types),      cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_pin_literal),      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_domain_floor),     cmocka_unit_test(test_missing_keys),
      cmocka_unit_test(test_policy_errors),    cmocka_unit_test(test_yaml_level_errors),
      cmocka_unit_test(test_nesting_limit),    cmocka_unit_test(test_load_missing_file),
      cmocka_unit_test(test_rotation_block),   cmocka_unit_test(test_store_block),
      cmocka_unit_test(test_store_read_replica),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
