/* Explicit repair of a store whose log is damaged before its last commit
 * (the case where tv_store_open stops with TV_E_STORE_CORRUPT naming a
 * file and offset). Offline: the store must not be open anywhere. */
#ifndef TV_STORE_REPAIR_H
#define TV_STORE_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "vault/store/store_limits.h"
#include "vault/util/status.h"

/* Lost ranges reported individually; more are counted, not listed. */
#define TV_STORE_REPAIR_RANGES_MAX 64u

/* One run of lost sequence numbers: the records between the last intact
 * record before the damage and the first intact one after it. */
typedef struct tv_store_lost_range {
  uint64_t first_seq;
  uint64_t last_seq;
  uint32_t segment_id; /* segment where the damage starts */
  uint64_t offset;     /* byte offset of the first bad byte in it */
  uint64_t bytes;      /* bytes skipped */
} tv_store_lost_range;

typedef struct tv_store_repair_report {
  uint32_t segments_checked;
  uint32_t segments_rewritten; /* damaged originals kept as *.damaged-<ms> */
  uint64_t records_kept;       /* intact records (all types) in the log */
  uint64_t records_lost;       /* sequence numbers lost to damage */
  uint64_t bytes_lost;
  uint64_t torn_bytes; /* unacknowledged torn tail of the last segment, cut */
  size_t num_ranges;   /* ranges listed (≤ TV_STORE_REPAIR_RANGES_MAX) */
  size_t ranges_total;
  tv_store_lost_range ranges[TV_STORE_REPAIR_RANGES_MAX];
  char first_moved[TV_STORE_PATH_LEN_MAX]; /* the first file moved aside, or "" */
} tv_store_repair_report;

/* tv_store_repair checks every segment of the store in |dir| record by
 * record. A segment with damage (bytes that do not decode, followed by
 * records that do, or any damage in a sealed segment) is rewritten with
 * every intact record in order, including those after the damage; the
 * original is renamed to "<segment>.damaged-<unix ms>" (never deleted) and
 * the new file, synced, takes its name. The segment header is rebuilt if
 * it was itself damaged. A torn tail of the last segment (no intact record
 * after it, and torn by the tail rule of tail_rule.h) is not a loss: never
 * acknowledged, it is left for open to cut and counted in |torn_bytes|; a
 * complete record failing its CRC at the end of the log is damage like
 * any other (dropped, the original kept). Undamaged segments are left untouched.
 * Returns TV_OK (|report| filled; records_lost may be 0) after which the
 * store opens; TV_E_STORE_LOCKED if the store is open; TV_E_STORE_LAYOUT
 * if segments are missing; TV_E_IO / TV_E_NO_MEMORY. */
tv_status tv_store_repair(const char *dir, tv_store_repair_report *report);

#endif
