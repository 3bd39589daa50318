#include "vault/server/http/tls_creds.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tv_http_creds {
  atomic_int refs;
  gnutls_certificate_credentials_t cred;
};

struct tv_http_tls {
  pthread_mutex_t lock;
  tv_http_creds *current; /* holds one reference */
};

static gnutls_datum_t datum(const char *pem) {
  return (gnutls_datum_t){.data = (unsigned char *)(uintptr_t)pem, .size = (unsigned int)strlen(pem)};
}

/* New credentials with one reference, or NULL with the reason. */
static tv_http_creds *creds_new(const char *cert_pem, const char *key_pem, const char *ca_pem, char *err,
                                size_t err_len) {
  tv_http_creds *c = calloc(1, sizeof *c);
  if (c == NULL || gnutls_certificate_allocate_credentials(&c->cred) != GNUTLS_E_SUCCESS) {
    free(c);
    snprintf(err, err_len, "out of memory for the HTTPS credentials");
    return NULL;
  }
  atomic_init(&c->refs, 1);
  gnutls_datum_t cert = datum(cert_pem), key = datum(key_pem), ca = datum(ca_pem);
  /* GnuTLS refuses a key that does not match the certificate here. */
  int rc = gnutls_certificate_set_x509_key_mem(c->cred, &cert, &key, GNUTLS_X509_FMT_PEM);
  if (rc < 0) {
    snprintf(err, err_len, "the HTTPS listener cannot use the certificate and key: %s", gnutls_strerror(rc));
  } else if ((rc = gnutls_certificate_set_x509_trust_mem(c->cred, &ca, GNUTLS_X509_FMT_PEM)) <= 0) {
    snprintf(err, err_len, "the HTTPS listener cannot use the client CA: %s",
             rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
    rc = -1;
  }
  if (rc < 0) {
    gnutls_certificate_free_credentials(c->cred);
    free(c);
    return NULL;
  }
  return c;
}

tv_status tv_http_tls_new(tv_http_tls **out, const char *cert_pem, const char *key_pem, const char *ca_pem,
                          char *out_err, size_t out_err_len) {
  TV_ENSURE(out != NULL && cert_pem != NULL && key_pem != NULL && ca_pem != NULL, TV_E_INVALID_ARGUMENT);
  *out = NULL;
  tv_http_tls *t = calloc(1, sizeof *t);
  if (t == NULL) {
    return TV_E_NO_MEMORY;
  }
  t->current = creds_new(cert_pem, key_pem, ca_pem, out_err, out_err_len);
  if (t->current == NULL) {
    free(t);
    return TV_E_SERVER_CONFIG;
  }
  pthread_mutex_init(&t->lock, NULL);
  *out = t;
  return TV_OK;
}

tv_status tv_http_tls_update(tv_http_tls *t, const char *cert_pem, const char *key_pem, const char *ca_pem,
                             char *out_err, size_t out_err_len) {
  TV_ENSURE(t != NULL && cert_pem != NULL && key_pem != NULL && ca_pem != NULL, TV_E_INVALID_ARGUMENT);
  tv_http_creds *fresh = creds_new(cert_pem, key_pem, ca_pem, out_err, out_err_len);
  if (fresh == NULL) {
    return TV_E_SERVER_CONFIG;
  }
  pthread_mutex_lock(&t->lock);
  tv_http_creds *old = t->current;
  t->current = fresh;
  pthread_mutex_unlock(&t->lock);
  tv_http_creds_release(old); /* freed once its last connection closes */
  return TV_OK;
}

tv_http_creds *tv_http_tls_acquire(tv_http_tls *t) {
  pthread_mutex_lock(&t->lock);
  tv_http_creds *c = t->current;
  atomic_fetch_add(&c->refs, 1);
  pthread_mutex_unlock(&t->lock);
  return c;
}

gnutls_certificate_credentials_t tv_http_creds_gnutls(const tv_http_creds *c) { return c->cred; }

void tv_http_creds_release(tv_http_creds *c) {
  if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1) {
    gnutls_certificate_free_credentials(c->cred);
    free(c);
  }
}

void tv_http_tls_free(tv_http_tls *t) {
  if (t == NULL) {
    return;
  }
  tv_http_creds_release(t->current);
  pthread_mutex_destroy(&t->lock);
  free(t);
}
