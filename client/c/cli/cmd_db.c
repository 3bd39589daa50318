/* `tokenvault db tokenize|detokenize`: migrate the named columns of a
 * PostgreSQL table in place, resumably (client/c/cli/db_progress.c). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cmd_net.h"
#include "client/c/cli/db_conn.h"
#include "client/c/cli/db_job.h"
#include "client/c/cli/db_migrate.h"

static const char db_help[] =
    "usage: tokenvault db tokenize   --conninfo CONNINFO --table T --columns COL[:NS],... [options]\n"
    "       tokenvault db detokenize --conninfo CONNINFO --table T --columns COL[:NS],... [--reason R] [options]\n"
    "\n"
    "Replaces the named columns of a PostgreSQL table by tokens in place (or\n"
    "tokens by their values), in batches of rows ordered by the key, each in\n"
    "one short transaction that also records the job's progress in the table\n"
    "tokenvault_migration of the same database: after an interrupt or a kill,\n"
    "run the same command again and it goes on after the last committed batch\n"
    "(it never tokenizes a token). A value that fails its format is left as it\n"
    "is and listed by key and status name (tokenvault_migration_failure),\n"
    "never by value. At the end a verification pass: the table's row (and cell)\n"
    "counts against the job's and, after tokenize, --verify N random rows\n"
    "detokenized with reveal none (each cell must be a token).\n"
    "\n"
    "  --conninfo S         libpq connection string or postgresql:// URI, without a\n"
    "                       password (use PGPASSFILE, or --conninfo-file)\n"
    "  --conninfo-file F    read the connection string from F (mode 0600 if it\n"
    "                       holds a password)\n"
    "  --table T            table (schema.table allowed)\n"
    "  --key COL            the key that orders the batches (default: the table's\n"
    "                       single-column primary key; COL needs a unique index)\n"
    "  --columns C:NS,...   columns and their namespaces, e.g. card_number:pan,iban:iban;\n"
    "                       a column without :NS takes --namespace or, with\n"
    "  --namespace-column C the namespace named in each row's column C (tables that\n"
    "                       mix kinds in one column)\n"
    "  --batch N            rows per transaction (1..20000, default 2000)\n"
    "  --dry-run            read and check every row, write nothing to the database;\n"
    "                       prints counts and the keys and status names of the first\n"
    "                       20 bad cells (tokenize asks the vault, which in a\n"
    "                       convergent namespace returns the same tokens later)\n"
    "  --verify N           tokenize: rows detokenized (reveal none) by the final\n"
    "                       check (default 10000; 0: count check only)\n"
    "  --reason TEXT        detokenize: why (audited; a policy may require it)\n"
    "  --progress / --no-progress   progress bar with rate and ETA on stderr\n"
    "\n"
    "Exit status: 0 done and verified, 1 some cells bad (listed; the rest done) or\n"
    "the verification failed, 2 usage, 3 server or connection error, 4 denied.\n";

static int alloc_batch(db_job *job) {
  size_t cells = (size_t)job->a->batch_rows * job->targets_count;
  job->new_text = calloc(cells, sizeof *job->new_text);
  job->bad_name = calloc(cells, sizeof *job->bad_name);
  job->skip = calloc(cells, 1);
  job->ptrs = calloc(cells, sizeof *job->ptrs);
  job->cell_of = calloc(cells, sizeof *job->cell_of);
  job->order = calloc(cells, sizeof *job->order);
  job->lanes = job->a->net.streams < DB_LANES_MAX ? job->a->net.streams : DB_LANES_MAX;
  /* per namespace at most one chunk per lane, or one per 1000 cells */
  job->chunks_cap = cells / TV_CLIENT_BATCH_ITEMS_MAX + DB_BATCH_NS_MAX * (job->lanes + 1);
  job->chunks = calloc(job->chunks_cap, sizeof *job->chunks);
  job->results = calloc(job->chunks_cap, sizeof *job->results);
  if (job->new_text == NULL || job->bad_name == NULL || job->skip == NULL || job->ptrs == NULL ||
      job->cell_of == NULL || job->order == NULL || job->chunks == NULL || job->results == NULL) {
    fprintf(job->err, "tokenvault %s: out of memory: lower --batch\n", job->command);
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

static void job_free(db_job *job) {
  for (size_t t = 0; t < job->targets_count; t++) PQfreemem(job->targets[t].quoted);
  free(job->table_quoted);
  PQfreemem(job->key_quoted);
  PQfreemem(job->ns_quoted);
  free(job->new_text);
  free((void *)job->bad_name);
  free(job->skip);
  free((void *)job->ptrs);
  free(job->cell_of);
  free(job->order);
  free(job->chunks);
  free(job->results);
  db_vault_close(job);
  for (size_t a = 0; a < DB_TARGETS_MAX + 1; a++) db_text_array_free(&job->arrays[a]);
  db_text_array_free(&job->bad_keys);
  db_text_array_free(&job->bad_columns);
  db_text_array_free(&job->bad_names);
  PQfinish(job->pg);
  tv_client_free(job->vault);
}

/* The bad cells (of every run of the job), the verification, the summary. */
static int finish(db_job *job, int rc, int already_done) {
  uint64_t failed = 0;
  if (rc == 0 && db_progress_report(job, &failed) != 0) rc = CLI_EXIT_FAILURE;
  if (rc == 0) rc = db_verify(job);
  if (rc != 0) return rc;
  double secs = (double)(progress_now_ns() - job->prog.start_ns) / 1e9;
  fprintf(job->out, "%s: table %s: %s; this run %" PRIu64 " rows, %" PRIu64 " cells in %.1f s (%.0f rows/s), "
                    "%" PRIu64 " bad cells left as they were in all\n",
          job->command, job->table, already_done ? "already done, nothing to do" : "done", job->rows_run,
          job->cells_run, secs, secs > 0 ? (double)job->rows_run / secs : 0.0, failed);
  return failed > 0 ? CLI_EXIT_ITEMS : CLI_EXIT_OK;
}

static int run(db_job *job) {
  int rc = net_connect(&job->a->net, &job->vault, job->err, job->command);
  if (rc != 0) return rc;
  job->pg = db_connect(job->a->conninfo, job->a->conninfo_file, job->err, job->command, &rc);
  if (job->pg == NULL) return rc;
  rc = db_table_open(job);
  if (rc == 0) rc = alloc_batch(job);
  if (rc == 0) rc = db_progress_begin(job);
  job->prog.start_ns = progress_now_ns();
  if (rc == 1) return finish(job, 0, 1);
  if (rc == 0) rc = db_migrate_run(job);
  return job->a->dry_run || rc != 0 ? rc : finish(job, rc, 0);
}

int db_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(db_help, argc < 2 ? err : out);
    if (argc >= 2) fputs(net_args_help, out);
    return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
  }
  int tokenize = strcmp(argv[1], "tokenize") == 0;
  if (!tokenize && strcmp(argv[1], "detokenize") != 0) {
    char quoted[CLI_QUOTE_MAX];
    fprintf(err, "tokenvault db: unknown subcommand %s: tokenize or detokenize (see tokenvault db --help)\n",
            cli_quote(quoted, sizeof quoted, argv[1]));
    return CLI_EXIT_USAGE;
  }
  db_job *job = calloc(1, sizeof *job);
  db_args *a = calloc(1, sizeof *a);
  int rc = job == NULL || a == NULL ? CLI_EXIT_FAILURE : 0;
  if (rc == 0) {
    snprintf(job->command, sizeof job->command, "db %s", argv[1]);
    rc = db_args_parse(a, argc - 1, argv + 1, err, job->command);
  }
  if (rc == 0 && a->help) {
    fputs(db_help, out);
    fputs(net_args_help, out);
  } else if (rc == 0) {
    a->net.reveal = TV_CLIENT_REVEAL_FULL; /* the way back restores the values */
    *job = (db_job){.a = a, .tokenize = tokenize, .out = out, .err = err};
    snprintf(job->command, sizeof job->command, "db %s", argv[1]);
    rc = run(job);
    job_free(job);
  }
  free(job);
  free(a);
  return rc;
}
