/* Verifying an audit log: the checks behind `tokenvault audit verify`.
 *
 * Given the segment files in order, the verifier walks every line and stops
 * at the first bad spot, naming the file, the line, the entry's sequence
 * number and what is wrong:
 *
 *   TV_E_AUDIT_MALFORMED      the line is not in the entry format
 *   TV_E_AUDIT_ENTRY_ALTERED  the line does not match its own "hash"
 *   TV_E_AUDIT_CHAIN_BROKEN   its "prev" is not the hash of the line before
 *   TV_E_AUDIT_SEQUENCE_GAP   entries are missing (deleted)
 *   TV_E_AUDIT_REORDERED      entries swapped, moved or repeated
 *   TV_E_AUDIT_MAC_INVALID    a checkpoint's MAC does not verify in the HSM
 *   TV_E_AUDIT_SEGMENT        a segment file missing, out of order, from
 *                             another log, or not starting with its header
 *   TV_E_AUDIT_TRUNCATED      the last line is cut short, or the log ends
 *                             before the latest checkpoint the HSM counter
 *                             remembers
 *   TV_E_AUDIT_COUNTER        the HSM has no counter for this log
 *
 * MACs and the truncation check need the HSM (the MAC key never leaves
 * it). Without an HSM only the hash chain, the sequence and the format are
 * checked; anyone able to write the files can then rewrite the whole chain,
 * so such a result is not proof. Entries after the last checkpoint are
 * chained but not sealed yet: cutting only them is not detectable (the
 * result counts them in |unsealed|). */
#ifndef TV_AUDIT_VERIFY_H
#define TV_AUDIT_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "hsm/hsm.h"
#include "vault/util/status.h"

#define TV_AUDIT_FINDING_TEXT_MAX 320u

typedef struct tv_audit_verify_result {
  /* The first problem (TV_OK if none): where and what. |file_index| is an
   * index into the paths given; |line| is 1-based (0: not one line);
   * |seq| is the entry's sequence number (0: unknown). */
  tv_status status;
  size_t file_index;
  uint64_t line;
  uint64_t seq;
  char text[TV_AUDIT_FINDING_TEXT_MAX];

  /* What was read up to the first problem (all of it if none). */
  uint64_t lines;
  uint64_t calls;
  uint64_t alerts;
  uint64_t checkpoints;
  uint64_t segments;
  uint64_t last_seq;
  uint64_t last_checkpoint_seq;
  uint64_t unsealed;        /* lines after the last checkpoint */
  int macs_checked;         /* 1 if an HSM checked the MACs */
  int counter_checked;      /* 1 if the HSM counter was compared */
  uint64_t counter;         /* its value, when checked */
  char log_id_hex[33];

  /* Of |lines| and |checkpoints|: those whose seq is in the range the
   * walk was asked about (audit_verifier_set_range; default: all). */
  uint64_t range_lines;
  uint64_t range_checkpoints;
} tv_audit_verify_result;

/* tv_audit_verify_files verifies the segment files |paths| (|paths_count|
 * of them, in order, the first one being the log's first segment). With
 * |hsm| non-NULL, checkpoint MACs and the HSM counter are checked too.
 * Returns TV_OK if the log is intact; else the first problem's status,
 * also in |out->status| with its place and a sentence in |out->text|.
 * TV_E_IO if a file cannot be read, an HSM status if the HSM failed
 * (then nothing is proven either way). */
tv_status tv_audit_verify_files(tv_audit_verify_result *out, tv_hsm *hsm,
                                const char *const *paths, size_t paths_count);

/* tv_audit_verify_range_judge says whether a walk from the genesis
 * (|walk_status| and |r|, as tv_audit_verify_files left them) proves the
 * entries with seq |from_seq|..|to_seq| (0: from the first / to the last).
 *
 * A range is only as sound as the chain that leads to it: every line
 * before it is hashed into its first "prev", so a problem at or before
 * |to_seq| — even one before |from_seq| — means the range is not proven.
 * A problem after |to_seq| leaves it proven only if a checkpoint at or
 * after |to_seq| verified in the HSM before the problem (the range is then
 * chained from the genesis and sealed); otherwise the range's entries are
 * only chained through the broken part, which anyone able to rewrite the
 * files could have redone.
 *
 * Returns TV_OK if the range is proven (|*out_bad_seq| = 0, or the seq of
 * a problem after the range that did not touch it); else |walk_status|,
 * with |*out_bad_seq| the seq where the problem is (the line after the
 * last good one when the finding has no seq of its own). */
tv_status tv_audit_verify_range_judge(const tv_audit_verify_result *r, tv_status walk_status, uint64_t from_seq,
                                      uint64_t to_seq, uint64_t *out_bad_seq);

/* tv_audit_verify_buffer verifies |len| bytes of a log given in memory as
 * if they were one file (fuzzing and tests). */
tv_status tv_audit_verify_buffer(tv_audit_verify_result *out, tv_hsm *hsm, const char *buf,
                                 size_t len);

#endif
