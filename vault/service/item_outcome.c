#include "vault/service/item_outcome.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

static const char *const class_names[TV_ITEM_CLASS_COUNT] = {
    "not_found", "deleted", "expired", "invalid", "policy", "namespace", "key", "error",
};

const char *tv_item_class_name(tv_item_class cls) {
  assert(cls < TV_ITEM_CLASS_COUNT);
  return class_names[cls];
}

/* Statuses named one by one, before the ranges below. */
static int exact_class(tv_status status, tv_item_class *out) {
  switch (status) {
    case TV_E_ENGINE_NOT_FOUND:
    case TV_E_STORE_NOT_FOUND: *out = TV_ITEM_NOT_FOUND; return 1;
    case TV_E_ENGINE_DELETED: *out = TV_ITEM_DELETED; return 1;
    case TV_E_ENGINE_EXPIRED: *out = TV_ITEM_EXPIRED; return 1;
    case TV_E_ENGINE_NAMESPACE: *out = TV_ITEM_NAMESPACE; return 1;
    case TV_E_ENGINE_DECRYPT: *out = TV_ITEM_KEY; return 1;
    case TV_E_INVALID_ARGUMENT:
    case TV_E_ENGINE_METADATA_TOO_LARGE:
    case TV_E_ENGINE_EXPIRY:
    case TV_E_ENGINE_BATCH_TOO_LARGE:
    case TV_E_SERVER_REQUEST_MALFORMED:
    case TV_E_SERVER_REQUEST_TOO_LARGE: *out = TV_ITEM_INVALID; return 1;
    default: return 0;
  }
}

tv_item_class tv_item_class_of(tv_status status) {
  tv_item_class cls;
  if (exact_class(status, &cls)) {
    return cls;
  }
  int code = (int)status;
  if (code >= 100 && code < 300) {
    return TV_ITEM_INVALID; /* FF1 input and FORMAT_*: the value is not one */
  }
  if ((code >= 300 && code < 400) || (code >= 500 && code < 600)) {
    return TV_ITEM_KEY; /* HSM_*, KEYRING_* */
  }
  if (code >= 900 && code < 950) {
    return TV_ITEM_POLICY;
  }
  return TV_ITEM_ERROR;
}

void tv_item_outcome_add(tv_item_outcome *o, tv_status status) {
  if (status == TV_OK) {
    o->ok++;
  } else {
    o->failed[tv_item_class_of(status)]++;
  }
}

void tv_item_outcome_format(char *out, size_t out_max, const tv_item_outcome *o) {
  assert(out_max >= TV_ITEM_OUTCOME_TEXT_MAX);
  size_t pos = 0;
  out[0] = '\0';
  for (size_t i = 0; i < TV_ITEM_CLASS_COUNT; i++) {
    if (o->failed[i] == 0) {
      continue;
    }
    int n = snprintf(out + pos, out_max - pos, "%s%s:%" PRIu64, pos > 0 ? "," : "", class_names[i],
                     o->failed[i]);
    assert(n > 0 && (size_t)n < out_max - pos);
    pos += (size_t)n;
  }
}

void tv_item_fault_add(tv_item_fault *f, tv_status status) {
  int fault = status == TV_E_STORE_UNAVAILABLE || status == TV_E_STORE_TIMEOUT;
  if (!fault || (f->items > 0 && f->status != status)) {
    f->mixed = 1;
  }
  f->status = status;
  f->items++;
}

tv_status tv_item_fault_whole(const tv_item_fault *f) {
  return f->items > 0 && !f->mixed ? f->status : TV_OK;
}
