#include "client/c/cli/data_cmd.h"

#include "client/c/cli/bulk_run.h"
#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cmd_net.h"
#include "client/c/cli/net_args.h"

static const char tokenize_help[] =
    "usage: tokenvault tokenize --namespace NS [options] VALUE...\n"
    "       tokenvault tokenize --csv FILE --columns COL[:NS],... [--namespace-column C]\n"
    "                           [--out FILE] [options]\n"
    "       tokenvault tokenize --jsonl FILE --fields FIELD[:NS],... [--out FILE] [options]\n"
    "\n"
    "Replaces values by format-preserving tokens. With values, prints one token\n"
    "per line (an empty line for a value that failed, reported on stderr).\n"
    "With a file, the named CSV columns (RFC 4180; the header row names them)\n"
    "or top-level JSON string fields are replaced in place; everything else is\n"
    "kept byte for byte. A failed value is emptied, never left in plaintext.\n"
    "\n"
    "  --namespace NS   token namespace (pan, iban, ...); COL:NS overrides per column\n"
    "  --namespace-column C  for the columns without :NS, each row's namespace is the\n"
    "                   value of its column (or field) C, for files that mix kinds in\n"
    "                   one column; a row naming none fails NAMESPACE_MISSING, one the\n"
    "                   vault does not have NOT_FOUND, for that cell only\n"
    "  --out FILE       write here atomically (default: standard output); a killed\n"
    "                   run leaves FILE untouched and can simply be rerun\n"
    "  --batch N        items per request (1..1000, default 1000)\n"
    "  --window N       requests in flight per stream (1..64, default 4)\n"
    "  --streams N      parallel streams per namespace (1..16, default 4)\n"
    "  --progress / --no-progress   progress bar on stderr (default: when a terminal)\n";

static const char detokenize_help[] =
    "usage: tokenvault detokenize --namespace NS --reveal full|masked|none [--reason R] TOKEN...\n"
    "       tokenvault detokenize --csv FILE --columns COL[:NS],... [--out FILE] [options]\n"
    "       tokenvault detokenize --jsonl FILE --fields FIELD[:NS],... [--out FILE] [options]\n"
    "\n"
    "Turns tokens back into values (full), masked values, or only checks them\n"
    "(none). Files are processed as for tokenize; a token that fails is left as\n"
    "it is and reported with its row.\n"
    "\n"
    "  --namespace NS   token namespace; COL:NS overrides per column\n"
    "  --namespace-column C  for the columns without :NS, each row's namespace is the\n"
    "                   value of its column (or field) C (as for tokenize)\n"
    "  --reveal LEVEL   full, masked (default) or none; full needs detokenize:full\n"
    "  --reason TEXT    why you need the values: written to the audit log\n"
    "  --out FILE       write here atomically (default: standard output); created\n"
    "                   mode 0600 since it may hold values\n"
    "  --batch N        items per request (1..1000, default 1000)\n"
    "  --window N       requests in flight per stream (1..64, default 4)\n"
    "  --streams N      parallel streams per namespace (1..16, default 4)\n"
    "  --progress / --no-progress   progress bar on stderr (default: when a terminal)\n";

static int values_mode(tv_client *c, const net_args *a, int tokenize, FILE *out, FILE *err) {
  const char *command = tokenize ? "tokenize" : "detokenize";
  int rc = net_require_ns(a, err, command);
  if (rc != 0) return rc;
  tv_client_result *r = NULL;
  tv_client_error e = {0};
  const char *const *items = (const char *const *)a->rest;
  size_t n = (size_t)a->rest_count;
  tv_client_code code = tokenize ? tv_client_tokenize_batch(c, &r, a->ns, items, n, &e)
                                 : tv_client_detokenize_batch(c, &r, a->ns, items, n, a->reveal, a->reason, &e);
  if (code != TV_CLIENT_OK) return net_report(err, command, a, &e);
  size_t failed = 0;
  for (size_t i = 0; i < r->items_count; i++) {
    const tv_client_item *it = &r->items[i];
    fprintf(out, "%s\n", it->code == 0 ? it->text : "");
    if (it->code != 0) {
      failed++;
      fprintf(err, "tokenvault %s: item %zu: %s (%s)\n", command, i + 1, it->name, it->message);
    }
  }
  tv_client_result_free(r);
  return failed > 0 ? CLI_EXIT_ITEMS : CLI_EXIT_OK;
}

int data_cmd_main(int argc, char **argv, FILE *out, FILE *err, int tokenize) {
  net_args a;
  tv_client *c = NULL;
  int rc = net_command_start(&a, &c, argc, argv, tokenize ? tokenize_help : detokenize_help, out, err);
  if (rc >= 0) return rc;
  int files = (a.csv != NULL) + (a.jsonl != NULL);
  if (files > 1 || (files == 1 && a.rest_count > 0) || (files == 0 && a.rest_count == 0)) {
    fprintf(err, "tokenvault %s: give values on the command line, or one --csv or --jsonl file "
                 "(see tokenvault %s --help)\n", argv[0], argv[0]);
    rc = CLI_EXIT_USAGE;
  } else if (files == 0 && a.ns_column != NULL) {
    fprintf(err, "tokenvault %s: --namespace-column is for --csv or --jsonl files (see tokenvault %s --help)\n",
            argv[0], argv[0]);
    rc = CLI_EXIT_USAGE;
  } else {
    rc = files == 1 ? bulk_run(c, &a, tokenize, argv[0], out, err) : values_mode(c, &a, tokenize, out, err);
  }
  tv_client_free(c);
  return rc;
}
