/* The compaction manifest: the one file whose presence decides, after a
 * crash, whether a compaction happened. Not a public header.
 *
 * A compaction of sealed segments [old_first, old_last] writes its
 * outputs as "cmp-XXXXXXXX.log" (XXXXXXXX = output ordinal, hex), which
 * open never takes for segments. Once every output is synced it writes
 * COMPACT (temporary file, fsync, rename, directory fsync): that rename
 * is the commit. Applying it then means, in this order and each step
 * idempotent so it can be redone after a crash at any point:
 *   1. remove CHECKPOINT (its locations name the old files),
 *   2. rename cmp-<i> over seg-<new_first + i> for each output i,
 *   3. unlink seg-<old_first> .. seg-<new_first - 1>,
 *   4. remove COMPACT.
 * Open (tv_compact_resume) redoes 1-4 if COMPACT is there, else removes
 * leftover cmp-* and COMPACT.tmp: no COMPACT means no output was ever
 * used, so the old segments are intact. Outputs take the highest ids of
 * the range (new_first = old_last + 1 - new_count) so the ids of the log
 * stay contiguous up to the active segment.
 *
 * File COMPACT (little-endian, 32 bytes):
 *   0 magic "TVCM"  4 version  8 old_first  12 old_last  16 new_first
 *   20 new_count  24 reserved (0)  28 crc32c of bytes 0..27 */
#ifndef TV_STORE_COMPACT_MANIFEST_H
#define TV_STORE_COMPACT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "vault/store/compact.h"
#include "vault/store/store.h"
#include "vault/util/status.h"

#define TV_COMPACT_MANIFEST_NAME "COMPACT"
#define TV_COMPACT_MANIFEST_LEN 32u

typedef struct tv_compact_manifest {
  uint32_t old_first;
  uint32_t old_last;
  uint32_t new_first;
  uint32_t new_count;
} tv_compact_manifest;

/* tv_compact_output_name writes "cmp-XXXXXXXX.log" for |ordinal|. */
void tv_compact_output_name(char *out, size_t out_len, uint32_t ordinal);

/* tv_compact_manifest_encode writes the file's 32 bytes for |m|;
 * tv_compact_manifest_decode checks and reads them (TV_E_STORE_CORRUPT
 * for a bad magic, version, reserved field, CRC or range). */
void tv_compact_manifest_encode(const tv_compact_manifest *m, uint8_t out[TV_COMPACT_MANIFEST_LEN]);
tv_status tv_compact_manifest_decode(const uint8_t in[TV_COMPACT_MANIFEST_LEN], tv_compact_manifest *m);

/* tv_compact_manifest_commit writes |m| as COMPACT in |dir_fd| (temporary
 * file, fsync, rename, directory fsync). |fault| (may be NULL) is called
 * with MANIFEST_TMP before the rename and COMMITTED after. */
tv_status tv_compact_manifest_commit(int dir_fd, const tv_compact_manifest *m, tv_store_compact_fault_fn fault,
                                     void *fault_ctx);

/* tv_compact_manifest_exists returns 1 if COMPACT is in |dir_fd|. */
int tv_compact_manifest_exists(int dir_fd);

/* tv_compact_remove_checkpoint and tv_compact_rename_outputs are steps 1
 * and 2 above; tv_compact_finish does steps 3 and 4. Each syncs the
 * directory and calls |fault| (may be NULL) at its steps. */
tv_status tv_compact_remove_checkpoint(int dir_fd, tv_store_compact_fault_fn fault, void *fault_ctx);
tv_status tv_compact_rename_outputs(int dir_fd, const tv_compact_manifest *m, tv_store_compact_fault_fn fault,
                                    void *fault_ctx);
tv_status tv_compact_finish(int dir_fd, const tv_compact_manifest *m, tv_store_compact_fault_fn fault,
                            void *fault_ctx);

/* tv_compact_discard removes leftover outputs and COMPACT.tmp of a
 * compaction that never committed. */
tv_status tv_compact_discard(int dir_fd);

/* tv_compact_resume finishes a committed compaction or discards an
 * uncommitted one (see above). A COMPACT that does not check out is
 * TV_E_STORE_CORRUPT, named in |diag|: guessing could lose records. */
tv_status tv_compact_resume(int dir_fd, const char *dir, tv_store_diag *diag);

#endif
