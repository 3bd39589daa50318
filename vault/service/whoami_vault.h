/* WhoAmI as a vault answers it: audited like every other call (the README
 * promises every call is), and with the roles the policy binds to the
 * principal. */
#ifndef TV_SERVICE_WHOAMI_VAULT_H
#define TV_SERVICE_WHOAMI_VAULT_H

#include <protobuf-c/protobuf-c.h>

#include "vault/service/call_iface.h"

/* tv_vault_whoami is a tv_handler_fn; |impl| is the tv_vault *. It answers
 * as tv_whoami (the plaintext principal is CONFIG_DEV_PRINCIPAL when the
 * vault listens in plaintext) plus roles, once its audit line is durable;
 * UNAVAILABLE if the line cannot be written. Never refused: every caller
 * may ask who it is. */
void tv_vault_whoami(void *impl, tv_call *call, const ProtobufCMessage *request);

#endif
