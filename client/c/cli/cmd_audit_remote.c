/* `tokenvault audit remote-verify`: the running vault verifies its own
 * live log (VerifyAudit) — for operators without the segment files or
 * the HSM at hand; the answer is only as trustworthy as the server and
 * the TLS connection to it, unlike `audit verify` on the files. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cmd_audit.h"
#include "client/c/cli/cmd_net.h"
#include "client/c/cli/net_args.h"

static const char remote_help[] =
    "usage: tokenvault audit remote-verify [options] [FROM_SEQ [TO_SEQ]]\n"
    "\n"
    "Asks tokenvaultd to verify its live audit log (hash chain, sequence,\n"
    "checkpoint MACs in its HSM, the HSM counter), optionally only the\n"
    "range FROM_SEQ..TO_SEQ (0: open on that side; the chain before it is\n"
    "still walked). Needs the audit:read permission.\n"
    "Exit status: 0 intact, 1 not intact, 2 bad usage or range, 3 server or\n"
    "connection error, 4 permission denied.\n";

/* A sequence number: digits only, so "-1" or "12x" is a usage error. */
static int parse_seq(const char *text, uint64_t *out) {
  if (text == NULL || text[0] < '0' || text[0] > '9') return -1;
  char *end = NULL;
  unsigned long long v = strtoull(text, &end, 10);
  if (*end != '\0') return -1;
  *out = (uint64_t)v;
  return 0;
}

static int print_result(FILE *out, const tv_client_result *r) {
  if (r->audit_intact) {
    fprintf(out, "audit log (server): intact, entries checked %" PRIu64 ", checkpoints checked %" PRIu64 "\n",
            r->audit_entries_checked, r->audit_checkpoints_checked);
    return CLI_EXIT_OK;
  }
  fprintf(out, "audit log (server): NOT intact: first bad sequence number %" PRIu64 " (%s)\n",
          r->audit_first_bad_seq, r->audit_problem != NULL ? r->audit_problem : "unknown");
  return CLI_EXIT_FAILURE;
}

int audit_remote_verify_main(int argc, char **argv, FILE *out, FILE *err) {
  net_args a;
  tv_client *c = NULL;
  int rc = net_command_start(&a, &c, argc, argv, remote_help, out, err);
  if (rc >= 0) return rc;
  uint64_t seqs[2] = {0, 0};
  for (int i = 0; i < a.rest_count; i++) {
    if (i >= 2 || parse_seq(a.rest[i], &seqs[i]) != 0) {
      fprintf(err, "tokenvault audit remote-verify: expected at most FROM_SEQ and TO_SEQ (numbers)\n");
      tv_client_free(c);
      return CLI_EXIT_USAGE;
    }
  }
  tv_client_result *r = NULL;
  tv_client_error e = {0};
  if (tv_client_audit_verify(c, &r, seqs[0], seqs[1], &e) != TV_CLIENT_OK) {
    rc = net_report(err, "audit remote-verify", &a, &e);
  } else {
    rc = print_result(out, r);
  }
  tv_client_result_free(r);
  tv_client_free(c);
  return rc;
}
