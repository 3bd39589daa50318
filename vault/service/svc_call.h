/* One call of the engine service, from its handler to its audited answer.
 *
 * Every call ends the same way (svc_call_end): the outcome is appended to
 * the audit log asynchronously and the call is finished from the
 * audit writer's completion, so no thread waits for the audit fsync and no
 * answer (above all no revealed value) leaves before its audit line is
 * durable. If the append fails the call fails UNAVAILABLE (fail closed).
 * Afterwards the method's cleanup wipes its buffers and frees the call.
 *
 * Streams: each request message is one svc_call (and one audit line); its
 * reply is sent once the line is durable, and the next message is read
 * only after that (vault/service/service.h). */
#ifndef TV_SERVICE_SVC_CALL_H
#define TV_SERVICE_SVC_CALL_H

#include <stdint.h>

#include "vault/service/call_iface.h"
#include "vault/service/item_outcome.h"
#include "vault/service/vault.h"

typedef struct svc_call svc_call;

struct svc_call {
  tv_call *call;
  tv_vault *vault;
  const char *method;     /* "Tokenize" */
  const char *principal;  /* who: the certificate's principal, dev:local on
                             plaintext, "" if unknown (never authorised) */
  const char *ns;         /* from the request; may be NULL */
  const char *request_id; /* from the request */
  const char *purpose;    /* the caller's reason, whenever one is given */
  uint64_t items;
  /* Data calls: the audit line also carries the reveal level and what
   * became of the items (item_outcome.h). A call that fails as a whole
   * counts all |items| as failed with its status's class. */
  int counted;
  const char *reveal;       /* "FULL", "MASKED", "NONE" or "" */
  tv_item_outcome outcome;  /* filled by the handler for a call that succeeded */
  uint64_t start_us;
  tv_status status;  /* the answer: TV_OK sends |response| */
  char detail[160];  /* "" or a sentence for a failed call; never a value */
  tv_code code_override; /* not TV_CODE_OK: answer this code with |detail| instead */
  int stream;        /* 1: one message of a bidi stream: a success is sent
                        with tv_call_send, a failure ends the stream */
  const ProtobufCMessage *response;
  void (*cleanup)(svc_call *c); /* wipes and frees; NULL: free(c) */
  /* Not NULL: once a successful call's audit line is durable, this runs
   * instead of the answer and owns the rest of the call (finish and
   * release via svc_call_release): server-streaming answers. */
  void (*after_audit)(svc_call *c);
};

/* svc_call_begin fills the common fields of |c| for |call|. */
void svc_call_begin(svc_call *c, tv_call *call, tv_vault *vault, const char *ns, const char *request_id,
                    uint64_t items);

/* svc_call_end audits |c|'s outcome, then finishes the call and runs its
 * cleanup (possibly on another thread, possibly before this returns). */
void svc_call_end(svc_call *c);

/* svc_call_fail sets a failed outcome with an optional detail and ends. */
void svc_call_fail(svc_call *c, tv_status status, const char *detail);

/* svc_call_fail_code fails with an explicit code (no tv_status fits). */
void svc_call_fail_code(svc_call *c, tv_code code, const char *detail);

/* svc_principal returns who is calling: the certificate's principal, or
 * CONFIG_DEV_PRINCIPAL on a plaintext listener; NULL if there is none. */
const char *svc_principal(const svc_call *c);

/* svc_call_release runs |c|'s cleanup (for after_audit owners). */
void svc_call_release(svc_call *c);

/* Free text the caller gave (request_id, reason) as the audit log and the
 * store may keep it: at most an audit text field. */
#define SVC_FREE_TEXT_BYTES_MAX 256u

/* svc_free_text copies |text| (NULL: "") into |out| with every card number
 * and IBAN replaced by [REDACTED-PAN] / [REDACTED-IBAN]
 * (vault/format/sensitive_text.h), cut to SVC_FREE_TEXT_BYTES_MAX bytes
 * where the marks make it longer. */
void svc_free_text(char out[SVC_FREE_TEXT_BYTES_MAX + 1], const char *text);

/* svc_now_ms returns unix time in milliseconds. */
uint64_t svc_now_ms(void);

#endif
