/* Which name of a verified client certificate is the caller's principal:
 * the one rule both transports apply (gRPC reads the names from the
 * call's auth context, HTTP from the GnuTLS session's peer certificate),
 * so a certificate names the same principal whichever port it calls.
 *
 * The transport adds each name the certificate carries, by kind, then
 * asks for the principal. The principal is the SAN URI, else the SAN DNS
 * name (RFC 6125: the CN only when the certificate has no SAN of a kind
 * the vault reads — URI, DNS, email, IP —, so a certificate with only IP
 * or email SANs names no principal), never the peer address. Refused
 * (authenticated = 0, source "refused", refusal set): two or more
 * different names of the kind used — the vault does not pick one —, SANs
 * but no URI or DNS one, a name that is empty, longer than
 * TV_PRINCIPAL_BYTES_MAX or has control characters (never truncated into
 * another name). */
#ifndef TV_SERVICE_CERT_PRINCIPAL_H
#define TV_SERVICE_CERT_PRINCIPAL_H

#include <stddef.h>

#include "vault/service/identity.h"

typedef enum tv_cert_name_kind {
  TV_CERT_NAME_URI,       /* SAN uniformResourceIdentifier */
  TV_CERT_NAME_DNS,       /* SAN dNSName */
  TV_CERT_NAME_OTHER_SAN, /* SAN rfc822Name or iPAddress: present, never a principal */
  TV_CERT_NAME_CN,        /* the subject's commonName */
  TV_CERT_NAME_KINDS
} tv_cert_name_kind;

/* The names seen so far; zero it before the first add. Values are not
 * copied: they must stay valid until tv_cert_principal. */
typedef struct tv_cert_names {
  struct {
    const char *value; /* the first name of this kind; not NUL-terminated */
    size_t len;
    size_t count;
    int differ; /* a later name of this kind is not the first one */
  } kind[TV_CERT_NAME_KINDS];
} tv_cert_names;

/* tv_cert_names_add records one name of |kind| (|len| bytes). */
void tv_cert_names_add(tv_cert_names *names, tv_cert_name_kind kind, const char *value, size_t len);

/* tv_cert_principal sets |out|'s principal, authenticated, source and
 * refusal from |names| (its transport field is left alone). */
void tv_cert_principal(const tv_cert_names *names, tv_identity *out);

#endif
