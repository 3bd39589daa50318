/* The verifier's state machine over the lines of one log, shared by
 * `verify` (from the genesis) and the writer's recovery (from the newest
 * segment's header). */
#ifndef TV_AUDIT_VERIFIER_H
#define TV_AUDIT_VERIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "hsm/hsm.h"
#include "vault/audit/line.h"
#include "vault/audit/verify.h"

typedef struct audit_verifier {
  tv_hsm *hsm;             /* NULL: no MAC checks */
  int from_genesis;        /* 0: the first header's prev is taken on trust */
  tv_audit_verify_result *result;
  int started;             /* a segment header was seen */
  uint8_t log_id[AUDIT_LOG_ID_LEN];
  uint8_t prev[AUDIT_HASH_LEN];
  uint64_t expected_seq;
  uint64_t segment;        /* of the current file */
  uint64_t since_checkpoint;
  size_t file_index;
  uint64_t file_line;      /* lines of the current file so far */
  uint64_t range_from;     /* lines with seq in [range_from, range_to] */
  uint64_t range_to;       /* are also counted in result->range_* */
} audit_verifier;

/* audit_verifier_init starts a walk that writes into |result| (cleared). */
void audit_verifier_init(audit_verifier *v, tv_audit_verify_result *result, tv_hsm *hsm,
                         int from_genesis);

/* audit_verifier_set_range counts the lines with seq |from|..|to| (0:
 * unbounded on that side) in result->range_lines / range_checkpoints as
 * well; the walk itself still checks every line from the start. */
void audit_verifier_set_range(audit_verifier *v, uint64_t from, uint64_t to);

/* audit_verifier_file checks the |len| bytes of file |file_index|, line by
 * line. Returns TV_OK or the first problem (recorded in the result). */
tv_status audit_verifier_file(audit_verifier *v, size_t file_index, const char *buf, size_t len);

/* audit_verifier_finish runs the end-of-log checks (the HSM counter, when
 * an HSM is given). */
tv_status audit_verifier_finish(audit_verifier *v);

#endif
