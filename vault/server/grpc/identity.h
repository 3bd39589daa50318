/* Who is calling: the principal named by the client certificate that the
 * TLS handshake verified, read from the call's grpc_auth_context. */
#ifndef TV_SERVER_IDENTITY_H
#define TV_SERVER_IDENTITY_H

#include <grpc/grpc.h>

#include "vault/service/limits.h"

typedef struct tv_identity {
  char principal[TV_PRINCIPAL_BYTES_MAX + 1]; /* "" when unauthenticated */
  const char *source;    /* "san_uri", "san_dns", "cn", "none" or "refused" (static) */
  const char *transport; /* "tls" or "insecure" (static) */
  int authenticated;
  /* A verified certificate whose name the vault will not use: why (""
   * otherwise). The call is then refused UNAUTHENTICATED with this. */
  char refusal[160];
} tv_identity;

/* tv_identity_from_call fills |out| for |call|. The principal of a
 * verified client certificate is its SAN URI, else its SAN DNS name
 * (RFC 6125: the CN only when the certificate has no SAN of any kind, so
 * a certificate with only IP or email SANs names no principal), never the
 * peer address. Refused (authenticated = 0, source "refused", |refusal|
 * set): two or more different names of the type used (URI, else DNS) —
 * the vault does not pick one —, SANs but no URI or DNS one, a name longer
 * than TV_PRINCIPAL_BYTES_MAX or with control characters (never truncated
 * into another name). */
void tv_identity_from_call(grpc_call *call, tv_identity *out);

#endif
