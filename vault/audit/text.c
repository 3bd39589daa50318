#include "vault/audit/text.h"

#include <assert.h>

static int in_range(uint8_t c, uint8_t lo, uint8_t hi) { return c >= lo && c <= hi; }

size_t audit_utf8_seq_len(const uint8_t *p, size_t avail) {
  assert(avail >= 1 && p[0] >= 0x80);
  uint8_t c = p[0];
  size_t len;
  uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
  if (in_range(c, 0xc2, 0xdf)) {
    len = 2;
  } else if (in_range(c, 0xe0, 0xef)) {
    len = 3;
    lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
    hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
  } else if (in_range(c, 0xf0, 0xf4)) {
    len = 4;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
  } else {
    return 0;
  }
  if (avail < len || !in_range(p[1], lo, hi)) {
    return 0;
  }
  for (size_t i = 2; i < len; i++) {
    if (!in_range(p[i], 0x80, 0xbf)) {
      return 0;
    }
  }
  return len;
}

static const char hex_digits[] = "0123456789abcdef";

void audit_hex_encode(char *out, const uint8_t *bytes, size_t len) {
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = hex_digits[bytes[i] >> 4];
    out[2 * i + 1] = hex_digits[bytes[i] & 0x0f];
  }
}

/* Worst case per input byte is 6 output bytes (\u00xx). */
int audit_text_escape(char *out, size_t *pos, size_t out_max, const char *text,
                      size_t text_len) {
  const uint8_t *in = (const uint8_t *)text;
  size_t at = *pos;
  if (at + 2 > out_max) {
    return -1;
  }
  out[at++] = '"';
  for (size_t i = 0; i < text_len;) {
    uint8_t c = in[i];
    if (out_max - at < 8) {
      return -1;
    }
    if (c >= 0x80) {
      size_t n = audit_utf8_seq_len(in + i, text_len - i);
      if (n == 0) {
        return -1;
      }
      for (size_t k = 0; k < n; k++) {
        out[at++] = (char)in[i + k];
      }
      i += n;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      out[at++] = '\\';
      out[at++] = 'u';
      out[at++] = '0';
      out[at++] = '0';
      out[at++] = hex_digits[c >> 4];
      out[at++] = hex_digits[c & 0x0f];
    } else {
      if (c == '"' || c == '\\') {
        out[at++] = '\\';
      }
      out[at++] = (char)c;
    }
    i++;
  }
  if (at + 1 > out_max) {
    return -1;
  }
  out[at++] = '"';
  *pos = at;
  return 0;
}
