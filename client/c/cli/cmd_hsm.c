/* `tokenvault hsm` command. Argument parsing is by hand (no getopt) so that
 * the command is re-entrant and testable in-process. */
#include "client/c/cli/cmd_hsm.h"

#include <string.h>

#include "hsm/dev_init.h"
#include "hsm/hsm.h"

/* Same numbers as client/c/cli/cli_exit.h; kept local so this command links
 * with tv_hsm alone. */
enum { HSM_EXIT_OK = 0, HSM_EXIT_FAILURE = 1, HSM_EXIT_USAGE = 2 };

static const char hsm_usage[] =
    "usage: tokenvault hsm init --dir DIR [--label LABEL] [--module PATH]\n"
    "\n"
    "  init     create a development SoftHSM2 token in DIR: DIR/softhsm2.conf,\n"
    "           random PINs in DIR/user.pin and DIR/so.pin (mode 0600), and the\n"
    "           KEK (" TV_HSM_DEV_KEK_LABEL ") and MAC key (" TV_HSM_DEV_MAC_LABEL
    ") generated\n"
    "           inside the token. For development only.\n"
    "  --dir DIR       directory for the token (created if missing; must not hold one)\n"
    "  --label LABEL   token label (default " TV_HSM_DEV_TOKEN_LABEL ", at most 32 bytes)\n"
    "  --module PATH   PKCS#11 module (default " TV_HSM_DEFAULT_MODULE ")\n"
    "\n"
    "PINs are never read from or written to the command line.\n";

static int usage_error(FILE *err, const char *what, const char *arg) {
  fprintf(err, "tokenvault hsm: %s%s%s (try --help)\n", what, arg != NULL ? ": " : "",
          arg != NULL ? arg : "");
  return HSM_EXIT_USAGE;
}

static void print_token(FILE *out, const tv_hsm_dev_token *token, const char *module) {
  fprintf(out,
          "token:        %s\n"
          "module:       %s\n"
          "conf:         %s\n"
          "pin file:     %s\n"
          "so pin file:  %s\n"
          "kek label:    %s\n"
          "mac label:    %s\n"
          "use it with:  export SOFTHSM2_CONF=%s\n",
          token->token_label, module, token->conf_path, token->pin_path, token->so_pin_path,
          token->kek_label, token->mac_label, token->conf_path);
}

static int hsm_init_main(int argc, char **argv, FILE *out, FILE *err) {
  tv_hsm_dev_options options = {0};
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
      fputs(hsm_usage, out);
      return HSM_EXIT_OK;
    }
    const char **dest = strcmp(opt, "--dir") == 0      ? &options.dir
                        : strcmp(opt, "--label") == 0  ? &options.token_label
                        : strcmp(opt, "--module") == 0 ? &options.module_path
                                                       : NULL;
    if (dest == NULL) {
      return usage_error(err, "unknown option", opt);
    }
    if (i + 1 >= argc || argv[i + 1][0] == '\0') {
      return usage_error(err, "option needs a value", opt);
    }
    *dest = argv[++i];
  }
  if (options.dir == NULL) {
    return usage_error(err, "init needs --dir DIR", NULL);
  }
  tv_hsm_dev_token token;
  tv_status status = tv_hsm_dev_init(&token, &options);
  if (status != TV_OK) {
    const char *detail = tv_hsm_error_detail();
    fprintf(err, "tokenvault hsm init: %s%s%s\n", tv_status_message(status),
            detail[0] != '\0' ? ": " : "", detail);
    return status == TV_E_INVALID_ARGUMENT ? HSM_EXIT_USAGE : HSM_EXIT_FAILURE;
  }
  print_token(out, &token, options.module_path != NULL ? options.module_path
                                                       : TV_HSM_DEFAULT_MODULE);
  return HSM_EXIT_OK;
}

int hsm_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  if (argc < 2) {
    fputs(hsm_usage, err);
    return HSM_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    fputs(hsm_usage, out);
    return HSM_EXIT_OK;
  }
  if (strcmp(argv[1], "init") == 0) {
    return hsm_init_main(argc - 1, argv + 1, out, err);
  }
  return usage_error(err, "unknown subcommand", argv[1]);
}
