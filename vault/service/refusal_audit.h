/* Audit lines for the calls the server refuses before any handler runs
 * (a malformed request, a deadline already passed, a full queue, a
 * draining server): DESIGN says every call is audited, and these never
 * reach svc_call.
 *
 * The server reports them from whichever thread releases the call, often
 * a completion-queue poller that must never wait. So a report is only
 * copied into a bounded ring (no payload: principal, peer, method, code);
 * one background thread hands the ring to the audit log, which may block
 * it while the log's own queue is full. When the ring is full — a flood
 * of garbage faster than the audit log can fsync — the report is dropped
 * and counted instead: the refused call still gets its gRPC error, it is
 * still in the metrics, and the number dropped is logged once the flood
 * is over (and at stop). The refusal never waits for its audit line: it
 * reveals nothing, so there is nothing to hold back. */
#ifndef TV_SERVICE_REFUSAL_AUDIT_H
#define TV_SERVICE_REFUSAL_AUDIT_H

#include <stdint.h>

#include "vault/audit/audit.h"
#include "vault/util/status.h"

/* Reports kept waiting for the audit writer before new ones are dropped:
 * a few fsync batches' worth, a few hundred KB at most. */
#define TV_REFUSAL_AUDIT_RING_MAX 256

typedef struct tv_refusal_audit tv_refusal_audit;

/* tv_refusal_audit_start starts the writer thread over |audit| (borrowed;
 * it must stay open until tv_refusal_audit_stop returns). Returns TV_OK
 * and the auditor in |*out|, or TV_E_NO_MEMORY / TV_E_INTERNAL. */
tv_status tv_refusal_audit_start(tv_refusal_audit **out, tv_audit_log *audit);

/* tv_refusal_audit_report queues an audit line for a refused call; never
 * blocks on I/O (a short mutex only). |principal| and |peer| may be NULL
 * or "" (unknown) and are copied. Returns 1 if queued, 0 if dropped
 * (ring full, stopping, or |ra| NULL). Thread-safe. */
int tv_refusal_audit_report(tv_refusal_audit *ra, const char *method, const char *principal, const char *peer,
                            int code, uint64_t latency_us);

/* tv_refusal_audit_stop writes what is queued, stops the thread and frees
 * |ra| (NULL is accepted). Call it after the server has stopped and
 * before the audit log closes. */
void tv_refusal_audit_stop(tv_refusal_audit *ra);

/* tv_refusal_audit_dropped returns how many reports were dropped so far. */
uint64_t tv_refusal_audit_dropped(tv_refusal_audit *ra);

#endif
