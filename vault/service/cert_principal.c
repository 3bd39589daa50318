#include "vault/service/cert_principal.h"

#include <stdio.h>
#include <string.h>

void tv_cert_names_add(tv_cert_names *names, tv_cert_name_kind kind, const char *value, size_t len) {
  if ((unsigned)kind >= TV_CERT_NAME_KINDS) {
    return;
  }
  if (value == NULL) {
    value = "";
    len = 0;
  }
  if (names->kind[kind].count == 0) {
    names->kind[kind].value = value;
    names->kind[kind].len = len;
  } else if (names->kind[kind].len != len || memcmp(names->kind[kind].value, value, len) != 0) {
    names->kind[kind].differ = 1;
  }
  names->kind[kind].count++;
}

/* Whether |len| bytes at |value| are a name the vault can use. */
static int usable_name(const char *value, size_t len) {
  if (len == 0 || len > TV_PRINCIPAL_BYTES_MAX) {
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)value[i];
    if (c < 0x20 || c == 0x7F) {
      return 0;
    }
  }
  return 1;
}

/* Refuses the certificate: |head| |kind| |tail| says why. */
static void refuse(tv_identity *out, const char *head, const char *kind, const char *tail) {
  out->principal[0] = '\0';
  out->authenticated = 0;
  out->source = "refused";
  snprintf(out->refusal, sizeof out->refusal, "client certificate %s%s%s", head, kind, tail);
}

/* The principal from the names of |kind|: the one name they all give.
 * Returns 1 (principal set), 0 (no name of that kind), or -1 (refused:
 * different names, or one the vault cannot use). */
static int one_name(const tv_cert_names *names, tv_cert_name_kind kind, const char *kind_text, tv_identity *out) {
  if (names->kind[kind].count == 0) {
    return 0;
  }
  if (!usable_name(names->kind[kind].value, names->kind[kind].len)) {
    refuse(out, "has a SAN ", kind_text, " that is empty, too long or has control characters");
    return -1;
  }
  if (names->kind[kind].differ) {
    refuse(out, "names more than one principal (different SAN ", kind_text, " names): issue it with one");
    return -1;
  }
  memcpy(out->principal, names->kind[kind].value, names->kind[kind].len);
  out->principal[names->kind[kind].len] = '\0';
  return 1;
}

void tv_cert_principal(const tv_cert_names *names, tv_identity *out) {
  static const struct {
    tv_cert_name_kind kind;
    const char *text, *source;
  } order[] = {{TV_CERT_NAME_URI, "URI", "san_uri"}, {TV_CERT_NAME_DNS, "DNS", "san_dns"}};
  out->principal[0] = '\0';
  out->authenticated = 0;
  out->source = "none";
  out->refusal[0] = '\0';
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    int got = one_name(names, order[i].kind, order[i].text, out);
    if (got != 0) {
      out->authenticated = got > 0;
      out->source = got > 0 ? order[i].source : "refused";
      return;
    }
  }
  if (names->kind[TV_CERT_NAME_OTHER_SAN].count > 0) {
    refuse(out, "has SANs but no URI or DNS one; the CN is not used when SANs are present", "", " (RFC 6125)");
    return;
  }
  if (one_name(names, TV_CERT_NAME_CN, "CN", out) > 0) {
    out->authenticated = 1;
    out->source = "cn";
  }
}
