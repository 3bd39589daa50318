/* Shared options of the server commands, parsed by hand (no getopt) so
 * commands stay re-entrant and testable in-process. */
#include "client/c/cli/net_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/cli_exit.h"

const char net_args_help[] =
    "connection:\n"
    "  --target HOST:PORT  tokenvaultd address (default " NET_TARGET_DEFAULT ")\n"
    "  --ca FILE           CA certificate(s) the server must chain to (PEM)\n"
    "  --cert FILE         client certificate (PEM): your identity\n"
    "  --key FILE          client private key (PEM)\n"
    "  --server-name NAME  name expected in the server certificate (default: host of --target)\n"
    "  --dev               plaintext to a `tokenvaultd --dev` on loopback (no TLS files)\n"
    "  --deadline MS       per call; for files, longest wait for progress (default 30000)\n"
    "  --retries N         repeats on UNAVAILABLE of idempotent calls (default 3)\n"
    "  --retry-tokenize    also repeat tokenize: only for convergent namespaces (the same\n"
    "                      value always gets the same token), else a repeat may mint a\n"
    "                      second token\n"
    "\n"
    "Exit status: 0 ok, 1 some items failed (each reported), 2 usage error or bad\n"
    "input, 3 server or connection error, 4 permission denied.\n";

static int parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
    return -1;
  }
  *out = (uint32_t)v;
  return 0;
}

static int parse_reveal(const char *text, tv_client_reveal *out) {
  if (strcmp(text, "full") == 0) *out = TV_CLIENT_REVEAL_FULL;
  else if (strcmp(text, "masked") == 0) *out = TV_CLIENT_REVEAL_MASKED;
  else if (strcmp(text, "none") == 0) *out = TV_CLIENT_REVEAL_NONE;
  else return -1;
  return 0;
}

static int usage(FILE *err, const char *command, const char *what, const char *arg) {
  char quoted[CLI_QUOTE_MAX];
  fprintf(err, "tokenvault %s: %s%s%s (see tokenvault %s --help)\n", command, what,
          arg != NULL ? ": " : "", arg != NULL ? cli_quote(quoted, sizeof quoted, arg) : "", command);
  return CLI_EXIT_USAGE;
}

/* Options that take a value: where each one goes. */
static const char **string_slot(net_args *a, const char *name) {
  static const struct {
    const char *name;
    size_t offset;
  } slots[] = {
      {"--target", offsetof(net_args, target)}, {"--ca", offsetof(net_args, ca)},
      {"--cert", offsetof(net_args, cert)},     {"--key", offsetof(net_args, key)},
      {"--server-name", offsetof(net_args, server_name)},
      {"--namespace", offsetof(net_args, ns)},  {"--reason", offsetof(net_args, reason)},
      {"--csv", offsetof(net_args, csv)},       {"--jsonl", offsetof(net_args, jsonl)},
      {"--columns", offsetof(net_args, columns)}, {"--fields", offsetof(net_args, columns)},
      {"--out", offsetof(net_args, out)},       {"--namespace-column", offsetof(net_args, ns_column)}};
  for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
    if (strcmp(name, slots[i].name) == 0) {
      return (const char **)(void *)((char *)a + slots[i].offset);
    }
  }
  return NULL;
}

/* Numeric options and their bounds (why: the server's item limit, a
 * window that bounds memory, deadlines from 1 ms to a day). */
static int number_option(net_args *a, const char *name, const char *value) {
  if (strcmp(name, "--deadline") == 0) return parse_u32(value, 1, 86400000u, &a->deadline_ms);
  if (strcmp(name, "--retries") == 0) return parse_u32(value, 0, 20, &a->retries);
  if (strcmp(name, "--batch") == 0) return parse_u32(value, 1, TV_CLIENT_BATCH_ITEMS_MAX, &a->batch);
  if (strcmp(name, "--window") == 0) return parse_u32(value, 1, 64, &a->window);
  if (strcmp(name, "--streams") == 0) return parse_u32(value, 1, 16, &a->streams);
  if (strcmp(name, "--reveal") == 0) return parse_reveal(value, &a->reveal);
  return 1; /* not a numeric option */
}

static int flag_option(net_args *a, const char *name) {
  if (strcmp(name, "--dev") == 0) a->dev = 1;
  else if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) a->help = 1;
  else if (strcmp(name, "--progress") == 0) a->progress = 1;
  else if (strcmp(name, "--retry-tokenize") == 0) a->retry_tokenize = 1;
  else if (strcmp(name, "--no-progress") == 0) a->progress = 0;
  else return 0;
  return 1;
}

static void defaults(net_args *a) {
  memset(a, 0, sizeof *a);
  a->target = NET_TARGET_DEFAULT;
  a->deadline_ms = 30000;
  a->retries = 3;
  a->batch = TV_CLIENT_BATCH_ITEMS_MAX;
  a->window = 4;
  a->streams = 4;
  a->reveal = TV_CLIENT_REVEAL_MASKED;
  a->progress = -1;
}

