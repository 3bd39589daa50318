/* tokenvaultd's command line: mTLS by default, plaintext only with --dev
 * and only on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vault/daemon/options.h"

static tv_status parse(tv_options *o, char *err, size_t err_len, int argc, char **argv) {
  return tv_options_parse(o, argc, argv, err, err_len);
}

static void test_loopback(void **state) {
  (void)state;
  assert_true(tv_listen_is_loopback("127.0.0.1:7443"));
  assert_true(tv_listen_is_loopback("127.8.9.10:0"));
  assert_true(tv_listen_is_loopback("[::1]:7443"));
  assert_true(tv_listen_is_loopback("localhost:1"));
  assert_false(tv_listen_is_loopback("0.0.0.0:7443"));
  assert_false(tv_listen_is_loopback("[::]:7443"));
  assert_false(tv_listen_is_loopback("10.0.0.1:7443"));
  assert_false(tv_listen_is_loopback("128.0.0.1:7443"));
  assert_false(tv_listen_is_loopback("[::ffff:10.0.0.1]:1"));
  assert_false(tv_listen_is_loopback("localhost.example.com:1"));
  assert_false(tv_listen_is_loopback("127.0.0.1"));     /* no port */
  assert_false(tv_listen_is_loopback("[::1"));          /* unclosed */
  assert_false(tv_listen_is_loopback(":7443"));
  assert_false(tv_listen_is_loopback("unix:/tmp/s"));
}

/* The parser only records flags: whether TLS is configured at all is
 * decided with the config file (test_settings.c). */
static void test_flags_recorded(void **state) {
  (void)state;
  tv_options o;
  char err[256];
  char *argv[] = {"tokenvaultd", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 1, argv), TV_OK);
  assert_null(o.listen);
  assert_null(o.data_dir);
  assert_null(o.config);
  char *tls[] = {"tokenvaultd", "--tls-cert", "c", "--tls-key", "k", "--tls-ca", "a", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 7, tls), TV_OK);
  assert_false(o.dev);
  assert_string_equal(o.tls_key, "k");
  char *partial[] = {"tokenvaultd", "--tls-cert", "c", "--tls-key", "k", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 5, partial), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "--tls-ca"));
  char *pins[] = {"tokenvaultd", "--hsm-pin-file", "f", "--hsm-pin-env", "E", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 5, pins), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "at most one"));
}

static void test_dev_rules(void **state) {
  (void)state;
  tv_options o;
  char err[256];
  char *ok[] = {"tokenvaultd", "--dev", "--listen", "[::1]:0", "--config", "c.yaml", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 6, ok), TV_OK);
  assert_true(o.dev);
  assert_string_equal(o.config, "c.yaml");
  char *wide[] = {"tokenvaultd", "--dev", "--listen", "0.0.0.0:7443", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 4, wide), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "loopback only"));
  char *mixed[] = {"tokenvaultd", "--dev", "--tls-ca", "a", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 4, mixed), TV_E_SERVER_CONFIG);
  char *bogus[] = {"tokenvaultd", "--dev", "--bogus", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 3, bogus), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "--bogus"));
  char *extra[] = {"tokenvaultd", "--dev", "stray", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 3, extra), TV_E_SERVER_CONFIG);
  char *missing[] = {"tokenvaultd", "--dev", "--listen", NULL};
  assert_int_equal(parse(&o, err, sizeof err, 3, missing), TV_E_SERVER_CONFIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loopback),
      cmocka_unit_test(test_flags_recorded),
      cmocka_unit_test(test_dev_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
