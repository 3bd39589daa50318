/* Authorisation of one call of the engine service: which permission each
 * method needs, and the check every handler runs before any engine work.
 *
 *   Tokenize, TokenizeStream          tokenize            (namespace)
 *   Detokenize, DetokenizeStream      detokenize:full     for REVEAL_FULL
 *                                     detokenize:masked   for MASKED and NONE
 *   DeleteTokens, EraseValue          delete              (namespace)
 *   GetTokenInfo                      detokenize:masked   (namespace)
 *   ListKeys, GetRotationStatus       keys:read           (namespace or "*")
 *   VerifyStore                       keys:read           (namespace or "*")
 *   RotateDataKey                     keys:rotate         (namespace)
 *   ProposeKekRotation                keys:rotate         ("*")
 *   ApproveKekRotation                keys:approve        ("*")
 *   VerifyAudit, ReadAudit            audit:read          ("*")
 *   Health.*, WhoAmI                  none
 *
 * Why these choices: REVEAL_NONE still tells the caller whether a token
 * exists and is live, so it needs the least reveal permission and counts
 * against reveals_per_minute like a masked reveal (an existence scan is
 * rate-limited too). GetTokenInfo tells the same (OK for a live token,
 * NOT_FOUND otherwise) plus metadata other principals set, so it is
 * treated exactly like a NONE reveal: detokenize:masked, each token
 * counted against reveals_per_minute. A tokenize-only principal learns
 * nothing from it (PERMISSION_DENIED). */
#ifndef TV_SERVICE_AUTHZ_H
#define TV_SERVICE_AUTHZ_H

#include "vault/policy/policy.h"
#include "vault/service/methods.h"
#include "vault/service/svc_call.h"

/* tv_method_permission sets *out_permission to what method |id| needs
 * (|reveal_full| selects detokenize:full for the Detokenize methods) and
 * returns 1, or returns 0 for methods every caller may use. */
int tv_method_permission(tv_method_id id, int reveal_full, tv_permission *out_permission);

/* svc_authorize checks |c| (its principal, peer, namespace and items)
 * for |permission|; |reason| is the full-reveal reason or NULL. Returns 1
 * if allowed. Otherwise returns 0 with the refusal in c->status and
 * c->detail (code PERMISSION_DENIED, RESOURCE_EXHAUSTED or
 * FAILED_PRECONDITION; NOT_FOUND for a namespace that does not exist,
 * told only to principals the policy knows); a limit refusal has also
 * queued an alert entry. The caller wipes what it must, then ends the
 * call with svc_call_end, which audits the refusal and answers it. */
int svc_authorize(svc_call *c, tv_permission permission, const char *reason);

/* svc_authorize_tokenize is svc_authorize for the tokenize permission;
 * when allowed, *out_group_limit gets the deciding role's
 * new_tokens_per_kept_group (POLICY_GROUP_LIMIT_AUTO, 0 or a number). */
int svc_authorize_tokenize(svc_call *c, uint64_t *out_group_limit);

/* svc_alert queues an alert entry of kind |alert| (e.g.
 * "new_token_limit_exceeded") for |c|: |why| and |role| go into its
 * details, |limit| is the limit that was hit. A failed append is logged
 * (the call's own entry is written and answered separately). */
void svc_alert(svc_call *c, const char *alert, tv_status why, const char *role, uint64_t limit);

/* svc_authorize_method is svc_authorize with the permission of |c|'s
 * method; returns 1 at once for methods that need none. */
int svc_authorize_method(svc_call *c, int reveal_full, const char *reason);

#endif