int net_args_parse(net_args *a, int argc, char **argv, FILE *err, const char *command) {
  defaults(a);
  int only_positional = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (only_positional || arg[0] != '-' || strcmp(arg, "-") == 0) {
      if (a->rest_count == (int)NET_VALUES_MAX) {
        return usage(err, command, "over 1000 values on the command line: use --csv or --jsonl", NULL);
      }
      a->rest[a->rest_count++] = argv[i];
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      only_positional = 1;
      continue;
    }
    if (flag_option(a, arg)) continue;
    const char **slot = string_slot(a, arg);
    int numeric = slot == NULL ? number_option(a, arg, "0") : 0;
    if (slot == NULL && numeric == 1) return usage(err, command, "unknown option", arg);
    if (i + 1 >= argc) return usage(err, command, "option needs a value", arg);
    const char *value = argv[++i];
    if (slot != NULL) {
      *slot = value;
    } else if (number_option(a, arg, value) != 0) {
      return usage(err, command, strcmp(arg, "--reveal") == 0 ? "--reveal must be full, masked or none"
                                                               : "value out of range for option", arg);
    }
  }
  return 0;
}

int net_connect(const net_args *a, tv_client **out_client, FILE *err, const char *command) {
  *out_client = NULL;
  if (!a->dev && a->ca == NULL) {
    fprintf(err, "tokenvault %s: give --ca, --cert and --key for mutual TLS, or --dev for a local "
                 "`tokenvaultd --dev`\n", command);
    return CLI_EXIT_USAGE;
  }
  tv_client_options o = {.target = a->target, .insecure = a->dev, .ca_file = a->ca,
                         .cert_file = a->cert, .key_file = a->key, .server_name = a->server_name,
                         .deadline_ms = a->deadline_ms, .retries_max = a->retries,
                         .batch_items = a->batch, .stream_window = a->window,
                         .retry_tokenize = a->retry_tokenize};
  tv_client_error e = {0};
  tv_client_code code = tv_client_new(out_client, &o, &e);
  if (code != TV_CLIENT_OK) {
    return net_report(err, command, a, &e);
  }
  return 0;
}

int net_exit_code(tv_client_code code) {
  switch (code) {
    case TV_CLIENT_OK:
      return CLI_EXIT_OK;
    case TV_CLIENT_PERMISSION_DENIED:
    case TV_CLIENT_UNAUTHENTICATED:
      return CLI_EXIT_DENIED;
    case TV_CLIENT_INVALID_ARGUMENT:
    case TV_CLIENT_FAILED_PRECONDITION: /* e.g. the policy wants a --reason */
    case TV_CLIENT_NOT_FOUND:
    case TV_CLIENT_OUT_OF_RANGE:
    case TV_CLIENT_E_ARGUMENT:
    case TV_CLIENT_E_TLS_FILES:
      return CLI_EXIT_USAGE;
    default:
      return CLI_EXIT_SERVER;
  }
}

static const char *advice(tv_client_code code) {
  switch (code) {
    case TV_CLIENT_UNAVAILABLE:
      return "check --target, that tokenvaultd runs, and --dev versus --ca/--cert/--key";
    case TV_CLIENT_DEADLINE_EXCEEDED:
      return "the server is slow or unreachable: retry, or raise --deadline";
    case TV_CLIENT_PERMISSION_DENIED:
      return "your identity lacks this permission: ask a security officer for the role, or use "
             "another --cert";
    case TV_CLIENT_UNAUTHENTICATED:
      return "the server did not accept your identity: check --cert and --key";
    case TV_CLIENT_NOT_FOUND:
      return "check the name (namespace, proposal id) with `tokenvault keys list`";
    case TV_CLIENT_RESOURCE_EXHAUSTED:
      return "over a server limit: lower --batch, or slow down";
    case TV_CLIENT_E_TLS_FILES:
      return "check the --ca/--cert/--key paths";
    case TV_CLIENT_UNIMPLEMENTED:
      return "this server does not offer the call yet: upgrade tokenvaultd";
    default:
      return NULL;
  }
}

int net_report(FILE *err, const char *command, const net_args *a, const tv_client_error *e) {
  (void)a;
  const char *what = advice(e->code);
  /* A server that answered UNAVAILABLE said why (audit disk full, HSM
   * gone, draining): its reason alone is the diagnosis, and "check that
   * tokenvaultd runs" would send the reader the wrong way. */
  if (e->code == TV_CLIENT_UNAVAILABLE && e->from_server) {
    what = NULL;
  }
  if (strstr(e->message, "REASON_REQUIRED") != NULL) {
    what = "give --reason TEXT saying why (it is written to the audit log)";
  }
  fprintf(err, "tokenvault %s: %s%s%s\n", command, e->message, what != NULL ? "; " : "",
          what != NULL ? what : "");
  return net_exit_code(e->code);
}

int net_require_ns(const net_args *a, FILE *err, const char *command) {
  if (a->ns == NULL || a->ns[0] == '\0') {
    return usage(err, command, "--namespace is required (e.g. pan, iban; see tokenvault keys list)", NULL);
  }
  return 0;
}
