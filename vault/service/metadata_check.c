#include "vault/service/metadata_check.h"

#include <stdio.h>
#include <string.h>

#include "vault/format/sensitive_text.h"

static tv_sensitive_kind holds_number(const char *text) {
  size_t s = 0, e = 0;
  return tv_sensitive_find(text, strlen(text), 0, &s, &e);
}

tv_status tv_metadata_check(const Tokenvault__V1__TokenizeRequest *r, char *detail, size_t detail_max) {
  for (size_t i = 0; i < r->n_metadata; i++) {
    const char *key = r->metadata[i]->key, *value = r->metadata[i]->value;
    tv_sensitive_kind kind = holds_number(key);
    if (kind != TV_SENSITIVE_NONE) {
      snprintf(detail, detail_max, "metadata key #%zu holds %s: card numbers and IBANs are refused in metadata",
               i + 1, tv_sensitive_name(kind));
      return TV_E_INVALID_ARGUMENT;
    }
    kind = holds_number(value);
    if (kind != TV_SENSITIVE_NONE) {
      snprintf(detail, detail_max, "metadata '%.48s' holds %s: card numbers and IBANs are refused in metadata",
               key, tv_sensitive_name(kind));
      return TV_E_INVALID_ARGUMENT;
    }
  }
  return TV_OK;
}
