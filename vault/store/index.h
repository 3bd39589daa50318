/* The in-memory index: (namespace, token) -> record location and
 * (namespace, fingerprint) -> record location (whose record names the
 * token).
 *
 * Each entry is 16 bytes: a 64-bit keyed hash and a packed location. Keys
 * themselves are not kept: a lookup returns the candidate locations whose
 * hash matches and the caller confirms by reading the record, which also
 * resolves the (astronomically rare) 64-bit collisions. Both tables are
 * linear-probing open addressing with backward-shift deletion (no
 * tombstones), grown by 1.5x at 80% load, so memory per token is
 * 2 * 16 / load = 40..60 bytes.
 *
 * Concurrency: one writer (the store's writer thread) mutates, any number
 * of readers look up. First step: a writer-preferring pthread rwlock; the
 * writer takes it once per durable batch, not per record, so readers wait
 * at most one batch's index updates. A growth rehash holds it for the
 * whole rehash (about 20 ms per million tokens) — per-bucket seqlocks with
 * incremental resize are the next step if that stall matters. */
#ifndef TV_STORE_INDEX_H
#define TV_STORE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

/* A record location packed in 64 bits: segment id (20 bits), offset/8
 * (28 bits, so segments up to 2 GiB) and record length/8 (16 bits). Zero
 * is never a valid location (offset 0 holds the segment header). */
typedef uint64_t tv_store_loc;

/* tv_loc_pack packs a location; |offset| and |len| must be multiples of 8
 * and in range (asserted). */
tv_store_loc tv_loc_pack(uint32_t segment_id, uint64_t offset, uint32_t len);
uint32_t tv_loc_segment(tv_store_loc loc);
uint64_t tv_loc_offset(tv_store_loc loc);
uint32_t tv_loc_len(tv_store_loc loc);

typedef struct tv_index tv_index;

/* tv_index_new creates an empty index sized for |tokens_hint| tokens (0 for
 * a small start) with hash key |seed| (random per process, so bucket
 * positions can't be predicted from outside). Returns TV_E_NO_MEMORY on
 * failure; free with tv_index_free. */
tv_status tv_index_new(size_t tokens_hint, uint64_t seed, tv_index **out);

/* tv_index_free releases |idx|; accepts NULL. */
void tv_index_free(tv_index *idx);

/* tv_index_token_hash and tv_index_fp_hash return the keyed hashes the
 * index stores for a token key and a fingerprint key. */
uint64_t tv_index_token_hash(const tv_index *idx, const uint8_t *ns, size_t ns_len, const uint8_t *token,
                             size_t token_len);
uint64_t tv_index_fp_hash(const tv_index *idx, const uint8_t *ns, size_t ns_len, const uint8_t fp[16]);

/* tv_index_token_find and tv_index_fp_find copy up to |out_max| candidate
 * locations with hash |hash| into |out| and return how many there are
 * (possibly more than |out_max|). Safe from any thread. */
size_t tv_index_token_find(tv_index *idx, uint64_t hash, tv_store_loc *out, size_t out_max);
size_t tv_index_fp_find(tv_index *idx, uint64_t hash, tv_store_loc *out, size_t out_max);

/* tv_index_token_find_many (tv_index_fp_find_many: fingerprint hashes)
 * looks up |num| hashes under one read lock, prefetching the buckets a
 * few lookups ahead so the cache misses of a batch overlap: up to
 * |per_max| locations of hashes[i] go to
 * out[i * per_max ...] and the number found (uncapped, as
 * tv_index_token_find) to counts[i]. */
void tv_index_token_find_many(tv_index *idx, const uint64_t *hashes, size_t num, tv_store_loc *out, size_t per_max,
                              size_t *counts);
void tv_index_fp_find_many(tv_index *idx, const uint64_t *hashes, size_t num, tv_store_loc *out, size_t per_max,
                           size_t *counts);

/* tv_index_token_find_w and tv_index_fp_find_w are the same lookups for
 * the single writer thread, which may read without the lock because no
 * one else mutates (and which may hold the write lock while it reads). */
size_t tv_index_token_find_w(tv_index *idx, uint64_t hash, tv_store_loc *out, size_t out_max);
size_t tv_index_fp_find_w(tv_index *idx, uint64_t hash, tv_store_loc *out, size_t out_max);

/* tv_index_prefetch asks the CPU to start loading the buckets of a token
 * hash and a fingerprint hash (0: skip) that will be touched soon; replay
 * issues it a few records ahead so cache misses overlap. */
void tv_index_prefetch(const tv_index *idx, uint64_t token_hash, uint64_t fp_hash);

/* tv_index_write_begin/end bracket a group of mutations (one writer
 * thread only). Readers see all of a group or none of it. */
void tv_index_write_begin(tv_index *idx);
void tv_index_write_end(tv_index *idx);

/* Mutations, only between write_begin and write_end. Insert adds an entry
 * (equal hashes may coexist) and fails only with TV_E_NO_MEMORY when the
 * table cannot grow. Replace and remove act on the entry with exactly
 * (hash, old location) and return 1 if it was there, else 0. */
tv_status tv_index_token_insert(tv_index *idx, uint64_t hash, tv_store_loc loc);
int tv_index_token_replace(tv_index *idx, uint64_t hash, tv_store_loc old_loc, tv_store_loc new_loc);
int tv_index_token_remove(tv_index *idx, uint64_t hash, tv_store_loc loc);
tv_status tv_index_fp_insert(tv_index *idx, uint64_t hash, tv_store_loc loc);
int tv_index_fp_replace(tv_index *idx, uint64_t hash, tv_store_loc old_loc, tv_store_loc new_loc);
int tv_index_fp_remove(tv_index *idx, uint64_t hash, tv_store_loc loc);

/* tv_index_reserve grows both tables (if needed) so |tokens| entries fit
 * without a rehash; recovery calls it with the number of puts in the log
 * so replay never rehashes. Writer only, inside write_begin/end (or before
 * any reader exists). TV_E_NO_MEMORY leaves the index unchanged. */
tv_status tv_index_reserve(tv_index *idx, size_t tokens);

/* tv_index_seed returns the hash key |idx| was created with (an index
 * checkpoint stores it: its hashes are only valid under that key). */
uint64_t tv_index_seed(const tv_index *idx);

/* tv_index_token_export and tv_index_fp_export copy up to |out_max|
 * entries as (hash, location) pairs into |out| (2 * out_max words) and
 * return the number of entries. Writer thread only (no lock taken). */
size_t tv_index_token_export(const tv_index *idx, uint64_t *out, size_t out_max);
size_t tv_index_fp_export(const tv_index *idx, uint64_t *out, size_t out_max);

/* tv_index_stats reports live tokens and bytes allocated for both tables. */
typedef struct tv_index_stats {
  size_t tokens;
  size_t fingerprints;
  size_t bytes;
} tv_index_stats;
void tv_index_get_stats(tv_index *idx, tv_index_stats *out);

#endif
