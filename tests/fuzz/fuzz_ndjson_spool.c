/* Fuzz target: arbitrary bytes as an NDJSON stream's body
 * (vault/server/http/ndjson_spool.h), written in chunks of sizes drawn
 * from the input and read back. The lines read must be exactly those of a
 * plain reference split (non-blank lines, "\r\n" taken, numbered from 1),
 * up to the first line over the limit, where reading must stop with
 * TV_NDJSON_CUT_LINE_TOO_LONG and that line's number. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/server/http/ndjson_spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): the fuzz build is a release build (NDEBUG). */
#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) {       \
      abort();           \
    }                    \
  } while (0)

static int blank(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
      return 0;
    }
  }
  return 1;
}

/* Checks the spool's lines against the reference split of |body|. */
static void check_lines(tv_ndjson_spool *s, const uint8_t *body, size_t len, size_t line_max) {
  uint64_t no = 0;
  const uint8_t *p = body, *end = body + len;
  while (p < end) {
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    size_t content = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
    no++;
    const char *line = NULL;
    size_t line_len = 0;
    uint64_t line_no = 0;
    tv_ndjson_cut cut = TV_NDJSON_CUT_NONE;
    if (content > line_max) {
      FUZZ_CHECK(tv_ndjson_spool_next(s, &line, &line_len, &line_no, &cut) == 0);
      FUZZ_CHECK(cut == TV_NDJSON_CUT_LINE_TOO_LONG && line_no == no);
      return;
    }
    size_t want = content > 0 && p[content - 1] == '\r' ? content - 1 : content;
    if (!blank(p, want)) {
      FUZZ_CHECK(tv_ndjson_spool_next(s, &line, &line_len, &line_no, &cut) == 1);
      FUZZ_CHECK(line_len == want && memcmp(line, p, want) == 0 && line_no == no && cut == TV_NDJSON_CUT_NONE);
    }
    p = nl != NULL ? nl + 1 : end;
  }
  const char *line = NULL;
  size_t line_len = 0;
  uint64_t line_no = 0;
  tv_ndjson_cut cut = TV_NDJSON_CUT_IO;
  FUZZ_CHECK(tv_ndjson_spool_next(s, &line, &line_len, &line_no, &cut) == 0 && cut == TV_NDJSON_CUT_NONE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) {
    return 0;
  }
  size_t line_max = 1 + data[0] % 64; /* small, so lines over it are common */
  uint8_t chunk_seed = data[1];
  const uint8_t *body = data + 2;
  size_t len = size - 2;
  tv_ndjson_spool *s = NULL;
  if (tv_ndjson_spool_open(&s, "/tmp", line_max, (uint64_t)len + 1) != TV_OK) {
    return 0;
  }
  for (size_t off = 0; off < len;) {
    size_t n = 1 + (size_t)(chunk_seed = (uint8_t)(chunk_seed * 33u + 7u)) % 97;
    n = n < len - off ? n : len - off;
    tv_ndjson_spool_write(s, (const char *)body + off, n);
    off += n;
  }
  check_lines(s, body, len, line_max);
  tv_ndjson_spool_free(s);
  return 0;
}
