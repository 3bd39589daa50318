#include "vault/daemon/options.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

const char tv_options_usage[] =
    "usage: tokenvaultd --config FILE [options]      (production: everything from FILE)\n"
    "       tokenvaultd --dev [--config FILE] [options] (plaintext on loopback, own SoftHSM2 token)\n"
    "       tokenvaultd --tls-cert F --tls-key F --tls-ca F [--listen ADDR] (Health and WhoAmI only)\n"
    "  --config FILE    YAML configuration: listen, tls, data_dir, hsm, audit, namespaces, roles,\n"
    "                   principals (see deploy/config/tokenvault.prod.yaml). SIGHUP re-reads its\n"
    "                   roles, principals and limits and the TLS files. A flag below given on the\n"
    "                   command line overrides the file's value for that setting.\n"
    "  --listen ADDR    host:port to serve on (default: the file's, else " TV_LISTEN_DEFAULT "; port 0 picks one)\n"
    "  --tls-cert FILE  server certificate chain (PEM)      (overrides tls.cert)\n"
    "  --tls-key FILE   server private key (PEM)            (overrides tls.key)\n"
    "  --tls-ca FILE    CA that client certificates must chain to (PEM) (overrides tls.client_ca)\n"
    "  --dev            plaintext, no client certificates, loopback only; the caller is dev:local;\n"
    "                   without --config the built-in dev configuration (7 namespaces, every\n"
    "                   permission for dev:local); the file's tls and hsm blocks are ignored\n"
    "  --data-dir DIR   vault data directory (overrides data_dir; --dev default ./var)\n"
    "  --init           create the keyring in DIR on first start (otherwise it must exist);\n"
    "                   with store.backend postgres: create or migrate the database schema\n"
    "                   and create the fleet keyring (the first node only)\n"
    "  --metrics-listen ADDR  host:port for GET /metrics and /healthz over HTTP (overrides\n"
    "                   metrics.listen; port 0 picks one; \"\" turns it off)\n"
    "  --http-listen ADDR  host:port for the HTTP/JSON API (overrides http.listen; port 0 picks\n"
    "                   one; \"\" turns it off). HTTPS with the --tls-* files (client\n"
    "                   certificate required); plaintext: --dev only, on loopback\n"
    "  --hsm-module PATH      PKCS#11 module (overrides hsm.module)\n"
    "  --hsm-token-label L    HSM token holding the KEK and MAC key (overrides hsm.token_label)\n"
    "  --hsm-pin-file F       file holding the user PIN, one line (overrides hsm.pin_file/pin_env)\n"
    "  --hsm-pin-env VAR      environment variable holding the user PIN (overrides the same)\n"
    "  --allow-insecure-permissions  start although a secret (PIN file, TLS key) is readable,\n"
    "                   or a data/store/audit directory writable, by others (logged as an error);\n"
    "                   a config or secret that others can write is refused regardless\n"
    "  (--dev makes and reuses a SoftHSM2 token in DIR/hsm; never pass a PIN as an argument)\n";

int tv_listen_is_loopback(const char *listen) {
  char host[64];
  const char *end;
  const char *start = listen;
  if (listen[0] == '[') {
    start = listen + 1;
    end = strchr(start, ']');
    if (end == NULL || end[1] != ':') {
      return 0;
    }
  } else {
    end = strrchr(listen, ':');
    if (end == NULL) {
      return 0;
    }
  }
  size_t len = (size_t)(end - start);
  if (len == 0 || len >= sizeof host) {
    return 0;
  }
  memcpy(host, start, len);
  host[len] = '\0';
  unsigned char addr[16];
  if (inet_pton(AF_INET, host, addr) == 1) {
    return addr[0] == 127;
  }
  if (inet_pton(AF_INET6, host, addr) == 1) {
    static const unsigned char loop6[16] = {[15] = 1};
    return memcmp(addr, loop6, 16) == 0;
  }
  return strcmp(host, "localhost") == 0;
}

/* Checks that need no configuration file; the rest (TLS required, the
 * listen address of plaintext) is tv_settings_resolve's, once the file's
 * values are known. */
