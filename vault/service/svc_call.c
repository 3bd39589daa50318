#include "vault/service/svc_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/audit/audit_limits.h"
#include "vault/config/config.h"
#include "vault/format/sensitive_text.h"
#include "vault/service/metrics.h"
#include "vault/service/readiness.h"
#include "vault/service/status_map.h"
#include "vault/util/clock.h"

uint64_t svc_now_ms(void) { return tv_unix_ms(); }

void svc_call_begin(svc_call *c, tv_call *call, tv_vault *vault, const char *ns, const char *request_id,
                    uint64_t items) {
  c->call = call;
  c->vault = vault;
  c->method = tv_call_method(call)->name;
  const tv_identity *id = tv_call_identity(call);
  /* A plaintext listener has no certificate to name the caller by; the
   * config only allows one on loopback and calls its caller dev:local. */
  c->principal = id->authenticated ? id->principal : vault->plaintext ? CONFIG_DEV_PRINCIPAL : "";
  c->ns = ns;
  c->request_id = request_id;
  c->items = items;
  c->start_us = tv_mono_us();
  c->status = TV_OK;
  c->detail[0] = '\0';
}

const char *svc_principal(const svc_call *c) {
  return c->principal[0] != '\0' ? c->principal : NULL;
}

void svc_call_release(svc_call *c) {
  if (c->cleanup != NULL) {
    c->cleanup(c);
  } else {
    free(c);
  }
}

/* A stream reply was written (or the call failed): its buffers can go. */
static void stream_sent(tv_call *call, int success, void *arg) {
  (void)call;
  (void)success;
  svc_call_release(arg);
}

/* Counts the call (stream message) with the code it is answered with;
 * latency includes the audit fsync, as the client sees it. */
static void count_call(const svc_call *c, tv_status audit_status) {
  tv_code code = audit_status != TV_OK           ? TV_CODE_UNAVAILABLE
                : c->code_override != TV_CODE_OK ? c->code_override
                                                 : tv_status_to_code(c->status);
  tv_method_id method = tv_call_method(c->call)->id;
  tv_metrics_call_done(c->vault->metrics, method, (int)code, c->items, tv_mono_us() - c->start_us);
  if (audit_status != TV_OK || !c->counted) {
    return; /* withheld: nothing was revealed */
  }
  tv_metrics_items_failed(c->vault->metrics, method, &c->outcome);
  if (c->reveal != NULL && c->reveal[0] != '\0') {
    tv_metrics_revealed(c->vault->metrics, c->principal, c->reveal, c->outcome.ok);
    if (c->status == TV_E_POLICY_RATE_LIMITED) {
      tv_metrics_reveal_refused(c->vault->metrics, c->principal);
    }
  }
}

/* The audit line could not be made durable, so the answer is withheld;
 * the client is told which fault (AUDIT_NO_SPACE, HSM_UNAVAILABLE, ...),
 * and readiness (health, the log) learns of it. */
static void refuse_unaudited(svc_call *c, tv_status audit_status) {
  tv_readiness_audit(c->vault->readiness, audit_status);
  char detail[256];
  snprintf(detail, sizeof detail, "audit log unavailable (%s: %s): call refused", tv_status_name(audit_status),
           tv_status_message(audit_status));
  tv_call_finish_code(c->call, TV_CODE_UNAVAILABLE, detail, NULL);
}

/* Runs on the audit writer thread: the line is durable (or failed). */
static void audited(void *arg, tv_status status, uint64_t seq) {
  (void)seq;
  svc_call *c = arg;
  count_call(c, status);
  if (status == TV_OK) {
    tv_readiness_audit(c->vault->readiness, TV_OK);
  }
  if (status == TV_OK && c->after_audit != NULL && c->code_override == TV_CODE_OK && c->status == TV_OK) {
    c->after_audit(c);
    return;
  }
  if (status == TV_OK && c->stream && c->code_override == TV_CODE_OK && c->status == TV_OK) {
    if (tv_call_send(c->call, c->response, stream_sent, c) != TV_OK) {
      tv_call_finish_code(c->call, TV_CODE_INTERNAL, "could not send the reply", NULL);
      svc_call_release(c);
    }
    return;
  }
  if (status != TV_OK) {
    refuse_unaudited(c, status);
  } else if (c->code_override != TV_CODE_OK) {
    tv_call_finish_code(c->call, c->code_override, c->detail, NULL);
  } else {
    tv_call_finish(c->call, c->status, c->detail[0] != '\0' ? c->detail : NULL,
                   c->status == TV_OK ? c->response : NULL);
  }
  svc_call_release(c);
}

/* A data call that failed as a whole answered none of its items. */
static void whole_call_outcome(svc_call *c) {
  if (c->code_override == TV_CODE_OK && c->status == TV_OK) {
    return;
  }
  memset(&c->outcome, 0, sizeof c->outcome);
  /* An explicit gRPC code is an authentication refusal (no certificate,
   * or one naming no usable principal): the policy class. */
  tv_item_class cls = c->code_override != TV_CODE_OK ? TV_ITEM_POLICY : tv_item_class_of(c->status);
  c->outcome.failed[cls] = c->items;
}

_Static_assert(SVC_FREE_TEXT_BYTES_MAX <= AUDIT_FIELD_BYTES_MAX, "free text must fit an audit text field");

void svc_free_text(char out[SVC_FREE_TEXT_BYTES_MAX + 1], const char *text) {
  const char *t = text != NULL ? text : "";
  (void)tv_sensitive_redact(out, SVC_FREE_TEXT_BYTES_MAX + 1, t, strlen(t), NULL);
}

void svc_call_end(svc_call *c) {
  /* Caller-supplied text is for humans: card numbers and IBANs in it are
   * replaced before the line is written (README: security notes). */
  char request_id[SVC_FREE_TEXT_BYTES_MAX + 1], purpose[SVC_FREE_TEXT_BYTES_MAX + 1];
  svc_free_text(request_id, c->request_id);
  svc_free_text(purpose, c->purpose);
  char failed[TV_ITEM_OUTCOME_TEXT_MAX] = "";
  if (c->counted) {
    whole_call_outcome(c);
    tv_item_outcome_format(failed, sizeof failed, &c->outcome);
  }
  tv_audit_entry e = {
      .type = TV_AUDIT_CALL,
      .principal = c->principal,
      .peer = tv_call_peer(c->call),
      .method = c->method,
      .ns = c->ns,
      .items = c->items,
      .request_id = request_id,
      .code = c->code_override != TV_CODE_OK ? (uint32_t)c->code_override : (uint32_t)tv_status_to_code(c->status),
      .outcome = c->code_override != TV_CODE_OK ? "REFUSED" : tv_status_name(c->status),
      .latency_us = tv_mono_us() - c->start_us,
      .purpose = purpose,
      .counted = c->counted,
      .reveal = c->reveal,
      .items_ok = c->outcome.ok,
      .failed = failed,
  };
  tv_status st = tv_audit_append_async(c->vault->audit, &e, audited, c);
  if (st != TV_OK) {
    count_call(c, st);
    refuse_unaudited(c, st);
    svc_call_release(c);
  }
}

void svc_call_fail(svc_call *c, tv_status status, const char *detail) {
  c->status = status;
  snprintf(c->detail, sizeof c->detail, "%s", detail != NULL ? detail : "");
  svc_call_end(c);
}

void svc_call_fail_code(svc_call *c, tv_code code, const char *detail) {
  c->code_override = code;
  snprintf(c->detail, sizeof c->detail, "%s", detail != NULL ? detail : "");
  svc_call_end(c);
}
