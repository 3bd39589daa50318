/* Arbitrary bytes as the daemon's YAML config: never crash, leak or read
 * out of bounds; a refusal always carries a message, a success always a
 * frozen policy and at least one namespace. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vault/config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tv_config *cfg = NULL;
  config_error err;
  tv_status st = config_parse((const char *)data, size, &cfg, &err);
  if (st == TV_OK) {
    if (cfg == NULL || cfg->policy == NULL || cfg->namespaces_len == 0) {
      abort();
    }
    /* Exercise the built policy with a fixed question. */
    policy_request req = {.principal = "dev:local", .peer = "ipv4:127.0.0.1:1",
                          .permission = TV_PERM_DETOKENIZE_FULL, .ns = cfg->namespaces[0].name,
                          .items = 1, .reason = "fuzz"};
    policy_decision d;
    (void)policy_check(cfg->policy, NULL, &req, &d);
    config_free(cfg);
  } else if (cfg != NULL || err.text[0] == '\0') {
    abort();
  }
  return 0;
}
