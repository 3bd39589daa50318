/* Text in audit lines: UTF-8 validation and the one escaping rule shared by
 * the writer and the parser (printable ASCII and UTF-8 kept as they are,
 * `"` and `\` backslash-escaped, control bytes as \u00xx). */
#ifndef TV_AUDIT_TEXT_H
#define TV_AUDIT_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* audit_utf8_seq_len returns the length (2..4) of the valid, shortest-form
 * UTF-8 sequence starting at |p| (|avail| bytes readable, p[0] >= 0x80),
 * or 0 if there is none. */
size_t audit_utf8_seq_len(const uint8_t *p, size_t avail);

/* audit_text_escape appends |text| (|text_len| bytes) as a JSON string
 * with its quotes to |out| at |*pos| (capacity |out_max|), advancing
 * |*pos|. Returns 0, or -1 (nothing promised about |out|) if |text| is not
 * valid UTF-8 or does not fit. */
int audit_text_escape(char *out, size_t *pos, size_t out_max, const char *text,
                      size_t text_len);

/* audit_hex_encode writes 2 * |len| lowercase hex digits (no NUL). */
void audit_hex_encode(char *out, const uint8_t *bytes, size_t len);

#endif
