#include "vault/service/authz.h"

#include <stdio.h>

#include "vault/config/config.h"
#include "vault/service/log.h"

int tv_method_permission(tv_method_id id, int reveal_full, tv_permission *out) {
  switch (id) {
    case TV_METHOD_TOKENIZE:
    case TV_METHOD_TOKENIZE_STREAM: *out = TV_PERM_TOKENIZE; return 1;
    case TV_METHOD_GET_TOKEN_INFO: *out = TV_PERM_DETOKENIZE_MASKED; return 1; /* a NONE reveal */
    case TV_METHOD_DETOKENIZE:
    case TV_METHOD_DETOKENIZE_STREAM:
      *out = reveal_full ? TV_PERM_DETOKENIZE_FULL : TV_PERM_DETOKENIZE_MASKED;
      return 1;
    case TV_METHOD_DELETE_TOKENS:
    case TV_METHOD_ERASE_VALUE: *out = TV_PERM_DELETE; return 1;
    case TV_METHOD_LIST_KEYS:
    case TV_METHOD_GET_ROTATION_STATUS:
    case TV_METHOD_VERIFY_STORE: *out = TV_PERM_KEYS_READ; return 1;
    case TV_METHOD_ROTATE_DATA_KEY:
    case TV_METHOD_PROPOSE_KEK_ROTATION: *out = TV_PERM_KEYS_ROTATE; return 1;
    case TV_METHOD_APPROVE_KEK_ROTATION: *out = TV_PERM_KEYS_APPROVE; return 1;
    case TV_METHOD_VERIFY_AUDIT:
    case TV_METHOD_READ_AUDIT: *out = TV_PERM_AUDIT_READ; return 1;
    default: return 0; /* Health, WhoAmI */
  }
}

/* Completion of the alert append: the refusal itself is audited (and
 * answered) separately, so a failed alert can only be logged. */
static void alert_done(void *arg, tv_status status, uint64_t seq) {
  (void)arg;
  (void)seq;
  if (status != TV_OK) {
    tv_log_message("error", "audit_alert", "a limit alert could not be written to the audit log");
  }
}

void svc_alert(svc_call *c, const char *alert, tv_status why, const char *role, uint64_t limit) {
  char detail[160];
  if (role != NULL) {
    snprintf(detail, sizeof detail, "%s (role %s)", tv_status_name(why), role);
  } else {
    snprintf(detail, sizeof detail, "%s", tv_status_name(why));
  }
  char request_id[SVC_FREE_TEXT_BYTES_MAX + 1];
  svc_free_text(request_id, c->request_id);
  tv_audit_entry e = {.type = TV_AUDIT_ALERT,
                      .principal = c->principal,
                      .peer = tv_call_peer(c->call),
                      .method = c->method,
                      .ns = c->ns,
                      .items = c->items,
                      .request_id = request_id,
                      .alert = alert,
                      .limit = limit,
                      .detail = detail};
  if (tv_audit_append_async(c->vault->audit, &e, alert_done, NULL) != TV_OK) {
    alert_done(NULL, TV_E_AUDIT_UNAVAILABLE, 0);
  }
}

static const char *alert_kind(tv_status why) {
  switch (why) {
    case TV_E_POLICY_RATE_LIMITED: return "reveal_rate_exceeded";
    case TV_E_POLICY_TOKENIZE_RATE_LIMITED: return "tokenize_rate_exceeded";
    default: return "limit_exceeded";
  }
}

/* Over a limit: an alert entry goes into the log before the refusal's own
 * entry (one writer, first in first out), so a SIEM sees the event. */
static void write_alert(svc_call *c, const policy_decision *d) {
  svc_alert(c, alert_kind(d->status), d->status, d->role, d->limit);
}

static int is_exhausted(tv_status st) {
  return st == TV_E_POLICY_TOO_MANY_ITEMS || st == TV_E_POLICY_RATE_LIMITED || st == TV_E_POLICY_METER_FULL ||
         st == TV_E_POLICY_TOKENIZE_RATE_LIMITED;
}

/* A caller the policy knows gets NOT_FOUND for a namespace that does not
 * exist (a precise status to fix its request); anyone else learns nothing
 * about which namespaces exist and gets the policy's refusal. */
static int namespace_missing(const svc_call *c, const tv_policy *policy) {
  return c->ns != NULL && c->ns[0] != '\0' && config_find_namespace(c->vault->config, c->ns) == NULL &&
         policy_has_principal(policy, c->principal);
}

/* A verified certificate the vault will not take a name from (identity.h):
 * refused before the policy, said to the caller, logged for the operator
 * who issued it. */
static int identity_refused(svc_call *c) {
  const tv_identity *id = tv_call_identity(c->call);
  if (id->refusal[0] == '\0') {
    return 0;
  }
  c->code_override = TV_CODE_UNAUTHENTICATED;
  snprintf(c->detail, sizeof c->detail, "%s", id->refusal);
  tv_log_line line;
  tv_log_begin(&line, "warn", "identity_refused");
  tv_log_str(&line, "peer", tv_call_peer(c->call));
  tv_log_str(&line, "method", c->method);
  tv_log_str(&line, "reason", id->refusal);
  tv_log_end(&line);
  return 1;
}

/* authorize: svc_authorize that also returns the decision's values. */
static int authorize(svc_call *c, tv_permission permission, const char *reason, policy_decision *out) {
  if (identity_refused(c)) {
    return 0;
  }
  const tv_policy *policy = policy_handle_acquire(c->vault->policy);
  if (namespace_missing(c, policy)) {
    policy_release(policy);
    c->status = TV_E_ENGINE_NAMESPACE;
    snprintf(c->detail, sizeof c->detail, "unknown namespace '%s'", c->ns);
    return 0;
  }
  policy_request rq = {.principal = c->principal, .peer = tv_call_peer(c->call), .permission = permission,
                       .ns = c->ns, .items = c->items, .reason = reason};
  policy_decision d;
  tv_status st = policy_check(policy, c->vault->meter, &rq, &d);
  *out = d;
  out->role = NULL; /* points into |policy|, released below */
  if (st == TV_OK) {
    policy_release(policy);
    return 1;
  }
  if (is_exhausted(st)) {
    write_alert(c, &d); /* d.role points into |policy|: still held */
  }
  policy_release(policy);
  /* Names the rule, never a value: the principal is the caller's own. */
  c->status = st;
  snprintf(c->detail, sizeof c->detail, "'%s' refused %s in '%s'", c->principal, policy_permission_name(permission),
           c->ns != NULL && c->ns[0] != '\0' ? c->ns : POLICY_NAMESPACE_ANY);
  return 0;
}

int svc_authorize(svc_call *c, tv_permission permission, const char *reason) {
  policy_decision d;
  return authorize(c, permission, reason, &d);
}

int svc_authorize_tokenize(svc_call *c, uint64_t *out_group_limit) {
  policy_decision d = {.new_tokens_per_kept_group = 0};
  int ok = authorize(c, TV_PERM_TOKENIZE, NULL, &d);
  *out_group_limit = d.new_tokens_per_kept_group;
  return ok;
}

int svc_authorize_method(svc_call *c, int reveal_full, const char *reason) {
  tv_permission permission;
  if (!tv_method_permission(tv_call_method(c->call)->id, reveal_full, &permission)) {
    return 1;
  }
  return svc_authorize(c, permission, reason);
}
