/* fpe_args — the command line of `tokenvault fpe`, parsed but not yet
 * interpreted (hex is decoded and the key loaded later, so that each
 * problem is reported against the option that caused it). */
#ifndef TV_CLI_FPE_ARGS_H
#define TV_CLI_FPE_ARGS_H

#include <stddef.h>

#include "client/c/cli/cli_diag.h"
#include "vault/crypto/ff1.h"
#include "vault/util/status.h"

typedef enum fpe_direction {
  FPE_DIRECTION_NONE = 0,
  FPE_DIRECTION_ENCRYPT,
  FPE_DIRECTION_DECRYPT,
} fpe_direction;

typedef struct fpe_args {
  int help;                 /* --help or -h anywhere: print usage, do nothing else */
  fpe_direction direction;  /* the first word that is not an option */
  char *key_hex;            /* --key: points into argv, wiped once decoded */
  const char *key_file;     /* --key-file PATH */
  const char *tweak_hex;    /* --tweak; NULL means the empty tweak */
  unsigned radix;           /* --radix; 0 when not given */
  const char *alphabet;     /* --alphabet; NULL when not given */
  ff1_impl impl;            /* --impl; FF1_IMPL_AUTO when not given */
  const char **values;      /* the VALUE arguments, in order (owned) */
  size_t values_count;
} fpe_args;

/* fpe_args_parse fills |out| from |argc|/|argv| (argv[0] is the command
 * name and is skipped). Options take their value as the next argument or
 * after '='; "--" ends the options. On success |out| points into |argv|
 * (which must outlive it) and owns |out->values|: release with
 * fpe_args_cleanup. On failure |diag| names the problem, the --key text (if
 * seen) is already overwritten, and |out| needs no cleanup. Checks syntax only: hex, radix ranges and the key's presence are
 * checked by the caller. */
tv_status fpe_args_parse(fpe_args *out, int argc, char **argv, cli_diag *diag);

/* fpe_args_cleanup overwrites the --key text in argv (if any) and releases
 * what fpe_args_parse allocated; accepts a zeroed |args|. */
void fpe_args_cleanup(fpe_args *args);

#endif
