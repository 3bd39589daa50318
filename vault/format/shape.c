/* The shape of a value: which characters are separators, and putting new
 * characters back into that shape. */
#include <assert.h>
#include <string.h>

#include "vault/format/format_internal.h"

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
