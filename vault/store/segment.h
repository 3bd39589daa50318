/* Segment files: naming, creation (preallocated, header written, file and
 * directory fsynced), preallocation in chunks, and sealing. */
#ifndef TV_STORE_SEGMENT_H
#define TV_STORE_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "vault/store/store_limits.h"
#include "vault/util/status.h"

/* Preallocation grows a segment by this much at a time, so a full disk or
 * a file-size limit is met mid-segment (a clear NO_SPACE) and creating a
 * segment stays cheap. */
#define TV_SEGMENT_PREALLOC_BYTES (1u << 20)

/* tv_segment_name writes "seg-XXXXXXXX.log" for |id| into |out|. */
void tv_segment_name(char *out, size_t out_len, uint32_t id);

/* tv_segment_parse_name returns 1 and sets |*out_id| if |name| is exactly
 * a segment file name, else 0. */
int tv_segment_parse_name(const char *name, uint32_t *out_id);

/* tv_segment_list returns the sorted ids of the segment files in |dir|
 * in |*out_ids| (malloc'd, caller frees; NULL when there are none). */
tv_status tv_segment_list(const char *dir, uint32_t **out_ids, size_t *out_num);

/* tv_segment_create creates segment |id| in the directory |dir_fd| (any
 * leftover of a failed earlier attempt is replaced), preallocates its
 * first chunk, writes its header record with sequence number |seq|, syncs
 * the file and the directory. On success |*out_fd| is open read-write and
 * |*out_end| / |*out_alloc_end| are the end of the header and of the
 * preallocated space. Failures are recorded with tv_store_io_failed. */
tv_status tv_segment_create(int dir_fd, uint32_t id, uint64_t seq, uint64_t segment_bytes, int *out_fd,
                            uint64_t *out_end, uint64_t *out_alloc_end);

/* tv_segment_reinit rewrites an open segment that has no valid record as
 * a fresh segment (header at offset 0), like tv_segment_create. */
tv_status tv_segment_reinit(int fd, uint32_t id, uint64_t seq, uint64_t segment_bytes, uint64_t *out_end,
                            uint64_t *out_alloc_end);

/* tv_segment_prealloc makes sure bytes up to |end| are allocated (grows
 * by TV_SEGMENT_PREALLOC_BYTES where possible, never past
 * |segment_bytes|); |*alloc_end| is updated. TV_E_STORE_NO_SPACE on
 * ENOSPC/EDQUOT/EFBIG. Where the filesystem cannot preallocate
 * (EOPNOTSUPP, ENOSYS) it does nothing and succeeds: writes then grow
 * the file, and |*alloc_end| is set to |segment_bytes| so the segment
 * does not ask again. */
tv_status tv_segment_prealloc(int fd, uint64_t end, uint64_t segment_bytes, uint64_t *alloc_end);

/* tv_segment_seal cuts the segment at |end| and syncs it: a sealed segment
 * ends exactly at its last record, so recovery can treat anything odd
 * after it as damage. */
tv_status tv_segment_seal(int fd, uint64_t end);

/* tv_store_errno_status maps a write-path errno to a store status. */
tv_status tv_store_errno_status(int err);

/* tv_store_io_failed records, for this thread, that |op| on |file|
 * failed with |err| ("fallocate of seg-00000001.log failed: Operation not
 * supported (errno 95)"), and returns tv_store_errno_status(|err|). A
 * status alone cannot say which call failed; the message can. */
tv_status tv_store_io_failed(const char *op, const char *file, int err);

/* tv_store_fd_failed is tv_store_io_failed naming the file open as |fd|. */
tv_status tv_store_fd_failed(const char *op, int fd, int err);

/* tv_store_io_error returns this thread's last recorded failure, or "". */
const char *tv_store_io_error(void);

/* tv_store_io_error_clear forgets this thread's last failure. */
void tv_store_io_error_clear(void);

/* tv_store_io_error_adopt makes |msg| (another thread's tv_store_io_error,
 * e.g. a task the writer ran for this thread) this thread's last failure. */
void tv_store_io_error_adopt(const char *msg);

/* tv_now_ms returns the wall-clock time in Unix milliseconds. */
uint64_t tv_now_ms(void);

#endif
