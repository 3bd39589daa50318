/* Who is calling (tv_identity, vault/service/identity.h), read from a gRPC
 * call's grpc_auth_context: the principal named by the client certificate
 * that the TLS handshake verified. */
#ifndef TV_SERVER_GRPC_IDENTITY_H
#define TV_SERVER_GRPC_IDENTITY_H

#include <grpc/grpc.h>

#include "vault/service/identity.h"

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
