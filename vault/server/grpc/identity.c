#include "vault/server/grpc/identity.h"

#include <stdio.h>
#include <string.h>

#include <grpc/grpc_security.h>

/* Whether |prop| is a name the vault can use as a principal. */
static int usable_name(const grpc_auth_property *prop) {
  if (prop->value == NULL || prop->value_length == 0 || prop->value_length > TV_PRINCIPAL_BYTES_MAX) {
    return 0;
  }
  for (size_t i = 0; i < prop->value_length; i++) {
    unsigned char c = (unsigned char)prop->value[i];
    if (c < 0x20 || c == 0x7F) {
      return 0;
    }
  }
  return 1;
}

static int same_value(const grpc_auth_property *a, const grpc_auth_property *b) {
  return a->value_length == b->value_length && memcmp(a->value, b->value, a->value_length) == 0;
}

static int has_property(const grpc_auth_context *ctx, const char *name) {
  grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, name);
  return grpc_auth_property_iterator_next(&it) != NULL;
}

/* Refuses the certificate: |head| |kind| |tail| says why. */
static void refuse(tv_identity *out, const char *head, const char *kind, const char *tail) {
  out->principal[0] = '\0';
  out->authenticated = 0;
  out->source = "refused";
  snprintf(out->refusal, sizeof out->refusal, "client certificate %s%s%s", head, kind, tail);
}

/* The principal from the values of SAN type |name|: the one name every
 * value gives. Returns 1 (principal set), 0 (no value of that type), or
 * -1 (refused: different names, or one the vault cannot use). */
static int one_name(const grpc_auth_context *ctx, const char *name, const char *kind, tv_identity *out) {
  grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, name);
  const grpc_auth_property *first = grpc_auth_property_iterator_next(&it);
  if (first == NULL) {
    return 0;
  }
  if (!usable_name(first)) {
    refuse(out, "has a SAN ", kind, " that is empty, too long or has control characters");
    return -1;
  }
  for (const grpc_auth_property *p; (p = grpc_auth_property_iterator_next(&it)) != NULL;) {
    if (!same_value(first, p)) {
      refuse(out, "names more than one principal (different SAN ", kind, " names): issue it with one");
      return -1;
    }
  }
  memcpy(out->principal, first->value, first->value_length);
  out->principal[first->value_length] = '\0';
  return 1;
}

/* The principal of a verified certificate (see identity.h). */
static void name_principal(const grpc_auth_context *ctx, tv_identity *out) {
  static const struct {
    const char *property, *kind, *source;
  } order[] = {{GRPC_PEER_URI_PROPERTY_NAME, "URI", "san_uri"}, {GRPC_PEER_DNS_PROPERTY_NAME, "DNS", "san_dns"}};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    int got = one_name(ctx, order[i].property, order[i].kind, out);
    if (got != 0) {
      out->authenticated = got > 0;
      out->source = got > 0 ? order[i].source : "refused";
      return;
    }
  }
  if (has_property(ctx, GRPC_PEER_EMAIL_PROPERTY_NAME) || has_property(ctx, GRPC_PEER_IP_PROPERTY_NAME) ||
      has_property(ctx, GRPC_X509_SAN_PROPERTY_NAME)) {
    refuse(out, "has SANs but no URI or DNS one; the CN is not used when SANs are present", "", " (RFC 6125)");
    return;
  }
  if (one_name(ctx, GRPC_X509_CN_PROPERTY_NAME, "CN", out) > 0) {
    out->authenticated = 1;
    out->source = "cn";
  }
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
