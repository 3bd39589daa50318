#include "vault/server/grpc/identity.h"

#include <stdio.h>
#include <string.h>

#include <grpc/grpc_security.h>

#include "vault/service/cert_principal.h"

/* Adds every value of auth property |name| to |names| as |kind|. */
static void add_names(const grpc_auth_context *ctx, const char *name, tv_cert_name_kind kind, tv_cert_names *names) {
  grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, name);
  for (const grpc_auth_property *p; (p = grpc_auth_property_iterator_next(&it)) != NULL;) {
    tv_cert_names_add(names, kind, p->value, p->value_length);
  }
}

/* The principal of a verified certificate: its names as gRPC's TLS stack
 * reports them, by the rule both transports share (cert_principal.h). */
static void name_principal(const grpc_auth_context *ctx, tv_identity *out) {
  tv_cert_names names = {0};
  add_names(ctx, GRPC_PEER_URI_PROPERTY_NAME, TV_CERT_NAME_URI, &names);
  add_names(ctx, GRPC_PEER_DNS_PROPERTY_NAME, TV_CERT_NAME_DNS, &names);
  add_names(ctx, GRPC_PEER_EMAIL_PROPERTY_NAME, TV_CERT_NAME_OTHER_SAN, &names);
  add_names(ctx, GRPC_PEER_IP_PROPERTY_NAME, TV_CERT_NAME_OTHER_SAN, &names);
  add_names(ctx, GRPC_X509_SAN_PROPERTY_NAME, TV_CERT_NAME_OTHER_SAN, &names);
  add_names(ctx, GRPC_X509_CN_PROPERTY_NAME, TV_CERT_NAME_CN, &names);
  tv_cert_principal(&names, out);
}

static int transport_is_tls(const grpc_auth_context *ctx) {
  grpc_auth_property_iterator it =
      grpc_auth_context_find_properties_by_name(ctx, GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  const grpc_auth_property *prop = grpc_auth_property_iterator_next(&it);
  if (prop == NULL || prop->value == NULL) {
    return 0;
  }
  /* Property values carry a length; they need not be NUL-terminated. */
  static const char *const tls_names[] = {GRPC_SSL_TRANSPORT_SECURITY_TYPE, GRPC_TLS_TRANSPORT_SECURITY_TYPE};
  for (size_t i = 0; i < 2; i++) {
    if (prop->value_length == strlen(tls_names[i]) && memcmp(prop->value, tls_names[i], prop->value_length) == 0) {
      return 1;
    }
  }
  return 0;
}

void tv_identity_from_call(grpc_call *call, tv_identity *out) {
  memset(out, 0, sizeof *out);
  out->source = "none";
  out->transport = "insecure";
  grpc_auth_context *ctx = grpc_call_auth_context(call);
  if (ctx == NULL) {
    return;
  }
  if (transport_is_tls(ctx)) {
    out->transport = "tls";
  }
  if (grpc_auth_context_peer_is_authenticated(ctx)) {
    name_principal(ctx, out);
  }
  grpc_auth_context_release(ctx);
}
