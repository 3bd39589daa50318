/* The shape of a value: which characters are separators, and putting new
 * characters back into that shape (a token in its input's shape, a reveal
 * in its token's shape). */
#include <assert.h>
#include <string.h>

#include "vault/format/format_internal.h"
#include "vault/util/secure_mem.h"

static int is_separator(char c, const char *separators) {
  return c != '\0' && strchr(separators, c) != NULL;
}

static int separator_bit(const format_value *v, size_t i) {
  return (int)((v->separator_bits[i / 64] >> (i % 64)) & 1u);
}

tv_status format_split(format_value *v, const char *text, size_t len, const char *separators,
                       int strict, int upper) {
  assert(v != NULL && separators != NULL);
  TV_ENSURE(text != NULL || len == 0, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(len > 0, TV_E_FORMAT_EMPTY);
  TV_ENSURE(len <= FORMAT_TEXT_LEN_MAX, TV_E_FORMAT_TOO_LONG);
  size_t n = 0;
  int previous_separator = 1; /* a leading separator counts as doubled */
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (upper && c >= 'a' && c <= 'z') {
      c = (char)(c - 'a' + 'A');
    }
    v->text[i] = c;
    if (is_separator(c, separators)) {
      TV_ENSURE(!strict || !previous_separator, TV_E_FORMAT_SEPARATOR);
      v->separator_bits[i / 64] |= (uint64_t)1 << (i % 64);
      previous_separator = 1;
      continue;
    }
    TV_ENSURE(c != '\0', TV_E_FORMAT_CHAR);
    TV_ENSURE(n < FORMAT_CHARS_MAX, TV_E_FORMAT_TOO_LONG);
    v->canon[n++] = c;
    previous_separator = 0;
  }
  TV_ENSURE(!strict || !previous_separator || n == 0, TV_E_FORMAT_SEPARATOR);
  TV_ENSURE(n > 0, TV_E_FORMAT_EMPTY);
  v->text_len = len;
  v->text[len] = '\0';
  v->canon_len = n;
  v->canon[n] = '\0';
  return TV_OK;
}

void format_render(const format_value *v, const char *canon_chars, char *out) {
  size_t n = 0;
  for (size_t i = 0; i < v->text_len; i++) {
    if (separator_bit(v, i)) {
      out[i] = v->text[i];
    } else {
      assert(n < v->canon_len);
      out[i] = canon_chars[n++];
    }
  }
  assert(n == v->canon_len);
  out[v->text_len] = '\0';
}

/* Space and dash: what every built-in format accepts as a separator (each
 * a subset of them) and what token lookups have always ignored. */
static const char token_separators_builtin[] = " -";

const char *format_token_separators(const tv_format *cfg) {
  assert(cfg != NULL);
  return cfg->kind == FORMAT_GENERIC ? cfg->generic.separators : token_separators_builtin;
}

void format_separator_set_of(const tv_format *cfg, format_separator_set *out) {
  assert(out != NULL);
  memset(out, 0, sizeof *out);
  for (const char *p = format_token_separators(cfg); *p != '\0'; p++) {
    unsigned u = (unsigned char)*p;
    out->bits[u >> 6] |= (uint64_t)1 << (u & 63u);
  }
}

/* Counts the characters of |s| that are not in |set|. */
static size_t significant_len(const char *s, size_t len, const format_separator_set *set) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    n += !format_separator_set_has(set, s[i]);
  }
  return n;
}

tv_status format_shape_like(const tv_format *cfg, const char *chars, size_t chars_len, const char *shape,
                            size_t shape_len, char *out, size_t out_len, size_t *out_written) {
  TV_ENSURE(cfg != NULL && out != NULL && chars != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(shape != NULL || shape_len == 0, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(shape_len < out_len, TV_E_FORMAT_TOO_LONG);
  format_separator_set set;
  format_separator_set_of(cfg, &set);
  /* Tokens replace characters one for one, so a token of this value has
   * exactly as many significant characters; anything else is not its
   * shape, and a reveal must not guess. */
  TV_ENSURE(significant_len(shape, shape_len, &set) == chars_len, TV_E_FORMAT_SEPARATOR);
  size_t n = 0;
  for (size_t i = 0; i < shape_len; i++) {
    out[i] = format_separator_set_has(&set, shape[i]) ? shape[i] : chars[n++];
  }
  assert(n == chars_len);
  out[shape_len] = '\0';
  if (out_written != NULL) {
    *out_written = shape_len;
  }
  return TV_OK;
}

/* One pass over the shape, taking the value's next significant character
 * for each of the shape's: the FULL reveal of every detokenized item goes
 * through here, so no copy of the value and no string scans. */
tv_status format_reshape(const tv_format *cfg, const char *value, size_t value_len, const char *shape,
                         size_t shape_len, char *out, size_t out_len, size_t *out_written) {
  TV_ENSURE(cfg != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE((value != NULL || value_len == 0) && (shape != NULL || shape_len == 0), TV_E_INVALID_ARGUMENT);
  TV_ENSURE(shape_len < out_len, TV_E_FORMAT_TOO_LONG);
  format_separator_set set;
  format_separator_set_of(cfg, &set);
  size_t v = 0;
  tv_status status = TV_OK;
  for (size_t i = 0; i < shape_len && status == TV_OK; i++) {
    if (format_separator_set_has(&set, shape[i])) {
      out[i] = shape[i];
      continue;
    }
    while (v < value_len && format_separator_set_has(&set, value[v])) {
      v++;
    }
    if (v < value_len) {
      out[i] = value[v++];
    } else {
      status = TV_E_FORMAT_SEPARATOR; /* the shape has more characters */
    }
  }
  while (status == TV_OK && v < value_len && format_separator_set_has(&set, value[v])) {
    v++;
  }
  if (status == TV_OK && v < value_len) {
    status = TV_E_FORMAT_SEPARATOR; /* the value has more characters */
  }
  if (status != TV_OK) {
    tv_wipe(out, shape_len); /* a partial copy of the value */
    return status;
  }
  out[shape_len] = '\0';
  if (out_written != NULL) {
    *out_written = shape_len;
  }
  return TV_OK;
}
