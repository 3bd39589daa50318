/* `tokenvault health` and `tokenvault whoami`: is the server up, and who
 * does it take me for. */
#include "client/c/cli/cli_exit.h"
#include "client/c/cli/cmd_net.h"
#include "client/c/cli/net_args.h"

static const char health_help[] =
    "usage: tokenvault health [connection options]\n"
    "\n"
    "Asks the standard gRPC health service whether tokenvaultd serves the\n"
    "vault. Prints SERVING (exit 0) or NOT_SERVING (exit 3).\n";

int health_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  net_args a;
  tv_client *c = NULL;
  int rc = net_command_start(&a, &c, argc, argv, health_help, out, err);
  if (rc >= 0) return rc;
  tv_client_result *r = NULL;
  tv_client_error e = {0};
  if (tv_client_health(c, &r, &e) != TV_CLIENT_OK) {
    rc = net_report(err, "health", &a, &e);
  } else {
    fputs(r->serving ? "SERVING\n" : "NOT_SERVING\n", out);
    rc = r->serving ? CLI_EXIT_OK : CLI_EXIT_SERVER;
  }
  tv_client_result_free(r);
  tv_client_free(c);
  return rc;
}

static const char whoami_help[] =
    "usage: tokenvault whoami [connection options]\n"
    "\n"
    "Prints how tokenvaultd sees you: principal (from your certificate), where\n"
    "it came from, and the transport.\n";

int whoami_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  net_args a;
  tv_client *c = NULL;
  int rc = net_command_start(&a, &c, argc, argv, whoami_help, out, err);
  if (rc >= 0) return rc;
  tv_client_result *r = NULL;
  tv_client_error e = {0};
  if (tv_client_whoami(c, &r, &e) != TV_CLIENT_OK) {
    rc = net_report(err, "whoami", &a, &e);
  } else {
    fprintf(out, "principal\t%s\nsource\t%s\nauthenticated\t%s\ntransport\t%s\n",
            r->principal[0] != '\0' ? r->principal : "-", r->identity_source, r->authenticated ? "yes" : "no",
            r->transport_security);
    rc = CLI_EXIT_OK;
  }
  tv_client_result_free(r);
  tv_client_free(c);
  return rc;
}
