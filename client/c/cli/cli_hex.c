#include "client/c/cli/cli_hex.h"

#include <assert.h>

/* Returns the value of hex digit |c| (0..15), or a value with bit 8 set if
 * |c| is not one, without a branch or table lookup on |c|: keys pass
 * through here. Each range test yields an all-ones mask when |c| is in it. */
static unsigned hex_nibble(unsigned char c) {
  unsigned x = c;
  unsigned is_digit = (((x - 0x30u) >> 8) & 1u) ^ 1u;
  is_digit &= (((0x39u - x) >> 8) & 1u) ^ 1u;
  unsigned lower = x | 0x20u;
  unsigned is_alpha = (((lower - 0x61u) >> 8) & 1u) ^ 1u;
  is_alpha &= (((0x66u - lower) >> 8) & 1u) ^ 1u;
  unsigned digit_mask = 0u - is_digit;
  unsigned alpha_mask = 0u - is_alpha;
  unsigned value = ((x - 0x30u) & digit_mask) | ((lower - 0x61u + 10u) & alpha_mask);
  unsigned invalid = (is_digit | is_alpha) ^ 1u;
  return (value & 0xfu) | (invalid << 8);
}

tv_status cli_hex_decode(uint8_t *out, size_t out_max, const char *hex, size_t hex_len,
                         size_t *out_bad_index) {
  assert(out_bad_index != NULL);
  assert(hex != NULL || hex_len == 0);
  *out_bad_index = hex_len;
  TV_ENSURE(hex_len % 2 == 0 && hex_len / 2 <= out_max, TV_E_INVALID_ARGUMENT);
  unsigned any_invalid = 0;
  size_t first_bad = hex_len;
  for (size_t i = 0; i < hex_len; i += 2) {
    unsigned hi = hex_nibble((unsigned char)hex[i]);
    unsigned lo = hex_nibble((unsigned char)hex[i + 1]);
    out[i / 2] = (uint8_t)(((hi & 0xfu) << 4) | (lo & 0xfu));
    /* Only the position of the first bad digit is remembered; a bad digit
     * ends the key anyway, so that branch leaks nothing worth hiding. */
    if (((hi | lo) >> 8) != 0 && any_invalid == 0) {
      any_invalid = 1;
      first_bad = (hi >> 8) != 0 ? i : i + 1;
    }
  }
  if (any_invalid != 0) {
    *out_bad_index = first_bad;
    return TV_E_INVALID_ARGUMENT;
  }
  return TV_OK;
}
