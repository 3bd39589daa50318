/* The tail rule: at the end of the log, are bad bytes a torn write (never
 * acknowledged: cut) or damage to a record that was once durable (stop
 * the open)? Shared by recovery (recovery.c) and repair (repair.c) so the
 * two always agree. Not a public header.
 *
 * A record is acknowledged only after its whole batch was written and
 * fdatasynced, and a written record passes its CRC. So a complete-looking
 * record that fails its CRC was either written only in part or damaged
 * afterwards. Segments are preallocated (fallocate: reads as zeros), so a
 * part never written reads as zeros, in whole sectors. The rule:
 *
 *   short: the file ends inside the record (its 32-byte header, or the
 *          length the header states, runs past the end of the file)
 *          -> torn;
 *   unwritten header: the header does not decode and its magic or its
 *          CRC field is zero (never so once written), or it is nothing
 *          like a header (fewer than 3 of the 4 magic bytes right: a
 *          sector torn into garbage) -> torn; a header with its magic
 *          (all but a byte) intact that does not decode -> damage;
 *   unwritten sector: the record fails its CRC and holds a run of zero
 *          bytes that starts at a 512-byte boundary and either fills a
 *          whole 512-byte sector inside the record or runs to the
 *          record's end covering its padding and at least
 *          TV_TAIL_ZERO_PAYLOAD_MIN payload bytes -> torn (no well-formed
 *          record ends in that many zeros: see TV_TAIL_ZERO_PAYLOAD_MIN;
 *          the one exception, caller metadata ending in zeros, is in the
 *          README);
 *   anything else (a full-length record, nonzero where it was written,
 *          failing its CRC) -> damage. */
#ifndef TV_STORE_TAIL_RULE_H
#define TV_STORE_TAIL_RULE_H

#include <stddef.h>
#include <stdint.h>

/* Sector size assumed for partial writes: the smallest a disk writes
 * atomically, so a part never written is at least this, aligned. */
#define TV_TAIL_SECTOR_BYTES 512u
/* Zero payload bytes at the end of a record that count as never written:
 * a put without metadata ends with its random 16-byte GCM tag and a 2-byte
 * metadata length (8 zeros: 6 tag bytes zero, 2^-48), a delete with its
 * 8-byte time in ms, a segment header with its nonzero size limit, so no
 * well-formed record ends in 8 zero payload bytes (a sector boundary can
 * fall anywhere in a record, so the smaller this is, the fewer torn
 * records are taken for damage). */
#define TV_TAIL_ZERO_PAYLOAD_MIN 8u

typedef enum tv_tail_verdict {
  TV_TAIL_TORN = 1,   /* never acknowledged: may be cut */
  TV_TAIL_DAMAGE = 2, /* a record once written in full: stop */
} tv_tail_verdict;

/* tv_tail_classify judges the bad record at |off| of the |size| bytes at
 * |seg| (a segment's map). Callers have already ruled out an all-zero
 * rest (the normal end) and valid records of later batches (damage). */
tv_tail_verdict tv_tail_classify(const uint8_t *seg, uint64_t size, uint64_t off);

/* tv_tail_data_end returns the end of the last nonzero byte at or after
 * |off|, rounded up to the record alignment (at most |size|): what a cut
 * keeps aside; past it is preallocated space. */
uint64_t tv_tail_data_end(const uint8_t *seg, uint64_t size, uint64_t off);

/* tv_tail_count_records counts record starts (the magic at an aligned
 * offset) in [off, end): how many records a cut touches (at least 1). */
uint64_t tv_tail_count_records(const uint8_t *seg, uint64_t off, uint64_t end);

#endif
