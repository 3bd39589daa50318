/* bulk_run — (de)tokenize named columns of a CSV file or named fields of
 * a JSON Lines file, streaming in constant memory.
 *
 * Rows are read in batches (as many rows as keep each namespace's request
 * within --batch items); each batch sends one request per namespace on
 * that namespace's stream, and up to --window batches are in flight while
 * earlier ones are written out in order. Output goes to --out atomically
 * (see atomic_out.h) or to standard output. */
#ifndef TV_CLI_BULK_RUN_H
#define TV_CLI_BULK_RUN_H

#include <stdio.h>

#include "client/c/cli/net_args.h"

/* bulk_run runs the job described by |a| (--csv or --jsonl, --columns,
 * --namespace, --namespace-column, --out...) with |client|; |tokenize| selects the direction.
 * Per-item failures are reported on |err| with their row. Returns the
 * exit status. */
int bulk_run(tv_client *client, const net_args *a, int tokenize, const char *command, FILE *out,
             FILE *err);

#endif
