/* `tokenvault delete`, `tokenvault erase` and `tokenvault info`: the
 * per-token management calls. */
#include <time.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cmd_net.h"
#include "client/c/cli/net_args.h"

static const char delete_help[] =
    "usage: tokenvault delete --namespace NS [--reason TEXT] TOKEN...\n"
    "\n"
    "Deletes tokens: they no longer detokenize (ENGINE_DELETED). Prints one line\n"
    "per token with its status; failures are reported on stderr.\n";

/* Prints one status line per token; returns the items exit status. */
static int print_items(const tv_client_result *r, char **tokens, const char *command, FILE *out, FILE *err) {
  size_t failed = 0;
  for (size_t i = 0; i < r->items_count; i++) {
    const tv_client_item *it = &r->items[i];
    fprintf(out, "%s\t%s\n", tokens[i], it->name);
    if (it->code != 0) {
      failed++;
      fprintf(err, "tokenvault %s: item %zu: %s (%s)\n", command, i + 1, it->name, it->message);
    }
  }
  return failed > 0 ? CLI_EXIT_ITEMS : CLI_EXIT_OK;
}

static int need_items(const net_args *a, FILE *err, const char *command, int max) {
  int rc = net_require_ns(a, err, command);
  if (rc == 0 && (a->rest_count == 0 || a->rest_count > max)) {
    fprintf(err, "tokenvault %s: give %s on the command line (see tokenvault %s --help)\n", command,
            max == 1 ? "exactly one value" : "1..1000 tokens", command);
    rc = CLI_EXIT_USAGE;
  }
  return rc;
}

int delete_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  net_args a;
  tv_client *c = NULL;
  int rc = net_command_start(&a, &c, argc, argv, delete_help, out, err);
  if (rc >= 0) return rc;
  rc = need_items(&a, err, "delete", (int)NET_VALUES_MAX);
  tv_client_result *r = NULL;
  tv_client_error e = {0};
  if (rc == 0) {
    tv_client_code code = tv_client_delete(c, &r, a.ns, (const char *const *)a.rest, (size_t)a.rest_count,
                                           a.reason, &e);
    rc = code != TV_CLIENT_OK ? net_report(err, "delete", &a, &e) : print_items(r, a.rest, "delete", out, err);
  }
  tv_client_result_free(r);
  tv_client_free(c);
  return rc;
}

static const char erase_help[] =
    "usage: tokenvault erase --namespace NS [--reason TEXT] VALUE\n"
    "\n"
    "Right to erasure: removes every token of VALUE and its stored ciphertext,\n"
    "so no token resolves to it again. Prints how many tokens were erased.\n";

int erase_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  net_args a;
  tv_client *c = NULL;
  int rc = net_command_start(&a, &c, argc, argv, erase_help, out, err);
  if (rc >= 0) return rc;
  rc = need_items(&a, err, "erase", 1);
  tv_client_result *r = NULL;
  tv_client_error e = {0};
  if (rc == 0) {
    tv_client_code code = tv_client_erase(c, &r, a.ns, a.rest[0], a.reason, &e);
    if (code != TV_CLIENT_OK) {
      rc = net_report(err, "erase", &a, &e);
    } else {
      fprintf(out, "erased %llu token(s)\n", (unsigned long long)r->tokens_erased);
    }
  }
  tv_client_result_free(r);
  tv_client_free(c);
  return rc;
}

static const char info_help[] =
    "usage: tokenvault info --namespace NS TOKEN...\n"
    "\n"
    "What the vault knows about each token, never its value: status, creation\n"
    "and expiry time (UTC), and the data key version that encrypted the value.\n"
    "One tab-separated line per token.\n";

static void print_time(FILE *out, int64_t unix_ms, const char *zero) {
  if (unix_ms == 0) {
    fputs(zero, out);
    return;
  }
  time_t t = (time_t)(unix_ms / 1000);
  struct tm tm;
  char text[32];
  gmtime_r(&t, &tm);
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fputs(text, out);
}

int info_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  net_args a;
  tv_client *c = NULL;
  int rc = net_command_start(&a, &c, argc, argv, info_help, out, err);
  if (rc >= 0) return rc;
  rc = need_items(&a, err, "info", (int)NET_VALUES_MAX);
  tv_client_result *r = NULL;
  tv_client_error e = {0};
  if (rc == 0 && tv_client_token_info(c, &r, a.ns, (const char *const *)a.rest, (size_t)a.rest_count, &e) !=
                     TV_CLIENT_OK) {
    rc = net_report(err, "info", &a, &e);
  }
  for (size_t i = 0; rc == 0 && i < r->items_count; i++) {
    const tv_client_item *it = &r->items[i];
    fprintf(out, "%s\t%s\tcreated ", a.rest[i], it->name);
    print_time(out, it->created_at_unix_ms, "-");
    fputs("\texpires ", out);
    print_time(out, it->expires_at_unix_ms, "never");
    fprintf(out, "\tkey v%u\n", it->key_version);
  }
  if (rc == 0 && r != NULL) {
    for (size_t i = 0; i < r->items_count; i++) {
      if (r->items[i].code != 0) rc = CLI_EXIT_ITEMS;
    }
  }
  tv_client_result_free(r);
  tv_client_free(c);
  return rc;
}
