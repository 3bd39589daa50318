#include "vault/server/identity.h"

#include <string.h>

#include <grpc/grpc_security.h>

/* Copies the first value of property |name| into |out| if it is a usable
 * principal. Returns 1 if it did. */
static int copy_first(const grpc_auth_context *ctx, const char *name, tv_identity *out) {
  grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, name);
  const grpc_auth_property *prop = grpc_auth_property_iterator_next(&it);
  if (prop == NULL || prop->value == NULL || prop->value_length == 0 ||
      prop->value_length > TV_PRINCIPAL_BYTES_MAX) {
    return 0;
  }
  for (size_t i = 0; i < prop->value_length; i++) {
    unsigned char c = (unsigned char)prop->value[i];
    if (c < 0x20 || c == 0x7F) {
      return 0;
    }
  }
  memcpy(out->principal, prop->value, prop->value_length);
  out->principal[prop->value_length] = '\0';
  return 1;
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
    static const struct {
      const char *property;
      const char *source;
    } order[] = {{GRPC_PEER_URI_PROPERTY_NAME, "san_uri"},
                 {GRPC_PEER_DNS_PROPERTY_NAME, "san_dns"},
                 {GRPC_X509_CN_PROPERTY_NAME, "cn"}};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
      if (copy_first(ctx, order[i].property, out)) {
        out->source = order[i].source;
        out->authenticated = 1;
        break;
      }
    }
  }
  grpc_auth_context_release(ctx);
}
