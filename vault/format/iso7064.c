#include "vault/format/iso7064.h"

#include <assert.h>

int iso7064_mod97_remainder(const char *s, size_t len) {
  unsigned r = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= '0' && c <= '9') {
      r = (r * 10 + (c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      r = (r * 100 + (c - 'A' + 10u)) % 97;
    } else if (c >= 'a' && c <= 'z') {
      r = (r * 100 + (c - 'a' + 10u)) % 97;
    } else {
      return -1;
    }
  }
  return (int)r;
}

int iso7064_mod97_10_check(const char *s, size_t len) {
  int r = iso7064_mod97_remainder(s, len);
  if (r < 0) {
    return -1;
  }
  /* Appending two digits cd multiplies by 100 and adds cd. */
  int check = 98 - (r * 100) % 97;
  assert(check >= 2 && check <= 98);
  return check;
}

char iso7064_mod11_2_check(const char *digits, size_t len) {
  /* Pure system: p = (p + d) * 2 mod 11 over all digits, then the check
   * value c satisfies (p + c) mod 11 == 1. */
  unsigned p = 0;
  for (size_t i = 0; i < len; i++) {
    p = ((p + (unsigned)(digits[i] - '0')) * 2) % 11;
  }
  unsigned c = (12 - p) % 11;
  return c == 10 ? 'X' : (char)('0' + c);
}

char iso7064_mod11_10_check(const char *digits, size_t len) {
  /* Hybrid system: sum = (d + product) mod 10 (0 counts as 10),
   * product = 2 * sum mod 11; check = 11 - product, 10 written as 0. */
  unsigned product = 10;
  for (size_t i = 0; i < len; i++) {
    unsigned sum = ((unsigned)(digits[i] - '0') + product) % 10;
    if (sum == 0) {
      sum = 10;
    }
    product = (sum * 2) % 11;
  }
  unsigned check = 11 - product;
  return check == 10 ? '0' : (char)('0' + check % 10);
}
