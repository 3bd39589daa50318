#include "vault/format/luhn.h"

#include <assert.h>

unsigned luhn_sum(const char *digits, size_t len) {
  unsigned sum = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned d = (unsigned)(unsigned char)digits[len - 1 - i] - '0';
    unsigned doubled = 2 * d - 9 * (unsigned)(d > 4);
    /* Odd positions from the right are doubled; select without a branch. */
    unsigned odd = (unsigned)(i & 1);
    sum += odd * doubled + (1 - odd) * d;
  }
  return sum % 10;
}

int luhn_valid(const char *digits, size_t len) {
  if (len == 0) {
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    if (digits[i] < '0' || digits[i] > '9') {
      return 0;
    }
  }
  return luhn_sum(digits, len) == 0;
}

char luhn_check_digit(const char *payload, size_t len) {
  /* With a 0 appended every payload digit moves one place left, which is
   * what the sum of the payload shifted by one position computes. */
  unsigned sum = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned d = (unsigned)(unsigned char)payload[len - 1 - i] - '0';
    unsigned doubled = 2 * d - 9 * (unsigned)(d > 4);
    unsigned odd = (unsigned)((i + 1) & 1);
    sum += odd * doubled + (1 - odd) * d;
  }
  unsigned check = (10 - sum % 10) % 10;
  assert(check <= 9);
  return (char)('0' + check);
}
