/* progress — a one-line progress bar with rate and ETA on a terminal. */
#ifndef TV_CLI_PROGRESS_H
#define TV_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct progress {
  FILE *tty;             /* NULL: no bar */
  uint64_t total_bytes;  /* 0 when unknown (a pipe) */
  uint64_t start_ns;
  uint64_t last_ns;
} progress;

/* progress_start shows a bar on |err| when |mode| is 1, or when it is -1
 * and |err| is a terminal. |total_bytes| may be 0 (unknown). */
void progress_start(progress *p, FILE *err, int mode, uint64_t total_bytes);

/* progress_update redraws at most four times a second. */
void progress_update(progress *p, uint64_t bytes, uint64_t rows);

/* progress_end clears the bar's line. */
void progress_end(progress *p);

/* progress_now_ns returns a monotonic time in nanoseconds. */
uint64_t progress_now_ns(void);

#endif
