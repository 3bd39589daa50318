/* data_cmd — tokenize and detokenize share everything but the direction:
 * values on the command line, or a CSV / JSON Lines file in bulk. */
#ifndef TV_CLI_DATA_CMD_H
#define TV_CLI_DATA_CMD_H

#include <stdio.h>

/* data_cmd_main runs `tokenvault tokenize` (|tokenize| 1) or `detokenize`. */
int data_cmd_main(int argc, char **argv, FILE *out, FILE *err, int tokenize);

#endif
