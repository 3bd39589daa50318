/* The format dispatcher: configuration, parsing, masking and the canonical
 * form, plus the small helpers the per-format files share. */
#include "vault/format/format.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vault/format/format_internal.h"
#include "vault/util/secure_mem.h"

const format_ops *format_ops_for(tv_format_kind kind) {
  switch (kind) {
    case FORMAT_PAN: return &format_pan_ops;
    case FORMAT_IBAN: return &format_iban_ops;
    case FORMAT_BANK_ACCOUNT: return &format_bank_account_ops;
    case FORMAT_US_SSN: return &format_us_ssn_ops;
    case FORMAT_TW_NATIONAL_ID: return &format_tw_national_id_ops;
    case FORMAT_CN_RESIDENT_ID: return &format_cn_resident_id_ops;
    case FORMAT_DE_TAX_ID: return &format_de_tax_id_ops;
    case FORMAT_GENERIC: return &format_generic_ops;
  }
  return NULL;
}

const char *format_kind_name(tv_format_kind kind) {
  switch (kind) {
    case FORMAT_PAN: return "pan";
    case FORMAT_IBAN: return "iban";
    case FORMAT_BANK_ACCOUNT: return "bank_account";
    case FORMAT_US_SSN: return "us_ssn";
    case FORMAT_TW_NATIONAL_ID: return "tw_national_id";
    case FORMAT_CN_RESIDENT_ID: return "cn_resident_id";
    case FORMAT_DE_TAX_ID: return "de_tax_id";
    case FORMAT_GENERIC: return "generic";
  }
  return "unknown";
}

tv_status format_why(tv_status status, char *why, size_t why_len, const char *fmt, ...) {
  if (why != NULL && why_len > 0) {
    va_list args;
    va_start(args, fmt);
    (void)vsnprintf(why, why_len, fmt, args);
    va_end(args);
  }
  return status;
}

tv_status format_check_domain(unsigned radix, size_t length) {
  uint64_t values = 1;
  for (size_t i = 0; i < length && values < FF1_DOMAIN_MIN; i++) {
    values *= radix;
  }
  return values >= FF1_DOMAIN_MIN ? TV_OK : TV_E_FORMAT_DOMAIN_TOO_SMALL;
}

tv_status format_config_init(tv_format *cfg, tv_format_kind kind, const char *namespace_name) {
  TV_ENSURE(cfg != NULL && namespace_name != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(format_ops_for(kind) != NULL, TV_E_FORMAT_CONFIG);
  size_t ns_len = strlen(namespace_name);
  TV_ENSURE(ns_len <= FORMAT_NAMESPACE_LEN_MAX, TV_E_FORMAT_CONFIG);
  memset(cfg, 0, sizeof *cfg);
  cfg->kind = kind;
  cfg->mode = FORMAT_MODE_FF1;
  memcpy(cfg->namespace_name, namespace_name, ns_len);
  cfg->attempts_max = FORMAT_ATTEMPTS_DEFAULT;
  /* 6 + 4 kept leaves 6 digits at 16: the shortest length that meets the
   * domain floor. Shorter cards need a namespace that keeps less. */
  cfg->pan = (tv_format_pan){.length_min = 16, .length_max = 19, .keep_first = 6,
                             .keep_last = 4, .luhn = FORMAT_LUHN_INVALID};
  cfg->iban.check = FORMAT_IBAN_CHECK_VALID;
  /* Keep-last-4 needs 6 tokenised digits, hence 10 as the shortest. */
  cfg->bank = (tv_format_bank_account){.length_min = 10, .length_max = 17, .keep_last = 4,
                                       .routing_allowed = 1};
  cfg->ssn.keep_last = 0;
  cfg->tw.resident_allowed = 1;
  cfg->generic.length_min = 6;
  cfg->generic.length_max = 32;
  cfg->generic.checksum = FORMAT_CHECKSUM_NONE;
  return alphabet_init(&cfg->generic.alphabet, FORMAT_DIGITS, 10);
}

tv_status format_config_validate(const tv_format *cfg, char *why, size_t why_len) {
  if (why != NULL && why_len > 0) {
    why[0] = '\0';
  }
  TV_ENSURE(cfg != NULL, TV_E_INVALID_ARGUMENT);
  const format_ops *ops = format_ops_for(cfg->kind);
  if (ops == NULL) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "unknown format kind %d", (int)cfg->kind);
  }
  if (cfg->mode != FORMAT_MODE_FF1 && cfg->mode != FORMAT_MODE_RANDOM) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "mode must be ff1 or random");
  }
  if (memchr(cfg->namespace_name, '\0', sizeof cfg->namespace_name) == NULL) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "namespace name is not terminated");
  }
  if (cfg->attempts_max < 1 || cfg->attempts_max > FORMAT_ATTEMPTS_MAX) {
    return format_why(TV_E_FORMAT_CONFIG, why, why_len, "attempts_max %u is not in 1..%u",
                      cfg->attempts_max, FORMAT_ATTEMPTS_MAX);
  }
  return ops->validate(cfg, why, why_len);
}

