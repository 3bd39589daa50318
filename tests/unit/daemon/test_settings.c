/* tokenvaultd's settings: command-line flags merged over the YAML file;
 * --dev's built-in configuration; what needs TLS; what a reload cannot
 * change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vault/daemon/settings.h"

static const char base_yaml[] =
    "listen: 0.0.0.0:7443\n"
    "tls: {cert: /c.crt, key: /c.key, client_ca: /ca.crt}\n"
    "data_dir: /var/lib/tv\n"
    "hsm: {module: /m.so, token_label: prod, pin_env: TV_PIN}\n"
    "audit: {dir: /var/lib/tv/audit, checkpoint_interval: 30s}\n"
    "namespaces:\n"
    "  - {name: pan, format: {kind: pan}}\n"
    "roles:\n"
    "  - {name: crm, permissions: [{namespace: pan, allow: [tokenize]}]}\n"
    "principals:\n"
    "  - {name: spiffe://crm, roles: [crm]}\n";

static const char plain_yaml[] =
    "listen: 127.0.0.1:7443\n"
    "data_dir: ./d\n"
    "hsm: {module: /m.so, token_label: dev, pin_file: ./pin}\n"
    "audit: {dir: ./a}\n"
    "namespaces:\n"
    "  - {name: pan, format: {kind: pan}}\n";

static char *write_file(const char *text) {
  char *path = strdup("/tmp/tv-settings-XXXXXX");
  assert_non_null(path);
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

static tv_status resolve(tv_settings *s, char *err, size_t err_len, int argc, char **argv) {
  tv_options o;
  assert_int_equal(tv_options_parse(&o, argc, argv, err, err_len), TV_OK);
  return tv_settings_resolve(s, &o, err, err_len);
}

static void test_file_values(void **state) {
  (void)state;
  char *path = write_file(base_yaml), err[700];
  char *argv[] = {"tokenvaultd", "--config", path, NULL};
  tv_settings s;
  assert_int_equal(resolve(&s, err, sizeof err, 3, argv), TV_OK);
  assert_string_equal(s.listen, "0.0.0.0:7443");
  assert_true(s.tls);
  assert_string_equal(s.tls_cert, "/c.crt");
  assert_string_equal(s.tls_ca, "/ca.crt");
  assert_string_equal(s.data_dir, "/var/lib/tv");
  assert_string_equal(s.audit_dir, "/var/lib/tv/audit");
  assert_int_equal(s.checkpoint_interval_ms, 30000);
  assert_string_equal(s.hsm_token_label, "prod");
  assert_string_equal(s.hsm_pin_env, "TV_PIN");
  assert_null(s.hsm_pin_file);
  assert_true(s.open_vault);
  assert_int_equal(s.config->namespaces_len, 1);
  tv_settings_cleanup(&s);
  unlink(path);
  free(path);
}

static void test_flags_override(void **state) {
  (void)state;
  char *path = write_file(base_yaml), err[700];
  char *argv[] = {"tokenvaultd", "--config", path, "--listen", "127.0.0.1:0", "--tls-cert", "x", "--tls-key",
                  "y", "--tls-ca", "z", "--data-dir", "/d", "--hsm-pin-file", "/p", NULL};
  tv_settings s;
  assert_int_equal(resolve(&s, err, sizeof err, 15, argv), TV_OK);
  assert_string_equal(s.listen, "127.0.0.1:0");
  assert_string_equal(s.tls_cert, "x");
  assert_string_equal(s.tls_ca, "z");
  assert_string_equal(s.data_dir, "/d");
  assert_string_equal(s.hsm_pin_file, "/p");
  assert_null(s.hsm_pin_env); /* a PIN flag replaces the file's source */
  assert_string_equal(s.hsm_token_label, "prod");
  tv_settings_cleanup(&s);
  unlink(path);
  free(path);
}

static void test_plaintext_rules(void **state) {
  (void)state;
  char *path = write_file(plain_yaml), err[700];
  char *argv[] = {"tokenvaultd", "--config", path, NULL};
  tv_settings s;
  assert_int_equal(resolve(&s, err, sizeof err, 3, argv), TV_OK);
  assert_false(s.tls); /* loopback without tls: callers are dev:local */
  tv_settings_cleanup(&s);
  char *wide[] = {"tokenvaultd", "--config", path, "--listen", "0.0.0.0:1", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 5, wide), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "loopback only"));
  tv_settings_cleanup(&s);
  char *none[] = {"tokenvaultd", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 1, none), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "--tls-cert"));
  tv_settings_cleanup(&s);
  char *hsm_only[] = {"tokenvaultd", "--tls-cert", "c", "--tls-key", "k", "--tls-ca", "a",
                      "--hsm-token-label", "x", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 9, hsm_only), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "--config"));
  tv_settings_cleanup(&s);
  char *tls_only[] = {"tokenvaultd", "--tls-cert", "c", "--tls-key", "k", "--tls-ca", "a", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 7, tls_only), TV_OK);
  assert_false(s.open_vault);
  assert_string_equal(s.listen, TV_LISTEN_DEFAULT);
  tv_settings_cleanup(&s);
  unlink(path);
  free(path);
}

