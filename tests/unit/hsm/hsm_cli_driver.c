/* Test-only stand-in for `tokenvault hsm ...` until the CLI's main wires
 * the command in: `hsm_cli_driver hsm init --dir DIR`. */
#include <stdio.h>

#include "client/c/cli/cmd_hsm.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("usage: hsm_cli_driver hsm ...\n", stderr);
    return 2;
  }
  return hsm_cmd_main(argc - 1, argv + 1, stdin, stdout, stderr);
}
