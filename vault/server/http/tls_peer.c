#include "vault/server/http/tls_peer.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/x509.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "vault/service/cert_principal.h"

/* Adds the subject alternative names and the first CN of |cert|, as gRPC's
 * TLS stack reports them (URI, DNS, email, IP; other SAN types are not
 * names it reads), to |names|. The values point into |cert|. */
static void add_names(X509 *cert, GENERAL_NAMES *sans, tv_cert_names *names) {
  for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
    tv_cert_name_kind kind = gn->type == GEN_URI   ? TV_CERT_NAME_URI
                             : gn->type == GEN_DNS ? TV_CERT_NAME_DNS
                             : gn->type == GEN_EMAIL || gn->type == GEN_IPADD ? TV_CERT_NAME_OTHER_SAN
                                                                               : TV_CERT_NAME_KINDS;
    if (kind == TV_CERT_NAME_KINDS) {
      continue;
    }
    const ASN1_STRING *s = gn->type == GEN_IPADD ? gn->d.iPAddress : gn->d.ia5;
    tv_cert_names_add(names, kind, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
  }
  const X509_NAME *subject = X509_get_subject_name(cert);
  int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) {
    const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    tv_cert_names_add(names, TV_CERT_NAME_CN, (const char *)ASN1_STRING_get0_data(cn),
                      (size_t)ASN1_STRING_length(cn));
  }
}

/* The principal of the verified certificate |der| (the chain's first). */
static int name_principal(const gnutls_datum_t *der, tv_identity *out, char *why, size_t why_len) {
  const unsigned char *p = der->data;
  X509 *cert = d2i_X509(NULL, &p, (long)der->size);
  if (cert == NULL) {
    snprintf(why, why_len, "the client certificate could not be parsed");
    return 0;
  }
  GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  tv_cert_names names = {0};
  add_names(cert, sans, &names);
  tv_cert_principal(&names, out);
  GENERAL_NAMES_free(sans);
  X509_free(cert);
  return 1;
}

int tv_http_tls_identity(gnutls_session_t session, tv_identity *out, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  out->source = "none";
  out->transport = "tls";
  unsigned int count = 0;
  const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &count);
  if (chain == NULL || count == 0) {
    snprintf(why, why_len, "a client certificate issued by the vault's client CA is required");
    return 0;
  }
  /* Client certificates only: an EKU without clientAuth is refused, as
   * OpenSSL's "sslclient" purpose does on the gRPC port. */
  gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
                                   .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
  unsigned int status = 0;
  if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) != GNUTLS_E_SUCCESS || status != 0) {
    gnutls_datum_t text = {0};
    int printed = status != 0 &&
                  gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0;
    size_t text_len = printed ? strlen((const char *)text.data) : 0;
    while (text_len > 0 && text.data[text_len - 1] == ' ') {
      text_len--; /* GnuTLS ends its sentences with a space */
    }
    snprintf(why, why_len, "the client certificate does not verify against the vault's client CA%s%.*s",
             printed ? ": " : "", (int)text_len, printed ? (const char *)text.data : "");
    if (printed) {
      gnutls_free(text.data);
    }
    return 0;
  }
  return name_principal(&chain[0], out, why, why_len);
}