static tv_status check_options(const tv_options *o, char *out_err, size_t out_err_len) {
  int any_tls = o->tls_cert != NULL || o->tls_key != NULL || o->tls_ca != NULL;
  int all_tls = o->tls_cert != NULL && o->tls_key != NULL && o->tls_ca != NULL;
  if (o->dev && any_tls) {
    snprintf(out_err, out_err_len, "--dev is plaintext: do not combine it with --tls-cert/--tls-key/--tls-ca");
    return TV_E_SERVER_CONFIG;
  }
  if (any_tls && !all_tls) {
    snprintf(out_err, out_err_len, "mTLS needs all of --tls-cert, --tls-key and --tls-ca (or none: the file's tls block)");
    return TV_E_SERVER_CONFIG;
  }
  if (o->dev && o->listen != NULL && !tv_listen_is_loopback(o->listen)) {
    snprintf(out_err, out_err_len,
             "--dev refuses to listen on %s: plaintext is allowed on loopback only "
             "(127.0.0.1, [::1] or localhost)",
             o->listen);
    return TV_E_SERVER_CONFIG;
  }
  int hsm_flags = o->hsm_module != NULL || o->hsm_token_label != NULL || o->hsm_pin_file != NULL ||
                  o->hsm_pin_env != NULL;
  if (o->dev && hsm_flags) {
    snprintf(out_err, out_err_len, "--dev makes its own SoftHSM2 token: do not combine it with --hsm-* flags");
    return TV_E_SERVER_CONFIG;
  }
  if (o->hsm_pin_file != NULL && o->hsm_pin_env != NULL) {
    snprintf(out_err, out_err_len, "give at most one of --hsm-pin-file or --hsm-pin-env");
    return TV_E_SERVER_CONFIG;
  }
  return TV_OK;
}

tv_status tv_options_parse(tv_options *o, int argc, char **argv, char *out_err, size_t out_err_len) {
  static const struct option longs[] = {
      {"listen", required_argument, NULL, 'l'}, {"tls-cert", required_argument, NULL, 'c'},
      {"tls-key", required_argument, NULL, 'k'}, {"tls-ca", required_argument, NULL, 'a'},
      {"data-dir", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'f'},
      {"dev", no_argument, NULL, 'D'},          {"help", no_argument, NULL, 'h'},
      {"hsm-module", required_argument, NULL, 'm'}, {"hsm-token-label", required_argument, NULL, 't'},
      {"hsm-pin-file", required_argument, NULL, 'p'}, {"hsm-pin-env", required_argument, NULL, 'e'},
      {"init", no_argument, NULL, 'i'},
      {"metrics-listen", required_argument, NULL, 'M'}, {"http-listen", required_argument, NULL, 'H'},
      {"allow-insecure-permissions", no_argument, NULL, 'P'},
      {NULL, 0, NULL, 0}};
  memset(o, 0, sizeof *o);
  snprintf(out_err, out_err_len, "%s", "");
  optind = 0; /* full rescan, so the parser can run more than once */
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (c) {
      case 'l': o->listen = optarg; break;
      case 'c': o->tls_cert = optarg; break;
      case 'k': o->tls_key = optarg; break;
      case 'a': o->tls_ca = optarg; break;
      case 'd': o->data_dir = optarg; break;
      case 'f': o->config = optarg; break;
      case 'D': o->dev = 1; break;
      case 'm': o->hsm_module = optarg; break;
      case 't': o->hsm_token_label = optarg; break;
      case 'p': o->hsm_pin_file = optarg; break;
      case 'e': o->hsm_pin_env = optarg; break;
      case 'i': o->init = 1; break;
      case 'M': o->metrics_listen = optarg; break;
      case 'H': o->http_listen = optarg; break;
      case 'P': o->allow_insecure_permissions = 1; break;
      case 'h': o->help = 1; return TV_OK;
      default:
        snprintf(out_err, out_err_len, "unknown option or missing value: %s",
                 optind > 0 && optind <= argc ? argv[optind - 1] : "?");
        return TV_E_SERVER_CONFIG;
    }
  }
  if (optind < argc) {
    snprintf(out_err, out_err_len, "unexpected argument: %s", argv[optind]);
    return TV_E_SERVER_CONFIG;
  }
  return check_options(o, out_err, out_err_len);
}
