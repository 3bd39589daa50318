/* Index checkpoints: the index written to a file with the log position it
 * covers, so open replays only the log after it. Not a public header.
 *
 * File CHECKPOINT (little-endian), replaced atomically by rename:
 *   0 magic "TVCK"  4 version  8 hash seed  16 segment id  20 reserved (0)
 *   24 offset (end of the covered log in that segment)  32 last seq
 *   40 location of the last covered record  48 tokens  56 fingerprints
 *   64 (hash, location) pairs: tokens, then fingerprints
 *   end: crc32c of everything before it
 * The index's hashes are keyed, so the key (seed) is stored with them: the
 * file is as private as the segments (0600, same directory). */
#ifndef TV_STORE_CHECKPOINT_H
#define TV_STORE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "vault/store/index.h"
#include "vault/util/status.h"

#define TV_CHECKPOINT_NAME "CHECKPOINT"

typedef struct tv_ckpt_pos {
  uint32_t segment;
  uint64_t offset;
  uint64_t last_seq;
  tv_store_loc last_loc; /* last record covered: ends at |offset| */
} tv_ckpt_pos;

/* tv_ckpt_write writes |idx| covering the log up to |pos| into |dir_fd|
 * (temporary file, fsync, rename, fsync of the directory). Writer thread
 * only. */
tv_status tv_ckpt_write(int dir_fd, const tv_index *idx, const tv_ckpt_pos *pos);

/* tv_ckpt_load reads CHECKPOINT from |dir_fd| and, if its size, CRC and
 * fields are sound, builds a new index (under the stored seed, with room
 * for |extra_tokens| more) into |*out_idx| and sets |*out_pos|.
 * TV_E_STORE_NOT_FOUND if there is none, TV_E_STORE_CORRUPT if it is bad. */
tv_status tv_ckpt_load(int dir_fd, size_t extra_tokens, tv_index **out_idx, tv_ckpt_pos *out_pos);

/* tv_ckpt_encode renders |idx| covering |pos| as the bytes of a
 * CHECKPOINT file (malloc'd into |*out|). */
tv_status tv_ckpt_encode(const tv_index *idx, const tv_ckpt_pos *pos, uint8_t **out, size_t *out_len);

/* tv_ckpt_parse is tv_ckpt_load on bytes in memory: TV_E_STORE_CORRUPT
 * unless the size, CRC and every field are sound. */
tv_status tv_ckpt_parse(const uint8_t *buf, size_t len, size_t extra_tokens, tv_index **out_idx,
                        tv_ckpt_pos *pos);

#endif
