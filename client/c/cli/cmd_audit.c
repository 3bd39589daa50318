/* `tokenvault audit` command. Arguments are parsed by hand (no getopt) so
 * the command is re-entrant and testable in-process. */
#include "client/c/cli/cmd_audit.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/cli_exit.h"
#include "hsm/hsm.h"
#include "vault/audit/audit_limits.h"
#include "vault/audit/tail.h"
#include "vault/audit/verify.h"

/* Lines `tail -n` keeps at most: bounded memory for any log. */
#define AUDIT_TAIL_LINES_MAX 100000u
#define AUDIT_TAIL_LINES_DEFAULT 10u
/* Room for a file name in a message (cut beyond, never overrun). */
#define AUDIT_NAME_TEXT_MAX 512u

static const char audit_usage[] =
    "usage: tokenvault audit verify --token-label LABEL (--pin-file PATH | --pin-env NAME)\n"
    "                               [--module PATH] FILE...\n"
    "       tokenvault audit verify --chain-only FILE...\n"
    "       tokenvault audit tail [-n N] FILE...\n"
    "       tokenvault audit remote-verify [connection options] [FROM_SEQ [TO_SEQ]]\n"
    "\n"
    "  verify   check the audit log's segment files, given in order from\n"
    "           audit-000001.log: format, each entry's hash, the hash chain,\n"
    "           sequence numbers, segment order and, with the HSM, every\n"
    "           checkpoint's MAC and the HSM's record of the latest checkpoint\n"
    "           (truncation). Prints the first bad spot (file, line, sequence\n"
    "           number, what is wrong) or confirms the chain with counts.\n"
    "  tail     print the last N lines (default 10) of the files\n"
    "  remote-verify  ask the running tokenvaultd to verify its live log\n"
    "           (see tokenvault audit remote-verify --help)\n"
    "\n"
    "  --token-label LABEL  HSM token holding the log's MAC key and counter\n"
    "  --pin-file PATH      file holding the user PIN (one line)\n"
    "  --pin-env NAME       environment variable holding the user PIN\n"
    "  --module PATH        PKCS#11 module (default " TV_HSM_DEFAULT_MODULE ")\n"
    "  --chain-only         no HSM: MACs and truncation are NOT checked, so the\n"
    "                       result is no proof against someone who can rewrite\n"
    "                       the files; a log that does not end with a checkpoint\n"
    "                       (its end may be cut) exits 1\n"
    "\n"
    "PINs are never read from the command line.\n"
    "Exit status: 0 intact, 1 a problem found or a failure (I/O, HSM), 2 bad usage.\n";

typedef struct audit_args {
  tv_hsm_config hsm;
  int chain_only;
  unsigned long tail_lines;
  char **files;
  size_t files_count;
} audit_args;

static int usage_error(FILE *err, const char *what, const char *arg) {
  char quoted[CLI_QUOTE_MAX];
  fprintf(err, "tokenvault audit: %s%s%s (try --help)\n", what, arg != NULL ? ": " : "",
          arg != NULL ? cli_quote(quoted, sizeof quoted, arg) : "");
  return CLI_EXIT_USAGE;
}

static int parse_count(unsigned long *out, const char *text) {
  char *end = NULL;
  errno = 0;
  unsigned long n = strtoul(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || n == 0 ||
      n > AUDIT_TAIL_LINES_MAX) {
    return -1;
  }
  *out = n;
  return 0;
}

/* One option with a value; returns 1 if |opt| was one, -1 on error. */
static int parse_valued(audit_args *args, const char *opt, const char *value, int tail) {
  if (tail) {
    if (strcmp(opt, "-n") != 0) {
      return 0;
    }
    return value != NULL && parse_count(&args->tail_lines, value) == 0 ? 1 : -1;
  }
  const char **dest = strcmp(opt, "--token-label") == 0 ? &args->hsm.token_label
                      : strcmp(opt, "--module") == 0    ? &args->hsm.module_path
                      : strcmp(opt, "--pin-file") == 0 || strcmp(opt, "--pin-env") == 0
                          ? &args->hsm.pin_source
                          : NULL;
  if (dest == NULL) {
    return 0;
  }
  if (value == NULL || value[0] == '\0' || *dest != NULL) {
    return -1;
  }
  if (strncmp(opt, "--pin-", 6) == 0) {
    args->hsm.pin_kind = opt[6] == 'f' ? TV_HSM_PIN_FILE : TV_HSM_PIN_ENV;
  }
  *dest = value;
  return 1;
}

