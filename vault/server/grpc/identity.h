/* Who is calling (tv_identity, vault/service/identity.h), read from a gRPC
 * call's grpc_auth_context: the principal named by the client certificate
 * that the TLS handshake verified. */
#ifndef TV_SERVER_GRPC_IDENTITY_H
#define TV_SERVER_GRPC_IDENTITY_H

#include <grpc/grpc.h>

#include "vault/service/identity.h"

/* tv_identity_from_call fills |out| for |call|: the principal of a
 * verified client certificate by the rule both transports share
 * (vault/service/cert_principal.h), never the peer address. */
void tv_identity_from_call(grpc_call *call, tv_identity *out);

#endif