tv_status format_parse(const tv_format *cfg, const char *text, size_t len, format_value *out) {
  TV_ENSURE(cfg != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  memset(out, 0, sizeof *out);
  const format_ops *ops = format_ops_for(cfg->kind);
  TV_ENSURE(ops != NULL, TV_E_FORMAT_CONFIG);
  out->kind = cfg->kind;
  tv_status status = ops->parse(cfg, text, len, out);
  if (status == TV_OK) {
    status = format_tweak_base(cfg, out);
  }
  if (status != TV_OK) {
    format_value_wipe(out);
    return status;
  }
  assert(out->numerals_len > 0 && out->numerals_len <= FORMAT_CHARS_MAX);
  assert(out->radix >= 2 && out->canon_len <= FORMAT_CHARS_MAX);
  return TV_OK;
}

void format_value_wipe(format_value *value) {
  if (value != NULL) {
    tv_wipe(value, sizeof *value);
  }
}

static tv_status copy_out(const char *s, size_t len, char *out, size_t out_len,
                          size_t *out_written) {
  TV_ENSURE(out != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(len < out_len, TV_E_FORMAT_TOO_LONG);
  memcpy(out, s, len);
  out[len] = '\0';
  if (out_written != NULL) {
    *out_written = len;
  }
  return TV_OK;
}

/* The masked canonical characters of |value| into |masked|
 * (FORMAT_CHARS_MAX + 1 bytes). */
static tv_status mask_canon(const tv_format *cfg, const format_value *value, char *masked) {
  TV_ENSURE(cfg != NULL && value != NULL && value->kind == cfg->kind, TV_E_INVALID_ARGUMENT);
  const format_ops *ops = format_ops_for(cfg->kind);
  TV_ENSURE(ops != NULL, TV_E_FORMAT_CONFIG);
  assert(value->canon_len <= FORMAT_CHARS_MAX);
  memcpy(masked, value->canon, value->canon_len + 1);
  ops->mask(cfg, value, masked);
  return TV_OK;
}

/* SSNs are always shown as ***-**-NNNN, whatever their input or token
 * shape: the form people read them in. */
static tv_status mask_ssn(const format_value *value, const char *masked, char *out, size_t out_len,
                          size_t *out_written) {
  assert(value->canon_len == 9);
  (void)value;
  char ssn[12] = "***-**-";
  memcpy(ssn + 7, masked + 5, 4);
  ssn[11] = '\0';
  return copy_out(ssn, 11, out, out_len, out_written);
}

tv_status format_mask(const tv_format *cfg, const format_value *value, char *out, size_t out_len,
                      size_t *out_written) {
  char masked[FORMAT_CHARS_MAX + 1];
  char shaped[FORMAT_TEXT_LEN_MAX + 1];
  tv_status status = mask_canon(cfg, value, masked);
  if (status == TV_OK && cfg->kind == FORMAT_US_SSN) {
    status = mask_ssn(value, masked, out, out_len, out_written);
  } else if (status == TV_OK) {
    format_render(value, masked, shaped);
    status = copy_out(shaped, value->text_len, out, out_len, out_written);
  }
  tv_wipe(masked, sizeof masked);
  tv_wipe(shaped, sizeof shaped);
  return status;
}

tv_status format_mask_like(const tv_format *cfg, const format_value *value, const char *shape, size_t shape_len,
                           char *out, size_t out_len, size_t *out_written) {
  char masked[FORMAT_CHARS_MAX + 1];
  tv_status status = mask_canon(cfg, value, masked);
  if (status == TV_OK && cfg->kind == FORMAT_US_SSN) {
    status = mask_ssn(value, masked, out, out_len, out_written);
  } else if (status == TV_OK) {
    status = format_shape_like(cfg, masked, value->canon_len, shape, shape_len, out, out_len, out_written);
  }
  tv_wipe(masked, sizeof masked);
  return status;
}

tv_status format_canonical(const format_value *value, char *out, size_t out_len,
                           size_t *out_written) {
  TV_ENSURE(value != NULL, TV_E_INVALID_ARGUMENT);
  return copy_out(value->canon, value->canon_len, out, out_len, out_written);
}

tv_status format_tokenise_range(format_value *v, size_t start, size_t count,
                                const tv_alphabet *alphabet) {
  assert(start + count <= v->canon_len && v->token_len + count <= FORMAT_CHARS_MAX);
  assert(v->alphabet == NULL || v->alphabet == alphabet);
  for (size_t i = 0; i < count; i++) {
    v->token_pos[v->token_len + i] = (uint8_t)(start + i);
  }
  tv_status status = alphabet_to_numerals(alphabet, v->canon + start, count,
                                          v->numerals + v->numerals_len, NULL);
  TV_ENSURE(status == TV_OK, TV_E_FORMAT_CHAR);
  v->token_len += count;
  v->numerals_len += count;
  v->alphabet = alphabet;
  v->radix = alphabet->size;
  return TV_OK;
}

void format_keep_range(format_value *v, size_t start, size_t count) {
  assert(start + count <= v->canon_len && v->kept_len + count <= FORMAT_CHARS_MAX);
  memcpy(v->kept + v->kept_len, v->canon + start, count);
  v->kept_len += count;
}

void format_place(const format_value *v, const uint8_t *numerals, char *cand) {
  for (size_t i = 0; i < v->token_len; i++) {
    char c;
    tv_status status = alphabet_to_text(v->alphabet, numerals + i, 1, &c);
    assert(status == TV_OK);
    (void)status;
    cand[v->token_pos[i]] = c;
  }
}

int format_all_in(const char *s, size_t len, const char *set) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\0' || strchr(set, s[i]) == NULL) {
      return 0;
    }
  }
  return 1;
}

void format_mask_range(char *masked, size_t start, size_t count) {
  memset(masked + start, '*', count);
}
