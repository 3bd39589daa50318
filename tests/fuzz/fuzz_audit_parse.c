/* libFuzzer target: arbitrary bytes as an audit log file, through the line
 * parser and the verifier (chain only: MAC checks need an HSM). Must never
 * crash, hang or read out of bounds, whatever the bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vault/audit/line.h"
#include "vault/audit/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  /* Every line on its own: the parser sees each line's exact bytes. */
  size_t pos = 0;
  while (pos < size) {
    const char *nl = memchr(text + pos, '\n', size - pos);
    size_t len = nl != NULL ? (size_t)(nl - (text + pos)) : size - pos;
    audit_line line;
    const char *why = NULL;
    if (audit_line_parse(&line, &why, text + pos, len) == TV_OK) {
      /* What the parser vouches for must hold. */
      if (line.hash_prefix_len >= len || (line.type == AUDIT_LINE_CHECKPOINT &&
                                          (line.mac_prefix_len >= line.hash_prefix_len ||
                                           line.key.off + line.key.len > len))) {
        __builtin_trap();
      }
    } else if (why == NULL) {
      __builtin_trap();
    }
    pos += len + 1;
  }
  /* The whole input as one segment file. */
  tv_audit_verify_result result;
  tv_status status = tv_audit_verify_buffer(&result, NULL, text, size);
  if (status != result.status || (status != TV_OK && result.text[0] == '\0')) {
    __builtin_trap();
  }
  return 0;
}
