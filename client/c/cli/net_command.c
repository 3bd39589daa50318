#include "client/c/cli/cmd_net.h"

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/net_args.h"

int net_command_start(struct net_args *a, tv_client **out_client, int argc, char **argv,
                      const char *help, FILE *out, FILE *err) {
  *out_client = NULL;
  int rc = net_args_parse(a, argc, argv, err, argv[0]);
  if (rc != 0) {
    return rc;
  }
  if (a->help) {
    fputs(help, out);
    fputs("\n", out);
    fputs(net_args_help, out);
    return CLI_EXIT_OK;
  }
  rc = net_connect(a, out_client, err, argv[0]);
  return rc != 0 ? rc : -1;
}
