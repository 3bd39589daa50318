/* tv_tls_files_load: reads PEM files; names the file that is missing, not
 * PEM or too large; leaves nothing allocated on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vault/service/limits.h"
#include "vault/server/grpc/tls_files.h"

static char dir[] = "/tmp/tv-tls-files-XXXXXX";

static char paths[8][128];
static int files_made;

static const char *file(const char *name, const char *content, size_t len) {
  assert_true(files_made < 8);
  char *p = paths[files_made++];
  snprintf(p, 128, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(content, 1, len, f), len);
  fclose(f);
  return p;
}

#define PEM "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"

static void test_load_and_failures(void **state) {
  (void)state;
  assert_non_null(mkdtemp(dir));
  char err[256];
  tv_tls_files t;
  const char *cert = file("c.pem", PEM, strlen(PEM));
  const char *key = file("k.pem", "-----BEGIN PRIVATE KEY-----\nBBBB\n", 33);
  const char *ca = file("a.pem", PEM, strlen(PEM));
  assert_int_equal(tv_tls_files_load(&t, cert, key, ca, err, sizeof err), TV_OK);
  assert_string_equal(t.cert_pem, PEM);
  assert_non_null(strstr(t.key_pem, "BBBB"));
  tv_tls_files_cleanup(&t);
  assert_null(t.key_pem);
  tv_tls_files_cleanup(&t); /* twice is fine */

  assert_int_equal(tv_tls_files_load(&t, cert, "/nonexistent/k.pem", ca, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "/nonexistent/k.pem"));
  assert_null(t.cert_pem);

  const char *junk = file("junk.pem", "not a certificate\n", 18);
  assert_int_equal(tv_tls_files_load(&t, cert, key, junk, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "is not PEM"));

  const char *nul = file("nul.pem", "-----BEGIN \0X", 13);
  assert_int_equal(tv_tls_files_load(&t, nul, key, ca, err, sizeof err), TV_E_SERVER_CONFIG);

  size_t big_len = TV_PEM_FILE_BYTES_MAX + 1;
  char *big = malloc(big_len);
  assert_non_null(big);
  memset(big, 'A', big_len);
  memcpy(big, "-----BEGIN ", 11);
  const char *huge = file("huge.pem", big, big_len);
  free(big);
  assert_int_equal(tv_tls_files_load(&t, huge, key, ca, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "larger than"));
  for (int i = 0; i < files_made; i++) {
    assert_int_equal(unlink(paths[i]), 0);
  }
  assert_int_equal(rmdir(dir), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_load_and_failures)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
