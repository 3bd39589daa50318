/* libFuzzer target: arbitrary bytes as free text (a reason, a request id,
 * metadata) through the card-number / IBAN redaction
 * (vault/format/sensitive_text.h). Whatever the bytes:
 *   - the output fits its buffer and is NUL-terminated;
 *   - it holds no maximal run of 13..19 digits that is Luhn-valid, and no
 *     such number made of whole digit groups joined by single spaces or
 *     dashes (checked here by a second, naive walk, not the scanner's);
 *   - the scanner finds nothing more in it (redaction is complete);
 *   - the same holds when the output buffer is too small and cut. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/format/luhn.h"
#include "vault/format/sensitive_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond) {
  if (!cond) {
    __builtin_trap();
  }
}

static int digit(char c) { return c >= '0' && c <= '9'; }

/* Naive: from every group start, extend over "digits (sep digits)*" and
 * test each prefix that ends at a group end. */
static void check_no_card(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!digit(s[i]) || (i > 0 && digit(s[i - 1]))) {
      continue;
    }
    char num[20];
    size_t k = 0;
    for (size_t j = i; j < n && k <= 19; j++) {
      if (digit(s[j])) {
        num[k < 19 ? k : 19] = s[j];
        k++;
        int at_group_end = j + 1 == n || !digit(s[j + 1]);
        check(!(at_group_end && k >= 13 && k <= 19 && luhn_valid(num, k)));
      } else if (!((s[j] == ' ' || s[j] == '-') && j > i && digit(s[j - 1]) && j + 1 < n && digit(s[j + 1]))) {
        break;
      }
    }
  }
}

static void run(const char *in, size_t len, size_t out_max) {
  char *out = malloc(out_max);
  check(out != NULL);
  int cut = 0;
  (void)tv_sensitive_redact(out, out_max, in, len, &cut);
  size_t n = strnlen(out, out_max);
  check(n < out_max);
  check_no_card(out, n);
  size_t s = 0, e = 0;
  check(tv_sensitive_find(out, n, 0, &s, &e) == TV_SENSITIVE_NONE);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) {
    return 0;
  }
  /* Text with NULs is cut at the first, as C strings are. */
  size_t len = strnlen((const char *)data, size);
  run((const char *)data, len, 2 * len + 32); /* room for every mark */
  run((const char *)data, len, len / 2 + 1);  /* cut */
  run((const char *)data, len, 1);
  return 0;
}
