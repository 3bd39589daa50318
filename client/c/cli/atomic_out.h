/* atomic_out — an output file that appears whole or not at all.
 *
 * Writes go to a temporary file in the same directory (".NAME.tokenvault-
 * partial", created 0600 because detokenized output holds values); commit
 * flushes, fsyncs, renames it over NAME and fsyncs the directory. A run
 * killed midway leaves NAME untouched (absent or the previous result) and
 * a rerun truncates the same temporary name, so partial files do not pile
 * up. An exclusive lock on the temporary file refuses a second concurrent
 * run to the same NAME. */
#ifndef TV_CLI_ATOMIC_OUT_H
#define TV_CLI_ATOMIC_OUT_H

#include <stdio.h>

#include "client/c/cli/cli_diag.h"

#define ATOMIC_PATH_MAX 4096u

typedef struct atomic_out {
  FILE *file;
  int fd;
  char path[ATOMIC_PATH_MAX];
  char temp[ATOMIC_PATH_MAX];
} atomic_out;

/* atomic_out_open starts writing |path|; on failure |diag| says why. */
tv_status atomic_out_open(atomic_out *o, const char *path, cli_diag *diag);

/* atomic_out_commit makes the file visible under its name; on failure the
 * temporary file is removed and |diag| says why. */
tv_status atomic_out_commit(atomic_out *o, cli_diag *diag);

/* atomic_out_abort removes the temporary file (idempotent). */
void atomic_out_abort(atomic_out *o);

#endif
