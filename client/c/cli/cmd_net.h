/* The commands that talk to tokenvaultd through libtokenvault:
 *
 *   tokenvault tokenize   --namespace NS (VALUE... | --csv F --columns C | --jsonl F --fields F)
 *   tokenvault detokenize --namespace NS --reveal full|masked|none [--reason R] (TOKEN... | files)
 *   tokenvault delete     --namespace NS TOKEN...
 *   tokenvault erase      --namespace NS VALUE
 *   tokenvault info       --namespace NS TOKEN...
 *   tokenvault keys       list | rotate | propose-kek | approve-kek ID | status
 *   tokenvault health | whoami
 *
 * Each is <name>_cmd_main(argc, argv, in, out, err) with argv[0] the
 * command's name; results go to |out|, messages to |err|; returns the exit
 * status (client/c/cli/net_args.h). */
#ifndef TV_CLI_CMD_NET_H
#define TV_CLI_CMD_NET_H

#include <stdio.h>

int tokenize_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);
int detokenize_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);
int delete_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);
int erase_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);
int info_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);
int keys_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);
int health_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);
int whoami_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);
int db_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

/* net_command_start parses |argv| for |command|, prints |help| (then the
 * shared options) for --help, and connects. Returns -1 when the caller
 * should go on with |*out_client| (owned by the caller), otherwise the
 * exit status to return at once. */
struct net_args;
typedef struct tv_client tv_client;
int net_command_start(struct net_args *a, tv_client **out_client, int argc, char **argv,
                      const char *help, FILE *out, FILE *err);

#endif
