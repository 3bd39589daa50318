/* The request body of an NDJSON stream (ndjson_stream.h), kept in an
 * encrypted, unlinked temporary file while it arrives and read back line
 * by line once it is complete.
 *
 * Why a file: libmicrohttpd (0.9.75) sends an answer only once the whole
 * request body has been received — it cannot answer lines while the body
 * is still arriving — so a stream of millions of values must wait
 * somewhere between its upload and its answer. Memory would grow with the
 * stream; the file does not (it grows the disk, up to |bytes_max|).
 *
 * The file holds values (PANs, tokens), so it never holds them in clear:
 * it is opened O_TMPFILE (never linked into a directory, gone when closed
 * or when the process dies) with mode 0600 and written through
 * AES-256-CTR under a random key that lives only in this process's memory
 * and is wiped on close. Every buffer that held plaintext is wiped.
 *
 * Lines end with "\n" ("\r\n" too); a line of only blanks is skipped (it
 * is no request); a last line without "\n" counts. Lines are numbered from
 * 1 as in the file (blank ones too), so an answer can name its line. */
#ifndef TV_SERVER_HTTP_NDJSON_SPOOL_H
#define TV_SERVER_HTTP_NDJSON_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

typedef struct tv_ndjson_spool tv_ndjson_spool;

/* Why the spool stopped taking the body before its end. */
typedef enum tv_ndjson_cut {
  TV_NDJSON_CUT_NONE = 0,
  TV_NDJSON_CUT_LINE_TOO_LONG, /* a line over |line_bytes_max| */
  TV_NDJSON_CUT_BODY_TOO_LARGE, /* the body over |bytes_max| */
  TV_NDJSON_CUT_IO,            /* the file could not be written */
} tv_ndjson_cut;

/* tv_ndjson_spool_open creates an empty spool in directory |dir| taking
 * lines of at most |line_bytes_max| bytes and at most |bytes_max| bytes in
 * all. Returns TV_OK with |*out|; TV_E_IO (no O_TMPFILE file in |dir|),
 * TV_E_CRYPTO_BACKEND or TV_E_NO_MEMORY. */
tv_status tv_ndjson_spool_open(tv_ndjson_spool **out, const char *dir, size_t line_bytes_max, uint64_t bytes_max);

/* tv_ndjson_spool_write appends |len| body bytes. At the first line over
 * the limit, the first byte over |bytes_max| or a write error, the spool
 * is cut at the start of that line: the line and everything after it are
 * discarded (later writes too), and reading ends there with the cut. */
void tv_ndjson_spool_write(tv_ndjson_spool *spool, const char *data, size_t len);

/* tv_ndjson_spool_next returns the next non-blank line, after the body is
 * complete (the first call ends the writing): 1 with |*out_line| (valid
 * until the next call; wiped then), |*out_len| bytes without its line end,
 * and its number in |*out_line_no|; 0 at the end, with |*out_cut| saying
 * why the body was cut there (TV_NDJSON_CUT_NONE: the whole body was
 * read) and |*out_line_no| the number of the line it was cut at. */
int tv_ndjson_spool_next(tv_ndjson_spool *spool, const char **out_line, size_t *out_len, uint64_t *out_line_no,
                         tv_ndjson_cut *out_cut);

/* tv_ndjson_spool_bytes returns how many body bytes the file holds. */
uint64_t tv_ndjson_spool_bytes(const tv_ndjson_spool *spool);

/* tv_ndjson_spool_fd returns the file's descriptor (tests read it back to
 * see that no value is in it in clear). */
int tv_ndjson_spool_fd(const tv_ndjson_spool *spool);

/* tv_ndjson_spool_free closes the file (it is gone then), wipes the key
 * and every buffer and frees |spool|; accepts NULL. */
void tv_ndjson_spool_free(tv_ndjson_spool *spool);

#endif
