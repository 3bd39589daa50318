#include "vault/server/grpc/tls_reload.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct tv_tls_reloader {
  pthread_mutex_t lock;
  grpc_ssl_server_certificate_config *staged; /* handed to gRPC once */
};

static X509 *read_cert(const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  return cert;
}

static EVP_PKEY *read_key(const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  return key;
}

/* gRPC would only find a bad file at the next handshake and then serve
 * nobody; checked here, a bad file is refused and the old one stays. */
static tv_status check_files(const tv_tls_files *f, char *err, size_t err_len) {
  X509 *cert = read_cert(f->cert_pem);
  X509 *ca = read_cert(f->ca_pem);
  EVP_PKEY *key = read_key(f->key_pem);
  const char *why = NULL;
  if (cert == NULL) {
    why = "the server certificate does not parse";
  } else if (ca == NULL) {
    why = "the client CA file holds no certificate";
  } else if (key == NULL) {
    why = "the private key does not parse";
  } else if (X509_check_private_key(cert, key) != 1) {
    why = "the private key does not match the server certificate";
  }
  X509_free(cert);
  X509_free(ca);
  EVP_PKEY_free(key);
  if (why != NULL) {
    snprintf(err, err_len, "%s", why);
    return TV_E_SERVER_CONFIG;
  }
  return TV_OK;
}

static tv_status make_config(grpc_ssl_server_certificate_config **out, const tv_tls_files *f, char *err,
                             size_t err_len) {
  TV_TRY(check_files(f, err, err_len));
  grpc_ssl_pem_key_cert_pair pair = {f->key_pem, f->cert_pem};
  *out = grpc_ssl_server_certificate_config_create(f->ca_pem, &pair, 1);
  TV_ENSURE(*out != NULL, TV_E_NO_MEMORY);
  return TV_OK;
}

/* Runs on every handshake under gRPC's lock: only a pointer swap. */
static grpc_ssl_certificate_config_reload_status fetch(void *user_data,
                                                       grpc_ssl_server_certificate_config **config) {
  tv_tls_reloader *r = user_data;
  pthread_mutex_lock(&r->lock);
  grpc_ssl_server_certificate_config *staged = r->staged;
  r->staged = NULL;
  pthread_mutex_unlock(&r->lock);
  if (staged == NULL) {
    return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
  }
  *config = staged; /* gRPC owns it from here */
  return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

tv_status tv_tls_reloader_new(tv_tls_reloader **out, const tv_tls_files *files, char *err, size_t err_len) {
  *out = NULL;
  tv_tls_reloader *r = calloc(1, sizeof *r);
  TV_ENSURE(r != NULL, TV_E_NO_MEMORY);
  pthread_mutex_init(&r->lock, NULL);
  tv_status st = make_config(&r->staged, files, err, err_len);
  if (st != TV_OK) {
    tv_tls_reloader_free(r);
    return st;
  }
  *out = r;
  return TV_OK;
}

grpc_server_credentials *tv_tls_reloader_credentials(tv_tls_reloader *r) {
  grpc_ssl_server_credentials_options *opts = grpc_ssl_server_credentials_create_options_using_config_fetcher(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, fetch, r);
  if (opts == NULL) {
    return NULL;
  }
  /* Takes over |opts|. gRPC's TLS stack negotiates TLS 1.2 or 1.3 only. */
  return grpc_ssl_server_credentials_create_with_options(opts);
}

tv_status tv_tls_reloader_update(tv_tls_reloader *r, const tv_tls_files *files, char *err, size_t err_len) {
  grpc_ssl_server_certificate_config *config = NULL;
  TV_TRY(make_config(&config, files, err, err_len));
  pthread_mutex_lock(&r->lock);
  grpc_ssl_server_certificate_config *old = r->staged;
  r->staged = config;
  pthread_mutex_unlock(&r->lock);
  if (old != NULL) {
    grpc_ssl_server_certificate_config_destroy(old); /* staged, never handed over */
  }
  return TV_OK;
}

void tv_tls_reloader_free(tv_tls_reloader *r) {
  if (r == NULL) {
    return;
  }
  if (r->staged != NULL) {
    grpc_ssl_server_certificate_config_destroy(r->staged);
  }
  pthread_mutex_destroy(&r->lock);
  free(r);
}
