#include "client/c/cli/cli_diag.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cli_diag_clear(cli_diag *diag) {
  assert(diag != NULL);
  diag->text[0] = '\0';
}

tv_status cli_fail(cli_diag *diag, tv_status status, const char *format, ...) {
  assert(diag != NULL);
  assert(status != TV_OK);
  va_list args;
  va_start(args, format);
  /* Truncation is acceptable: the sentence is for a human, and the buffer
   * is sized for every message this CLI writes. */
  (void)vsnprintf(diag->text, sizeof diag->text, format, args);
  va_end(args);
  return status;
}

const char *cli_describe_byte(char *out, size_t out_len, unsigned char c) {
  assert(out != NULL && out_len >= CLI_BYTE_TEXT_MAX);
  if (c >= 0x21 && c <= 0x7e && c != '\'') {
    (void)snprintf(out, out_len, "'%c'", c);
  } else {
    /* Spaces, quotes, control and non-ASCII bytes would be invisible or
     * garble the terminal, so they are shown by value. */
    (void)snprintf(out, out_len, "byte 0x%02x", c);
  }
  return out;
}

const char *cli_quote(char *out, size_t out_len, const char *text) {
  assert(out != NULL && out_len >= 4 && text != NULL);
  size_t len = strlen(text);
  size_t keep = len < out_len ? len : out_len - 4;
  for (size_t i = 0; i < keep; i++) {
    unsigned char c = (unsigned char)text[i];
    out[i] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
  }
  if (keep < len) {
    memcpy(out + keep, "...", 4);
  } else {
    out[keep] = '\0';
  }
  return out;
}
