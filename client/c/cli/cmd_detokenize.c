/* `tokenvault detokenize`: see client/c/cli/data_cmd.c. */
#include "client/c/cli/cmd_net.h"
#include "client/c/cli/data_cmd.h"

int detokenize_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  return data_cmd_main(argc, argv, out, err, 0);
}
