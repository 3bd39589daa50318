/* Who is calling, as the transport established it: the principal named by
 * the client certificate the TLS handshake verified (the gRPC transport
 * reads it from the call's auth context, vault/server/grpc/identity.h). */
#ifndef TV_SERVICE_IDENTITY_H
#define TV_SERVICE_IDENTITY_H

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

#endif