/* Neither --dev nor --config: no vault, so nothing to measure; a metrics
 * address is refused by name instead of being silently dropped. With a
 * vault the same flag is taken. */
static void test_metrics_needs_vault(void **state) {
  (void)state;
  char err[700];
  tv_settings s;
  char *no_vault[] = {"tokenvaultd", "--tls-cert", "c", "--tls-key", "k", "--tls-ca", "a",
                      "--metrics-listen", "127.0.0.1:9464", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 9, no_vault), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "--metrics-listen 127.0.0.1:9464 needs a vault"));
  assert_non_null(strstr(err, "--config"));
  tv_settings_cleanup(&s);
  char *dev[] = {"tokenvaultd", "--dev", "--data-dir", "/tmp/x", "--metrics-listen", "127.0.0.1:0", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 6, dev), TV_OK);
  assert_string_equal(s.metrics_listen, "127.0.0.1:0");
  tv_settings_cleanup(&s);
}

/* The HTTP/JSON API is HTTPS with client certificates whenever the gRPC
 * port is mTLS; plaintext only with --dev on loopback, refused by name
 * everywhere else (never plaintext in production, not even on loopback). */
static void test_http_listen_mtls_or_dev(void **state) {
  (void)state;
  char err[700];
  tv_settings s;
  char *dev[] = {"tokenvaultd", "--dev", "--data-dir", "/tmp/x", "--http-listen", "127.0.0.1:0", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 6, dev), TV_OK);
  assert_string_equal(s.http_listen, "127.0.0.1:0");
  tv_settings_cleanup(&s);
  char *dev_public[] = {"tokenvaultd", "--dev", "--data-dir", "/tmp/x", "--http-listen", "0.0.0.0:8080", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 6, dev_public), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "http.listen 0.0.0.0:8080 refused"));
  tv_settings_cleanup(&s);
  char *mtls[] = {"tokenvaultd", "--tls-cert", "c", "--tls-key", "k", "--tls-ca", "a",
                  "--http-listen", "0.0.0.0:8080", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 9, mtls), TV_OK);
  assert_true(s.tls);
  assert_string_equal(s.http_listen, "0.0.0.0:8080");
  tv_settings_cleanup(&s);
  char *path = write_file(plain_yaml);
  char *plain[] = {"tokenvaultd", "--config", path, "--http-listen", "127.0.0.1:8080", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 5, plain), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "http.listen 127.0.0.1:8080 refused"));
  assert_non_null(strstr(err, "mTLS"));
  tv_settings_cleanup(&s);
  unlink(path);
  free(path);
  char *none[] = {"tokenvaultd", "--dev", "--data-dir", "/tmp/x", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 4, none), TV_OK);
  assert_string_equal(s.http_listen, ""); /* off unless configured */
  tv_settings_cleanup(&s);
}

static void test_dev_builtin(void **state) {
  (void)state;
  char err[700];
  char *argv[] = {"tokenvaultd", "--dev", "--data-dir", "/tmp/x", NULL};
  tv_settings s;
  assert_int_equal(resolve(&s, err, sizeof err, 4, argv), TV_OK);
  assert_true(s.dev);
  assert_false(s.tls);
  assert_string_equal(s.audit_dir, "/tmp/x/audit");
  assert_int_equal(s.config->namespaces_len, 7);
  assert_non_null(config_find_namespace(s.config, "de_tax_id"));
  assert_true(policy_has_principal(s.config->policy, CONFIG_DEV_PRINCIPAL));
  tv_settings_cleanup(&s);
}

static void test_bad_file_named(void **state) {
  (void)state;
  char *path = write_file("listen: 127.0.0.1:1\nbogus_key: 1\n"), err[700];
  char *argv[] = {"tokenvaultd", "--config", path, NULL};
  tv_settings s;
  assert_int_equal(resolve(&s, err, sizeof err, 3, argv), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "bogus_key"));
  tv_settings_cleanup(&s);
  char *missing[] = {"tokenvaultd", "--config", "/nonexistent/tv.yaml", NULL};
  assert_int_equal(resolve(&s, err, sizeof err, 3, missing), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "/nonexistent/tv.yaml"));
  tv_settings_cleanup(&s);
  unlink(path);
  free(path);
}

static void test_restart_needed(void **state) {
  (void)state;
  tv_config *a = NULL, *b = NULL;
  config_error cerr;
  char key[64];
  assert_int_equal(config_parse(base_yaml, strlen(base_yaml), &a, &cerr), TV_OK);
  assert_int_equal(config_parse(base_yaml, strlen(base_yaml), &b, &cerr), TV_OK);
  assert_false(tv_settings_restart_needed(a, b, key, sizeof key));
  config_free(b);
  char other[sizeof base_yaml + 64];
  snprintf(other, sizeof other, "%s", base_yaml);
  memcpy(strstr(other, "/var/lib/tv\n"), "/var/lib/tw\n", 12);
  assert_int_equal(config_parse(other, strlen(other), &b, &cerr), TV_OK);
  assert_true(tv_settings_restart_needed(a, b, key, sizeof key));
  assert_string_equal(key, "data_dir");
  config_free(b);
  config_free(a);
}

