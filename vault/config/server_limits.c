/* server: the transport's protective limits (tokenvaultd's gRPC server,
 * vault/server/common/admission.h and the handshake bound). Optional; every key
 * has a default, and 0 for an in-flight limit means "derive it from the
 * machine at start-up" (vault/server/common/admission.c says how). */
#include <stdint.h>

#include "vault/config/config.h"
#include "vault/config/config_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

tv_status cfg_parse_server(cfg_ctx *ctx, const yaml_node_t *root) {
  static const cfg_key keys[] = {
      {"handshake_timeout_ms", 0}, {"items_in_flight_max", 0}, {"request_bytes_in_flight_max", 0}};
  config_server *out = &ctx->cfg->server;
  out->handshake_timeout_ms = CONFIG_HANDSHAKE_TIMEOUT_MS_DEFAULT;
  yaml_node_t *server = NULL;
  size_t mark = 0;
  TV_TRY(cfg_map_get(ctx, root, "server", &server, &mark));
  if (server == NULL) {
    return TV_OK;
  }
  tv_status status = cfg_map_check(ctx, server, keys, COUNT(keys));
  if (status == TV_OK) { /* a TLS handshake on a slow link takes well under 1 s; 5 min is generous */
    status = cfg_get_uint(ctx, server, "handshake_timeout_ms", 100, 300000, &out->handshake_timeout_ms);
  }
  if (status == TV_OK) { /* at least one full request (1000 items) must fit */
    status = cfg_get_uint(ctx, server, "items_in_flight_max", 0, UINT32_MAX, &out->items_in_flight_max);
  }
  if (status == TV_OK && out->items_in_flight_max != 0 && out->items_in_flight_max < 1000) {
    status = cfg_fail(ctx, cfg_map_key_node(ctx, server, "items_in_flight_max"), TV_E_CONFIG_VALUE,
                      "items_in_flight_max: must be 0 (derived from the machine) or at least 1000 "
                      "(one full request), got %llu",
                      (unsigned long long)out->items_in_flight_max);
  }
  if (status == TV_OK) { /* at least one largest request (1 MiB) must fit */
    status = cfg_get_uint(ctx, server, "request_bytes_in_flight_max", 0, UINT64_C(1) << 40,
                          &out->request_bytes_in_flight_max);
  }
  if (status == TV_OK && out->request_bytes_in_flight_max != 0 && out->request_bytes_in_flight_max < (1u << 20)) {
    status = cfg_fail(ctx, cfg_map_key_node(ctx, server, "request_bytes_in_flight_max"), TV_E_CONFIG_VALUE,
                      "request_bytes_in_flight_max: must be 0 (derived from the machine) or at least 1048576 "
                      "(one largest request), got %llu",
                      (unsigned long long)out->request_bytes_in_flight_max);
  }
  cfg_path_pop(ctx, mark);
  return status;
}
