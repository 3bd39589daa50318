/* Checks before a certificate reload: a matching certificate and key and
 * a CA are staged; a key of another certificate, garbage or an empty CA
 * are refused and leave the staged config as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "vault/server/grpc/tls_reload.h"

typedef struct pem_pair {
  char cert[4096];
  char key[4096];
} pem_pair;

static void bio_to(BIO *bio, char *out, size_t out_max) {
  int n = BIO_read(bio, out, (int)out_max - 1);
  assert_true(n > 0);
  out[n] = '\0';
  BIO_free(bio);
}

/* A self-signed P-256 certificate and its key, in PEM. */
static void make_pair(pem_pair *out, const char *cn) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  assert_non_null(key);
  X509 *cert = X509_new();
  assert_non_null(cert);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_NAME *name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
  BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_X509(cb, cert), 1);
  assert_int_equal(PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL), 1);
  bio_to(cb, out->cert, sizeof out->cert);
  bio_to(kb, out->key, sizeof out->key);
  X509_free(cert);
  EVP_PKEY_free(key);
}

static pem_pair a, b;

static int setup(void **state) {
  (void)state;
  make_pair(&a, "server-a");
  make_pair(&b, "server-b");
  return 0;
}

static void test_good_and_bad(void **state) {
  (void)state;
  char err[256];
  tv_tls_files good = {a.cert, a.key, b.cert};
  tv_tls_reloader *r = NULL;
  assert_int_equal(tv_tls_reloader_new(&r, &good, err, sizeof err), TV_OK);
  assert_non_null(r);
  tv_tls_files swapped = {a.cert, b.key, b.cert};
  assert_int_equal(tv_tls_reloader_update(r, &swapped, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "does not match"));
  char garbage[] = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  tv_tls_files bad_cert = {garbage, a.key, b.cert};
  assert_int_equal(tv_tls_reloader_update(r, &bad_cert, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "certificate does not parse"));
  char empty[] = "";
  tv_tls_files no_ca = {a.cert, a.key, empty};
  assert_int_equal(tv_tls_reloader_update(r, &no_ca, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "CA"));
  tv_tls_files bad_key = {a.cert, garbage, b.cert};
  assert_int_equal(tv_tls_reloader_update(r, &bad_key, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_non_null(strstr(err, "private key does not parse"));
  tv_tls_files next = {b.cert, b.key, a.cert};
  assert_int_equal(tv_tls_reloader_update(r, &next, err, sizeof err), TV_OK);
  assert_int_equal(tv_tls_reloader_update(r, &good, err, sizeof err), TV_OK); /* replaces a staged one */
  tv_tls_reloader_free(r);
  tv_tls_reloader_free(NULL);
}

static void test_new_refuses(void **state) {
  (void)state;
  char err[256];
  tv_tls_files swapped = {b.cert, a.key, a.cert};
  tv_tls_reloader *r = (tv_tls_reloader *)&err; /* must be reset to NULL */
  assert_int_equal(tv_tls_reloader_new(&r, &swapped, err, sizeof err), TV_E_SERVER_CONFIG);
  assert_null(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_and_bad),
      cmocka_unit_test(test_new_refuses),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
