/* tokenvaultd — the tokenisation vault's gRPC server.
 *
 * The engine (tokenize, detokenize, keys, audit) is not wired yet: its
 * methods answer UNIMPLEMENTED; Health and WhoAmI work. */
#include <string.h>

#include "vault/server/daemon.h"

int main(int argc, char **argv) {
  tv_service service;
  memset(&service, 0, sizeof service);
  return tv_daemon_main(argc, argv, &service);
}