/* The store block: a password file goes to libpq as `passfile` (quoted
 * for key=value strings, percent-encoded for URIs); a password in the
 * conninfo is refused naming the setting; node_id defaults to the host
 * name. */
static tv_status resolve_store(tv_settings *s, char *err, size_t err_len, const char *store_yaml) {
  char text[2048];
  snprintf(text, sizeof text, "%s%s", plain_yaml, store_yaml);
  char *path = write_file(text);
  char *argv[] = {"tokenvaultd", "--config", path, NULL};
  tv_status st = resolve(s, err, err_len, 3, argv);
  unlink(path);
  free(path);
  return st;
}

static void test_store_settings(void **state) {
  (void)state;
  char *pass = write_file("*:*:*:*:secret\n"), err[700], yaml[1024];
  tv_settings s;
  assert_int_equal(resolve_store(&s, err, sizeof err, ""), TV_OK);
  assert_false(s.store_postgres);
  char host[128] = "";
  assert_int_equal(gethostname(host, sizeof host), 0);
  assert_string_equal(s.node_id, host);
  tv_settings_cleanup(&s);
  snprintf(yaml, sizeof yaml, "node_id: n1\nstore: {backend: postgres, postgres: {conninfo: 'host=/run/pg dbname=tv',"
           " password_file: %s}}\n", pass);
  assert_int_equal(resolve_store(&s, err, sizeof err, yaml), TV_OK);
  assert_true(s.store_postgres);
  assert_string_equal(s.node_id, "n1");
  char want[1024];
  snprintf(want, sizeof want, "host=/run/pg dbname=tv passfile='%s'", pass);
  assert_string_equal(s.pg_conninfo, want);
  tv_settings_cleanup(&s);
  snprintf(yaml, sizeof yaml, "store: {backend: postgres, postgres: {conninfo: 'postgresql://tv@db/tv?sslmode=require',"
           " password_file: %s}}\n", pass);
  assert_int_equal(resolve_store(&s, err, sizeof err, yaml), TV_OK);
  snprintf(want, sizeof want, "postgresql://tv@db/tv?sslmode=require&passfile=%s", pass);
  assert_string_equal(s.pg_conninfo, want);
  tv_settings_cleanup(&s);
  assert_int_equal(resolve_store(&s, err, sizeof err,
                                 "store: {backend: postgres, postgres: {conninfo: 'dbname=tv password=hunter2'}}\n"),
                   TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "store.postgres.conninfo: a password in the connection string is refused"));
  assert_null(strstr(err, "hunter2"));
  tv_settings_cleanup(&s);
  assert_int_equal(resolve_store(&s, err, sizeof err,
                                 "store: {backend: postgres, postgres: {conninfo: 'dbname=tv', password_file: /nonexistent/p}}\n"),
                   TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "store.postgres.password_file: cannot read /nonexistent/p"));
  tv_settings_cleanup(&s);
  /* read_conninfo (a hot standby): the same password file, the same
   * refusal of a password, naming its own setting. */
  snprintf(yaml, sizeof yaml, "store: {backend: postgres, postgres: {conninfo: 'host=/run/pg dbname=tv',"
           " read_conninfo: 'host=/run/standby dbname=tv', read_lag_max_ms: 300, password_file: %s}}\n", pass);
  assert_int_equal(resolve_store(&s, err, sizeof err, yaml), TV_OK);
  snprintf(want, sizeof want, "host=/run/standby dbname=tv passfile='%s'", pass);
  assert_string_equal(s.pg_read_conninfo, want);
  assert_int_equal(s.pg_read_lag_max_ms, 300);
  tv_settings_cleanup(&s);
  assert_int_equal(resolve_store(&s, err, sizeof err,
                                 "store: {backend: postgres, postgres: {conninfo: 'dbname=tv',"
                                 " read_conninfo: 'postgresql://tv:hunter2@standby/tv'}}\n"),
                   TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "store.postgres.read_conninfo: a password in the connection string is refused"));
  assert_null(strstr(err, "hunter2"));
  tv_settings_cleanup(&s);
  assert_int_equal(resolve_store(&s, err, sizeof err, "store: {backend: postgres, postgres: {conninfo: 'dbname=tv'}}\n"),
                   TV_OK);
  assert_string_equal(s.pg_read_conninfo, ""); /* none: every read on the primary */
  tv_settings_cleanup(&s);
  unlink(pass);
  free(pass);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file_values),   cmocka_unit_test(test_flags_override),
      cmocka_unit_test(test_store_settings),
      cmocka_unit_test(test_plaintext_rules), cmocka_unit_test(test_http_listen_mtls_or_dev), cmocka_unit_test(test_dev_builtin),
      cmocka_unit_test(test_metrics_needs_vault),
      cmocka_unit_test(test_bad_file_named), cmocka_unit_test(test_restart_needed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
