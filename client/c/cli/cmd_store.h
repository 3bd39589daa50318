/* `tokenvault store`: offline backup, verify-backup, restore and repair of a
 * vault's data directory (see cmd_store.c). */
#ifndef TV_CLI_CMD_STORE_H
#define TV_CLI_CMD_STORE_H

#include <stdio.h>

/* store_cmd_main runs `tokenvault store ARGS`; argv[0] is "store". Returns
 * the exit status: 0 ok, 1 failed or data lost by repair, 2 bad usage. */
int store_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* store_remote_verify_main runs `store verify` with argv[0] "verify" and
 * the shared connection options (net_args.h): the running vault checks
 * every stored value (cmd_store_remote.c, built with the network
 * commands; main.c routes to it). Exit status: 0 intact, 1 not intact,
 * 2 bad usage or unknown namespace, 3 server or connection error, 4
 * permission denied. */
int store_remote_verify_main(int argc, char **argv, FILE *out, FILE *err);

#endif
