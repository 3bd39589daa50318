/* fpe_stream — stdin mode of `tokenvault fpe`: one value per line in, one
 * result per line out, fast enough to pipe millions of values through.
 *
 * Lines are read in large blocks, mapped to numerals in place, and handed
 * to ff1_*_batch in groups, so the per-line cost is one memchr, the
 * alphabet mapping and the FF1 work itself. A line may end in LF or CRLF;
 * its result ends the same way (a last line without a newline gets LF). A
 * newline at the end of the input does not start another value; an empty
 * line anywhere else is an error. The first bad line stops the run: every
 * line before it has its result written, nothing after it is. */
#ifndef TV_CLI_FPE_STREAM_H
#define TV_CLI_FPE_STREAM_H

#include <stddef.h>
#include <stdio.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/fpe_value.h"
#include "vault/crypto/ff1.h"
#include "vault/util/status.h"

/* Longest line, without its LF: a maximal value plus a CR. */
#define FPE_LINE_BYTES_MAX (FF1_LENGTH_MAX + 1u)
/* The read buffer must hold a maximal line after any leftover partial one. */
#define FPE_STREAM_READ_BYTES_MIN (2u * (FPE_LINE_BYTES_MAX + 1u))
/* 256 KiB per read: about 15,000 card-number lines per system call, so
 * the calls cost nothing measurable; larger buffers only add page faults
 * (the buffers are locked in memory). */
#define FPE_STREAM_READ_BYTES_DEFAULT (1u << 18)
/* Lines per FF1 batch call: enough to keep the AES unit busy, small enough
 * that the item array stays in cache. */
#define FPE_STREAM_BATCH_ITEMS_DEFAULT 1024u

typedef struct fpe_stream_limits {
  size_t read_bytes_max;  /* at least FPE_STREAM_READ_BYTES_MIN */
  size_t batch_items_max; /* at least 1 */
} fpe_stream_limits;

/* fpe_stream_limits_default returns the limits the command uses. */
fpe_stream_limits fpe_stream_limits_default(void);

/* fpe_stream_run transforms every line of |in| with |job| and writes the
 * results to |out|. Reads with read(2) when |in| has a file descriptor (so
 * results come out as soon as their lines arrive: usable as a coprocess;
 * nothing may have been read from |in| through stdio before), otherwise
 * with fread. On failure |diag| names the problem and, for a bad
 * value, its line number. Buffers holding values are wiped before return. */
tv_status fpe_stream_run(const fpe_job *job, const fpe_stream_limits *limits, FILE *in, FILE *out,
                         cli_diag *diag);

#endif
