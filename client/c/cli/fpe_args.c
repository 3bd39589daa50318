#include "client/c/cli/fpe_args.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vault/util/secure_mem.h"

/* Every option of the command; kept in one table so that unknown,
 * repeated and value-less options are handled in one place. */
typedef enum fpe_option_id {
  OPT_HELP,
  OPT_KEY,
  OPT_KEY_FILE,
  OPT_TWEAK,
  OPT_RADIX,
  OPT_ALPHABET,
  OPT_IMPL,
  OPT_COUNT,
} fpe_option_id;

typedef struct fpe_option {
  const char *name;
  int takes_value;
} fpe_option;

static const fpe_option fpe_options[OPT_COUNT] = {
    [OPT_HELP] = {"--help", 0},         [OPT_KEY] = {"--key", 1},
    [OPT_KEY_FILE] = {"--key-file", 1}, [OPT_TWEAK] = {"--tweak", 1},
    [OPT_RADIX] = {"--radix", 1},       [OPT_ALPHABET] = {"--alphabet", 1},
    [OPT_IMPL] = {"--impl", 1},
};

/* Finds the option |arg| names (with or without "=value"); sets
 * *out_inline_value to the text after '=' if there is one. */
static int option_lookup(char *arg, char **out_inline_value) {
  *out_inline_value = NULL;
  if (strcmp(arg, "-h") == 0) {
    return OPT_HELP;
  }
  size_t name_len = strcspn(arg, "=");
  for (int id = 0; id < OPT_COUNT; id++) {
    const char *name = fpe_options[id].name;
    if (strlen(name) == name_len && strncmp(arg, name, name_len) == 0) {
      if (arg[name_len] == '=') {
        /* Writable: the key is wiped through this pointer. */
        *out_inline_value = arg + name_len + 1;
      }
      return id;
    }
  }
  return -1;
}

static tv_status parse_radix(unsigned *out, const char *text, cli_diag *diag) {
  char *end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || value > FF1_RADIX_MAX ||
      value < FF1_RADIX_MIN) {
    return cli_fail(diag, TV_E_FF1_RADIX, "--radix must be a number from 2 to 36 (256 with --alphabet)");
  }
  *out = (unsigned)value;
  return TV_OK;
}

static tv_status parse_impl(ff1_impl *out, const char *text, cli_diag *diag) {
  static const ff1_impl impls[] = {FF1_IMPL_AUTO, FF1_IMPL_AESNI, FF1_IMPL_VAES,
                                   FF1_IMPL_OPENSSL};
  for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
    if (strcmp(text, ff1_impl_name(impls[i])) == 0) {
      *out = impls[i];
      return TV_OK;
    }
  }
  return cli_fail(diag, TV_E_INVALID_ARGUMENT, "--impl must be auto, aesni, vaes or openssl");
}

/* Stores the value of option |id| into |out|. */
static tv_status option_store(fpe_args *out, int id, char *value, cli_diag *diag) {
  switch (id) {
    case OPT_KEY:
      out->key_hex = value;
      return TV_OK;
    case OPT_KEY_FILE:
      out->key_file = value;
      return TV_OK;
    case OPT_TWEAK:
      out->tweak_hex = value;
      return TV_OK;
    case OPT_RADIX:
      return parse_radix(&out->radix, value, diag);
    case OPT_ALPHABET:
      out->alphabet = value;
      return TV_OK;
    case OPT_IMPL:
      return parse_impl(&out->impl, value, diag);
    default:
      out->help = 1;
      return TV_OK;
  }
}

static tv_status positional_store(fpe_args *out, const char *arg, cli_diag *diag) {
  if (out->direction != FPE_DIRECTION_NONE) {
    out->values[out->values_count++] = arg;
    return TV_OK;
  }
  if (strcmp(arg, "encrypt") == 0) {
    out->direction = FPE_DIRECTION_ENCRYPT;
  } else if (strcmp(arg, "decrypt") == 0) {
    out->direction = FPE_DIRECTION_DECRYPT;
  } else {
    char quoted[CLI_QUOTE_MAX];
    return cli_fail(diag, TV_E_INVALID_ARGUMENT, "unknown mode '%s': expected 'encrypt' or 'decrypt'",
                    cli_quote(quoted, sizeof quoted, arg));
  }
  return TV_OK;
}

/* Handles argv[*index] when it is an option, consuming its value. */
static tv_status option_parse(fpe_args *out, int argc, char **argv, int *index,
                              unsigned *seen, cli_diag *diag) {
  char *arg = argv[*index];
  char *value = NULL;
  int id = option_lookup(arg, &value);
  if (id < 0) {
    char quoted[CLI_QUOTE_MAX];
    return cli_fail(diag, TV_E_INVALID_ARGUMENT, "unknown option '%s' (see --help)",
                    cli_quote(quoted, sizeof quoted, arg));
  }
  if (id != OPT_HELP && (*seen & (1u << id)) != 0) {
    /* A second key is not stored, so scrub it from argv here. */
    char *second_key = value != NULL ? value : (*index + 1 < argc ? argv[*index + 1] : NULL);
    if (id == OPT_KEY && second_key != NULL) {
      tv_wipe(second_key, strlen(second_key));
    }
    return cli_fail(diag, TV_E_INVALID_ARGUMENT, "%s given more than once", fpe_options[id].name);
  }
  *seen |= 1u << id;
  if (fpe_options[id].takes_value && value == NULL) {
    if (*index + 1 >= argc) {
      return cli_fail(diag, TV_E_INVALID_ARGUMENT, "%s needs a value", fpe_options[id].name);
    }
    *index += 1;
    value = argv[*index];
  } else if (!fpe_options[id].takes_value && value != NULL) {
    return cli_fail(diag, TV_E_INVALID_ARGUMENT, "%s takes no value", fpe_options[id].name);
  }
  return option_store(out, id, value, diag);
}

tv_status fpe_args_parse(fpe_args *out, int argc, char **argv, cli_diag *diag) {
  assert(out != NULL && diag != NULL);
  assert(argc >= 1 && argv != NULL);
  memset(out, 0, sizeof *out);
  out->impl = FF1_IMPL_AUTO;
  out->values = calloc((size_t)argc, sizeof *out->values);
  if (out->values == NULL) {
    return cli_fail(diag, TV_E_NO_MEMORY, "out of memory");
  }
  unsigned seen = 0;
  int options_done = 0;
  tv_status status = TV_OK;
  for (int i = 1; i < argc && status == TV_OK; i++) {
    const char *arg = argv[i];
    if (!options_done && strcmp(arg, "--") == 0) {
      options_done = 1;
    } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
      status = option_parse(out, argc, argv, &i, &seen, diag);
    } else {
      status = positional_store(out, arg, diag);
    }
  }
  assert(out->values_count < (size_t)argc);
  if (status != TV_OK) {
    fpe_args_cleanup(out);
  }
  return status;
}

void fpe_args_cleanup(fpe_args *args) {
  if (args == NULL) {
    return;
  }
  /* Whatever path the command took, the key leaves the process list. */
  if (args->key_hex != NULL) {
    tv_wipe(args->key_hex, strlen(args->key_hex));
    args->key_hex = NULL;
  }
  free(args->values);
  args->values = NULL;
  args->values_count = 0;
}
