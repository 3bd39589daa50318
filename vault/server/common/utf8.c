#include "vault/server/common/utf8.h"

/* Length of the sequence led by |b| and the smallest code point it may
 * encode (to reject overlong forms); 0 for a byte that cannot lead. */
static size_t utf8_lead(uint8_t b, uint32_t *out_min, uint32_t *out_cp) {
  if (b < 0x80) {
    *out_min = 0;
    *out_cp = b;
    return 1;
  }
  if ((b & 0xE0) == 0xC0) {
    *out_min = 0x80;
    *out_cp = b & 0x1Fu;
    return 2;
  }
  if ((b & 0xF0) == 0xE0) {
    *out_min = 0x800;
    *out_cp = b & 0x0Fu;
    return 3;
  }
  if ((b & 0xF8) == 0xF0) {
    *out_min = 0x10000;
    *out_cp = b & 0x07u;
    return 4;
  }
  return 0;
}

int tv_utf8_valid(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint32_t min = 0;
    uint32_t cp = 0;
    size_t n = utf8_lead(s[i], &min, &cp);
    if (n == 0 || n > len - i) {
      return 0;
    }
    for (size_t k = 1; k < n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) {
        return 0;
      }
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return 0;
    }
    i += n;
  }
  return 1;
}
