/* db_migrate — the batch loop of `tokenvault db tokenize|detokenize`
 * (and of its --dry-run), resumable through tokenvault_migration. */
#ifndef TV_CLI_DB_MIGRATE_H
#define TV_CLI_DB_MIGRATE_H

#include "client/c/cli/db_job.h"

/* db_migrate_run runs the job's batches to the end and marks the job
 * done; a dry run prints its counts to job->out. Returns 0, 1 (a dry run
 * found bad cells) or the exit status of the failure (printed). */
int db_migrate_run(db_job *job);

#endif