static int parse_args(audit_args *args, int argc, char **argv, int tail, FILE *err) {
  memset(args, 0, sizeof *args);
  args->tail_lines = AUDIT_TAIL_LINES_DEFAULT;
  int i = 2;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--") == 0) {
      i++;
      break;
    }
    if (!tail && strcmp(opt, "--chain-only") == 0) {
      args->chain_only = 1;
      continue;
    }
    int used = parse_valued(args, opt, i + 1 < argc ? argv[i + 1] : NULL, tail);
    if (used == 0) {
      return usage_error(err, "unknown option", opt);
    }
    if (used < 0) {
      return usage_error(err, tail ? "-n needs a count from 1 to 100000"
                                   : "option needs one value (given once)",
                         opt);
    }
    i++;
  }
  if (i >= argc) {
    return usage_error(err, "give the log's segment files, oldest first", NULL);
  }
  args->files = argv + i;
  args->files_count = (size_t)(argc - i);
  return CLI_EXIT_OK;
}

static int check_hsm_args(const audit_args *args, FILE *err) {
  int has_hsm = args->hsm.token_label != NULL || args->hsm.pin_source != NULL ||
                args->hsm.module_path != NULL;
  if (args->chain_only) {
    return has_hsm ? usage_error(err, "--chain-only takes no HSM options", NULL) : CLI_EXIT_OK;
  }
  if (args->hsm.token_label == NULL || args->hsm.pin_source == NULL) {
    return usage_error(err,
                       "verify needs the HSM to check checkpoint MACs and truncation: "
                       "--token-label and --pin-file or --pin-env (or --chain-only)",
                       NULL);
  }
  return CLI_EXIT_OK;
}

static void print_intact(FILE *out, const tv_audit_verify_result *r, size_t files_count) {
  fprintf(out,
          "audit log %s: intact\n"
          "  files: %zu, segments: %" PRIu64 ", lines: %" PRIu64 " (calls %" PRIu64
          ", alerts %" PRIu64 ", checkpoints %" PRIu64 "), last seq %" PRIu64 "\n",
          r->log_id_hex, files_count, r->segments, r->lines, r->calls, r->alerts,
          r->checkpoints, r->last_seq);
  if (r->macs_checked) {
    fprintf(out,
            "  sealed: every checkpoint MAC verified by the HSM; last checkpoint seq %" PRIu64
            ", HSM counter %" PRIu64 "\n",
            r->last_checkpoint_seq, r->counter);
  } else {
    fputs("  WARNING: chain only: checkpoint MACs and truncation were NOT checked (they need\n"
          "  the HSM); whoever can write the files could have rewritten the whole chain\n",
          out);
  }
  if (r->unsealed > 0) {
    fprintf(out,
            "  unsealed: %" PRIu64 " line(s) after the last checkpoint (a cut of only these "
            "cannot be detected yet)\n",
            r->unsealed);
  }
}

static int report_problem(FILE *out, FILE *err, const tv_audit_verify_result *r,
                          char *const *files) {
  char quoted[AUDIT_NAME_TEXT_MAX];
  const char *file = cli_quote(quoted, sizeof quoted, files[r->file_index]);
  char where[96] = "";
  if (r->line > 0) {
    snprintf(where, sizeof where, " line %" PRIu64, r->line);
  }
  char seq[48] = "";
  if (r->seq > 0) {
    snprintf(seq, sizeof seq, " (seq %" PRIu64 ")", r->seq);
  }
  fprintf(out, "audit log NOT intact: %s%s%s: %s [%s]\n", file, where, seq, r->text,
          tv_status_name(r->status));
  fprintf(out, "  %" PRIu64 " line(s) verified before it, up to seq %" PRIu64 "\n", r->lines,
          r->last_seq);
  fprintf(err, "tokenvault audit verify: %s%s%s: %s\n", file, where, seq, r->text);
  return CLI_EXIT_FAILURE;
}

/* Without the HSM nothing tells a log whose end was cut from one still
 * being written, except that a closed log ends with a checkpoint: a chain
 * that ends with unsealed lines is not shown to be whole, so the exit
 * status says so (a script must not read "0" as "intact"). */
