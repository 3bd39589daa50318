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

/* Counts the characters of |s| that are not in |separators|. */
static size_t significant_len(const char *s, size_t len, const char *separators) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    n += !is_separator(s[i], separators);
  }
  return n;
}

tv_status format_shape_like(const tv_format *cfg, const char *chars, size_t chars_len, const char *shape,
                            size_t shape_len, char *out, size_t out_len, size_t *out_written) {
  TV_ENSURE(cfg != NULL && out != NULL && chars != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(shape != NULL || shape_len == 0, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(shape_len < out_len, TV_E_FORMAT_TOO_LONG);
  const char *separators = format_token_separators(cfg);
  /* Tokens replace characters one for one, so a token of this value has
   * exactly as many significant characters; anything else is not its
   * shape, and a reveal must not guess. */
  TV_ENSURE(significant_len(shape, shape_len, separators) == chars_len, TV_E_FORMAT_SEPARATOR);
  size_t n = 0;
  for (size_t i = 0; i < shape_len; i++) {
    out[i] = is_separator(shape[i], separators) ? shape[i] : chars[n++];
  }
  assert(n == chars_len);
  out[shape_len] = '\0';
  if (out_written != NULL) {
    *out_written = shape_len;
  }
  return TV_OK;
}

tv_status format_reshape(const tv_format *cfg, const char *value, size_t value_len, const char *shape,
                         size_t shape_len, char *out, size_t out_len, size_t *out_written) {
  TV_ENSURE(cfg != NULL && (value != NULL || value_len == 0), TV_E_INVALID_ARGUMENT);
  TV_ENSURE(value_len <= FORMAT_TEXT_LEN_MAX, TV_E_FORMAT_TOO_LONG);
  const char *separators = format_token_separators(cfg);
  char chars[FORMAT_TEXT_LEN_MAX];
  size_t n = 0;
  for (size_t i = 0; i < value_len; i++) {
    if (!is_separator(value[i], separators)) {
      chars[n++] = value[i];
    }
  }
  tv_status status = format_shape_like(cfg, chars, n, shape, shape_len, out, out_len, out_written);
  tv_wipe(chars, n); /* the real value's characters */
  return status;
}
