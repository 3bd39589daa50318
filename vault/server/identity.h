/* Who is calling: the principal named by the client certificate that the
 * TLS handshake verified, read from the call's grpc_auth_context. */
#ifndef TV_SERVER_IDENTITY_H
#define TV_SERVER_IDENTITY_H

#include <grpc/grpc.h>

#include "vault/server/limits.h"

typedef struct tv_identity {
  char principal[TV_PRINCIPAL_BYTES_MAX + 1]; /* "" when unauthenticated */
  const char *source;    /* "san_uri", "san_dns", "cn" or "none" (static) */
  const char *transport; /* "tls" or "insecure" (static) */
  int authenticated;
} tv_identity;

/* tv_identity_from_call fills |out| for |call|. The principal is the first
 * SAN URI, else the first SAN DNS name, else the subject CN of a verified
 * client certificate; never the peer address. A name longer than
 * TV_PRINCIPAL_BYTES_MAX or containing control characters is refused
 * (authenticated = 0) rather than truncated into another name. */
void tv_identity_from_call(grpc_call *call, tv_identity *out);

#endif