static int report_unsealed_tail(FILE *out, FILE *err, const tv_audit_verify_result *r) {
  fprintf(out,
          "audit log %s: NOT intact (chain only): the chain is unbroken up to seq %" PRIu64
          ", but the log ends with %" PRIu64 " unsealed line(s) after the last checkpoint%s: its end may "
          "have been cut (a log still being written looks the same; verify with the HSM)\n",
          r->log_id_hex, r->last_seq, r->unsealed, r->checkpoints == 0 ? " (there is none)" : "");
  fprintf(err, "tokenvault audit verify: chain only: %" PRIu64 " unsealed line(s) at the end: not shown intact\n",
          r->unsealed);
  return CLI_EXIT_FAILURE;
}

static int audit_verify_main(int argc, char **argv, FILE *out, FILE *err) {
  audit_args args;
  int code = parse_args(&args, argc, argv, 0, err);
  if (code == CLI_EXIT_OK) {
    code = check_hsm_args(&args, err);
  }
  if (code != CLI_EXIT_OK) {
    return code;
  }
  tv_hsm *hsm = NULL;
  if (!args.chain_only) {
    tv_status status = tv_hsm_open(&hsm, &args.hsm);
    if (status != TV_OK) {
      const char *detail = tv_hsm_error_detail();
      fprintf(err, "tokenvault audit verify: cannot open the HSM: %s%s%s\n",
              tv_status_message(status), detail[0] != '\0' ? ": " : "", detail);
      return CLI_EXIT_FAILURE;
    }
  }
  tv_audit_verify_result result;
  tv_status status = tv_audit_verify_files(&result, hsm, (const char *const *)args.files,
                                           args.files_count);
  tv_hsm_free(hsm);
  if (status != TV_OK) {
    return report_problem(out, err, &result, args.files);
  }
  if (args.chain_only && result.unsealed > 0) {
    return report_unsealed_tail(out, err, &result);
  }
  print_intact(out, &result, args.files_count);
  return fflush(out) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

typedef struct tail_out {
  FILE *out;
  char *line; /* AUDIT_LINE_BYTES_MAX + 4 */
} tail_out;

/* Lines are printed as they are, except that a tampered file cannot send
 * terminal control sequences: such bytes become '?', and an overlong line
 * is cut. */
static tv_status print_line(void *arg, const char *line, size_t line_len) {
  tail_out *t = arg;
  size_t len = line_len <= AUDIT_LINE_BYTES_MAX ? line_len : AUDIT_LINE_BYTES_MAX;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)line[i];
    t->line[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
  }
  if (len < line_len) {
    memcpy(t->line + len, "...", 3);
    len += 3;
  }
  t->line[len++] = '\n';
  return fwrite(t->line, 1, len, t->out) == len ? TV_OK : TV_E_IO;
}

static int audit_tail_main(int argc, char **argv, FILE *out, FILE *err) {
  audit_args args;
  int code = parse_args(&args, argc, argv, 1, err);
  if (code != CLI_EXIT_OK) {
    return code;
  }
  tail_out t = {out, malloc(AUDIT_LINE_BYTES_MAX + 4)};
  if (t.line == NULL) {
    fputs("tokenvault audit tail: out of memory\n", err);
    return CLI_EXIT_FAILURE;
  }
  size_t bad = 0;
  tv_status status = tv_audit_tail((const char *const *)args.files, args.files_count,
                                   args.tail_lines, print_line, &t, &bad);
  free(t.line);
  if (status == TV_OK && fflush(out) != 0) {
    status = TV_E_IO;
  }
  if (status != TV_OK) {
    char quoted[AUDIT_NAME_TEXT_MAX];
    fprintf(err, "tokenvault audit tail: cannot read %s or write the output\n",
            cli_quote(quoted, sizeof quoted, args.files[bad]));
    return CLI_EXIT_FAILURE;
  }
  return CLI_EXIT_OK;
}

int audit_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  assert(argc >= 1 && argv != NULL && out != NULL && err != NULL);
  (void)in;
  if (argc < 2) {
    fputs(audit_usage, err);
    return CLI_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    fputs(audit_usage, out);
    return fflush(out) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
  }
  if (strcmp(argv[1], "verify") == 0) {
    return audit_verify_main(argc, argv, out, err);
  }
  if (strcmp(argv[1], "tail") == 0) {
    return audit_tail_main(argc, argv, out, err);
  }
  return usage_error(err, "unknown subcommand", argv[1]);
}
