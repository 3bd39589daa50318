/* `tokenvault store verify`: the running vault checks that every stored
 * value authenticates under its key version (VerifyStore), on either
 * store backend, and this prints the counts per namespace and key
 * version; failed records are named by token, never by value. */
#include <inttypes.h>
#include <string.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cmd_net.h"
#include "client/c/cli/cmd_store.h"
#include "client/c/cli/net_args.h"

static const char verify_help[] =
    "usage: tokenvault store verify [connection options] [[--namespace] NAMESPACE]\n"
    "\n"
    "Asks the running tokenvaultd to read every stored record of NAMESPACE\n"
    "(default: every namespace) and check that each value authenticates\n"
    "under its key version (AES-GCM, the namespace, token and version bound\n"
    "in). Prints per namespace the records, values per key version,\n"
    "failures (the first 16 by token), values whose key is gone, tombstones\n"
    "and expired stubs. Works on the log and on PostgreSQL; needs the\n"
    "keys:read permission; audited.\n"
    "Exit status: 0 intact, 1 a value failed or has no key, 2 bad usage or\n"
    "an unknown namespace, 3 server or connection error, 4 permission denied.\n";

static void print_namespace(FILE *out, const tv_client_store_namespace *n) {
  fprintf(out,
          "namespace %s: records %" PRIu64 ", values ok %" PRIu64 ", failed %" PRIu64 ", no key %" PRIu64
          ", tombstones %" PRIu64 ", expired stubs %" PRIu64 "\n",
          n->namespace_name, n->records, n->values, n->failed, n->no_key, n->tombstones, n->expired_stubs);
  for (size_t i = 0; i < n->versions_count; i++) {
    fprintf(out, "  key version %" PRIu32 ": %" PRIu64 " values\n", n->versions[i].key_version,
            n->versions[i].records);
  }
  if (n->other_versions > 0) {
    fprintf(out, "  other key versions: %" PRIu64 " values\n", n->other_versions);
  }
  for (size_t i = 0; i < n->failed_tokens_count; i++) {
    fprintf(out, "  FAILED token %s\n", n->failed_tokens[i]);
  }
  uint64_t bad = n->failed + n->no_key;
  if (bad > n->failed_tokens_count) {
    fprintf(out, "  (%" PRIu64 " more failed tokens not listed)\n", bad - n->failed_tokens_count);
  }
}

int store_remote_verify_main(int argc, char **argv, FILE *out, FILE *err) {
  net_args a;
  tv_client *c = NULL;
  int rc = net_command_start(&a, &c, argc, argv, verify_help, out, err);
  if (rc >= 0) return rc;
  if (a.rest_count > 1 || (a.rest_count == 1 && a.ns != NULL)) {
    fprintf(err, "tokenvault store verify: expected at most one NAMESPACE\n");
    tv_client_free(c);
    return CLI_EXIT_USAGE;
  }
  tv_client_result *r = NULL;
  tv_client_error e = {0};
  if (tv_client_store_verify(c, &r, a.rest_count == 1 ? a.rest[0] : a.ns, &e) != TV_CLIENT_OK) {
    rc = net_report(err, "store verify", &a, &e);
  } else {
    for (size_t i = 0; i < r->store_namespaces_count; i++) {
      print_namespace(out, &r->store_namespaces[i]);
    }
    fprintf(out, "store: %s\n", r->store_intact ? "intact" : "NOT intact");
    rc = r->store_intact ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
  }
  tv_client_result_free(r);
  tv_client_free(c);
  return rc;
}
