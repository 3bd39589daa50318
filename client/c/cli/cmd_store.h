/* `tokenvault store`: offline backup, verify-backup, restore and repair of a
 * vault's data directory (see cmd_store.c). */
#ifndef TV_CLI_CMD_STORE_H
#define TV_CLI_CMD_STORE_H

#include <stdio.h>

/* store_cmd_main runs `tokenvault store ARGS`; argv[0] is "store". Returns
 * the exit status: 0 ok, 1 failed or data lost by repair, 2 bad usage. */
int store_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

#endif
