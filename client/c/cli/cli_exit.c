#include "client/c/cli/cli_exit.h"

int cli_exit_code(tv_status status) {
  switch (status) {
    case TV_OK:
      return CLI_EXIT_OK;
    /* Failures of the machine or a dependency: retrying with the same input
     * may succeed, so scripts must be able to tell them from bad input. */
    case TV_E_NO_MEMORY:
    case TV_E_CRYPTO_BACKEND:
    case TV_E_INTERNAL:
    case TV_E_IO:
    case TV_E_HSM_MODULE:
    case TV_E_HSM_UNAVAILABLE:
    case TV_E_HSM_OPERATION:
      return CLI_EXIT_FAILURE;
    default:
      return CLI_EXIT_USAGE;
  }
}
