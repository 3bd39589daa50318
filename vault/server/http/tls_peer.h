/* Who is calling over the HTTPS listener: the client certificate of the
 * connection's GnuTLS session, verified against the listener's client CA
 * and named by the rule both transports share
 * (vault/service/cert_principal.h), so a certificate is the same
 * principal over HTTP as over gRPC. */
#ifndef TV_SERVER_HTTP_TLS_PEER_H
#define TV_SERVER_HTTP_TLS_PEER_H

#include <stddef.h>

#include <gnutls/gnutls.h>

#include "vault/service/identity.h"

/* tv_http_tls_identity fills |out| (transport "tls") for |session|.
 * Returns 1 when the session carries a client certificate that GnuTLS
 * verified against the trust list (chain, dates, extendedKeyUsage
 * clientAuth when present) — |out| then names the principal or says why
 * the certificate names none, as over gRPC —; returns 0 with a sentence
 * in |why| when there is no certificate or it does not verify (the caller
 * refuses the request: 401). */
int tv_http_tls_identity(gnutls_session_t session, tv_identity *out, char *why, size_t why_len);

#endif
