/* The engine adapter: fills a tv_service with handlers that serve every
 * data and key method on an open tv_vault (vault/daemon/vault_open.h).
 *
 * Data methods (data_service.c): Tokenize (asynchronous: the call is
 * answered from the engine's durable-write completion), Detokenize (FULL,
 * MASKED, NONE), DeleteTokens, EraseValue, GetTokenInfo, and
 * TokenizeStream / DetokenizeStream (each message is handled and audited
 * like the unary call and answered by one reply; a message that fails as
 * a whole — unknown namespace — ends the stream with that status). Key methods
 * (key_service.c): ListKeys, RotateDataKey, ProposeKekRotation,
 * ApproveKekRotation, GetRotationStatus. Every call is audited before it
 * is answered (vault/service/svc_call.h).
 *
 * An unknown namespace fails the whole call NOT_FOUND
 * ("ENGINE_NAMESPACE: unknown namespace 'x'"): the request is well formed,
 * the thing it names does not exist. Per-item problems (a bad value, an
 * unknown or deleted token) are ItemStatus entries with the tv_status
 * code, its name and its message, and the call itself is OK.
 *
 * Audit methods (audit_service.c): VerifyAudit, ReadAudit.
 * Store methods (store_service.c): VerifyStore.
 *
 * Every handler checks the caller against the policy before any engine
 * work (vault/service/authz.h has the method -> permission table). */
#ifndef TV_SERVICE_ENGINE_SERVICE_H
#define TV_SERVICE_ENGINE_SERVICE_H

#include "vault/service/service.h"
#include "vault/service/vault.h"

/* tv_engine_service_fill sets |service|'s data, key and audit handlers,
 * its WhoAmI and its call accounting (vault/service/vault_core.h) to serve
 * |vault|, which must stay open until the server has stopped. */
void tv_engine_service_fill(tv_service *service, tv_vault *vault);

/* Internal: the key handlers (key_service.c). */
void tv_key_service_fill(tv_service *service, tv_vault *vault);

/* Internal: the audit handlers (audit_service.c). */
void tv_audit_service_fill(tv_service *service, tv_vault *vault);

/* Internal: the store handlers (store_service.c). */
void tv_store_service_fill(tv_service *service, tv_vault *vault);

#endif
