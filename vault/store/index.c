#include "vault/store/index.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

__extension__ typedef unsigned __int128 u128;

#define LOAD_NUM 4u /* grow above 4/5 = 80% load */
#define LOAD_DEN 5u
#define TABLE_CAP_MIN 16u

typedef struct entry {
  uint64_t hash;
  tv_store_loc loc; /* 0: empty slot */
} entry;

typedef struct table {
  entry *slots;
  size_t cap;
  size_t count;
  size_t mapped; /* bytes mmapped, or 0 if from calloc */
} table;

/* Tables of 2 MiB and more are mmapped and asked for transparent huge
 * pages: lookups are random, and with 4 KiB pages nearly every one also
 * misses the TLB (doubly costly under virtualisation). */
#define HUGE_PAGE_BYTES (2u << 20)

struct tv_index {
  pthread_rwlock_t lock;
  uint64_t seed;
  table tokens;
  table fps;
};

tv_store_loc tv_loc_pack(uint32_t segment_id, uint64_t offset, uint32_t len) {
  assert(segment_id < (1u << 20));
  assert(offset % 8 == 0 && offset / 8 < (1ull << 28));
  assert(len % 8 == 0 && len / 8 < (1u << 16) && len > 0);
  return (uint64_t)segment_id << 44 | (offset / 8) << 16 | (uint64_t)(len / 8);
}

uint32_t tv_loc_segment(tv_store_loc loc) { return (uint32_t)(loc >> 44); }
uint64_t tv_loc_offset(tv_store_loc loc) { return ((loc >> 16) & ((1ull << 28) - 1)) * 8; }
uint32_t tv_loc_len(tv_store_loc loc) { return (uint32_t)(loc & 0xffffu) * 8; }

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t len) {
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = mix64(h ^ w) + 0x9e3779b97f4a7c15ull;
    p += 8;
    len -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, p, len);
  return mix64(h ^ w ^ (uint64_t)len << 56);
}

uint64_t tv_index_token_hash(const tv_index *idx, const uint8_t *ns, size_t ns_len, const uint8_t *token,
                             size_t token_len) {
  /* Lengths go in so ("ab","c") and ("a","bc") differ. */
  uint64_t h = mix64(idx->seed ^ (uint64_t)ns_len << 8 ^ token_len);
  h = hash_bytes(h, ns, ns_len);
  return hash_bytes(h, token, token_len);
}

uint64_t tv_index_fp_hash(const tv_index *idx, const uint8_t *ns, size_t ns_len, const uint8_t fp[16]) {
  uint64_t h = mix64(~idx->seed ^ (uint64_t)ns_len << 8);
  h = hash_bytes(h, ns, ns_len);
  return hash_bytes(h, fp, 16);
}

static size_t cap_for(size_t tokens) { return tokens / LOAD_NUM * LOAD_DEN + TABLE_CAP_MIN; }

static size_t home(const table *t, uint64_t hash) { return (size_t)(((u128)hash * t->cap) >> 64); }
static size_t next(const table *t, size_t i) { return i + 1 == t->cap ? 0 : i + 1; }

static tv_status table_init(table *t, size_t cap) {
  size_t bytes = cap * sizeof *t->slots;
  t->mapped = 0;
  if (bytes >= HUGE_PAGE_BYTES) {
    size_t len = (bytes + HUGE_PAGE_BYTES - 1) & ~(size_t)(HUGE_PAGE_BYTES - 1);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    TV_ENSURE(p != MAP_FAILED, TV_E_NO_MEMORY);
    madvise(p, len, MADV_HUGEPAGE); /* best effort */
    t->slots = p;
    t->mapped = len;
  } else {
    t->slots = calloc(cap, sizeof *t->slots);
    TV_ENSURE(t->slots != NULL, TV_E_NO_MEMORY);
  }
  t->cap = cap;
  t->count = 0;
  return TV_OK;
}

static void table_release(table *t) {
  if (t->mapped != 0) {
    munmap(t->slots, t->mapped);
  } else {
    free(t->slots);
  }
  t->slots = NULL;
}

static size_t table_bytes(const table *t) { return t->mapped != 0 ? t->mapped : t->cap * sizeof(entry); }

static void table_put_raw(table *t, uint64_t hash, tv_store_loc loc) {
  size_t i = home(t, hash);
  while (t->slots[i].loc != 0) {
    i = next(t, i);
  }
  t->slots[i].hash = hash;
  t->slots[i].loc = loc;
  t->count++;
}

static tv_status table_rehash(table *t, size_t cap) {
  table bigger;
  TV_TRY(table_init(&bigger, cap));
  for (size_t i = 0; i < t->cap; i++) {
    if (t->slots[i].loc != 0) {
      table_put_raw(&bigger, t->slots[i].hash, t->slots[i].loc);
    }
  }
  assert(bigger.count == t->count);
  table_release(t);
  *t = bigger;
  return TV_OK;
}

static tv_status table_insert(table *t, uint64_t hash, tv_store_loc loc) {
  assert(loc != 0);
  if ((t->count + 1) * LOAD_DEN > t->cap * LOAD_NUM) {
    TV_TRY(table_rehash(t, t->cap + t->cap / 2));
  }
  table_put_raw(t, hash, loc);
  return TV_OK;
}

static size_t table_find_slot(const table *t, uint64_t hash, tv_store_loc loc) {
  for (size_t i = home(t, hash), n = 0; t->slots[i].loc != 0 && n < t->cap; i = next(t, i), n++) {
    if (t->slots[i].hash == hash && t->slots[i].loc == loc) {
      return i;
    }
  }
  return SIZE_MAX;
}

static size_t table_find(const table *t, uint64_t hash, tv_store_loc *out, size_t out_max) {
  size_t found = 0;
  for (size_t i = home(t, hash), n = 0; t->slots[i].loc != 0 && n < t->cap; i = next(t, i), n++) {
    if (t->slots[i].hash == hash) {
      if (found < out_max) {
        out[found] = t->slots[i].loc;
      }
      found++;
    }
  }
  return found;
}

/* in_cyclic returns 1 if |k| lies in the cyclic interval (i, j]. */
static int in_cyclic(size_t i, size_t k, size_t j) { return i <= j ? (i < k && k <= j) : (i < k || k <= j); }

/* table_delete_at empties slot |i| and shifts later members of the probe
 * run back so every remaining entry stays reachable from its home. */
static void table_delete_at(table *t, size_t i) {
  size_t j = i;
  for (;;) {
    j = next(t, j);
    if (t->slots[j].loc == 0) {
      break;
    }
    size_t k = home(t, t->slots[j].hash);
    if (in_cyclic(i, k, j)) {
      continue;
    }
    t->slots[i] = t->slots[j];
    i = j;
  }
  t->slots[i].hash = 0;
  t->slots[i].loc = 0;
  t->count--;
}

tv_status tv_index_new(size_t tokens_hint, uint64_t seed, tv_index **out) {
  tv_index *idx = calloc(1, sizeof *idx);
  TV_ENSURE(idx != NULL, TV_E_NO_MEMORY);
  size_t cap = cap_for(tokens_hint);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  /* Writer preference: a stream of readers must not starve durability
   * acknowledgements, which wait for the index update. */
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&idx->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  idx->seed = seed;
  if (table_init(&idx->tokens, cap) != TV_OK || table_init(&idx->fps, cap) != TV_OK) {
    tv_index_free(idx);
    return TV_E_NO_MEMORY;
  }
  *out = idx;
  return TV_OK;
}

void tv_index_free(tv_index *idx) {
  if (idx == NULL) {
    return;
  }
  pthread_rwlock_destroy(&idx->lock);
  table_release(&idx->tokens);
  table_release(&idx->fps);
  free(idx);
}

size_t tv_index_token_find(tv_index *idx, uint64_t hash, tv_store_loc *out, size_t out_max) {
  pthread_rwlock_rdlock(&idx->lock);
  size_t n = table_find(&idx->tokens, hash, out, out_max);
  pthread_rwlock_unlock(&idx->lock);
  return n;
}

size_t tv_index_fp_find(tv_index *idx, uint64_t hash, tv_store_loc *out, size_t out_max) {
  pthread_rwlock_rdlock(&idx->lock);
  size_t n = table_find(&idx->fps, hash, out, out_max);
  pthread_rwlock_unlock(&idx->lock);
  return n;
}

/* Lookups issued ahead of use by tv_index_token_find_many. */
#define FIND_LOOKAHEAD 8u

/* find_many looks up |num| hashes in |t| with prefetches; the caller
 * holds the read lock. */
static void find_many(const table *t, const uint64_t *hashes, size_t num, tv_store_loc *out, size_t per_max,
                      size_t *counts) {
  for (size_t i = 0; i < num && i < FIND_LOOKAHEAD; i++) {
    __builtin_prefetch(&t->slots[home(t, hashes[i])]);
  }
  for (size_t i = 0; i < num; i++) {
    if (i + FIND_LOOKAHEAD < num) {
      __builtin_prefetch(&t->slots[home(t, hashes[i + FIND_LOOKAHEAD])]);
    }
    counts[i] = table_find(t, hashes[i], out + i * per_max, per_max);
  }
}

void tv_index_token_find_many(tv_index *idx, const uint64_t *hashes, size_t num, tv_store_loc *out, size_t per_max,
                              size_t *counts) {
  pthread_rwlock_rdlock(&idx->lock);
  find_many(&idx->tokens, hashes, num, out, per_max, counts);
  pthread_rwlock_unlock(&idx->lock);
}

void tv_index_fp_find_many(tv_index *idx, const uint64_t *hashes, size_t num, tv_store_loc *out, size_t per_max,
                           size_t *counts) {
  pthread_rwlock_rdlock(&idx->lock);
  find_many(&idx->fps, hashes, num, out, per_max, counts);
  pthread_rwlock_unlock(&idx->lock);
}

size_t tv_index_token_find_w(tv_index *idx, uint64_t hash, tv_store_loc *out, size_t out_max) {
  return table_find(&idx->tokens, hash, out, out_max);
}

size_t tv_index_fp_find_w(tv_index *idx, uint64_t hash, tv_store_loc *out, size_t out_max) {
  return table_find(&idx->fps, hash, out, out_max);
}

void tv_index_prefetch(const tv_index *idx, uint64_t token_hash, uint64_t fp_hash) {
  __builtin_prefetch(&idx->tokens.slots[home(&idx->tokens, token_hash)], 1);
  if (fp_hash != 0) {
    __builtin_prefetch(&idx->fps.slots[home(&idx->fps, fp_hash)], 1);
  }
}

void tv_index_write_begin(tv_index *idx) { pthread_rwlock_wrlock(&idx->lock); }
void tv_index_write_end(tv_index *idx) { pthread_rwlock_unlock(&idx->lock); }

static int table_replace(table *t, uint64_t hash, tv_store_loc old_loc, tv_store_loc new_loc) {
  assert(new_loc != 0);
  size_t i = table_find_slot(t, hash, old_loc);
  if (i == SIZE_MAX) {
    return 0;
  }
  t->slots[i].loc = new_loc;
  return 1;
}

static int table_remove(table *t, uint64_t hash, tv_store_loc loc) {
  size_t i = table_find_slot(t, hash, loc);
  if (i == SIZE_MAX) {
    return 0;
  }
  table_delete_at(t, i);
  return 1;
}

tv_status tv_index_token_insert(tv_index *idx, uint64_t hash, tv_store_loc loc) {
  return table_insert(&idx->tokens, hash, loc);
}
int tv_index_token_replace(tv_index *idx, uint64_t hash, tv_store_loc old_loc, tv_store_loc new_loc) {
  return table_replace(&idx->tokens, hash, old_loc, new_loc);
}
int tv_index_token_remove(tv_index *idx, uint64_t hash, tv_store_loc loc) {
  return table_remove(&idx->tokens, hash, loc);
}
tv_status tv_index_fp_insert(tv_index *idx, uint64_t hash, tv_store_loc loc) {
  return table_insert(&idx->fps, hash, loc);
}
int tv_index_fp_replace(tv_index *idx, uint64_t hash, tv_store_loc old_loc, tv_store_loc new_loc) {
  return table_replace(&idx->fps, hash, old_loc, new_loc);
}
int tv_index_fp_remove(tv_index *idx, uint64_t hash, tv_store_loc loc) {
  return table_remove(&idx->fps, hash, loc);
}

tv_status tv_index_reserve(tv_index *idx, size_t tokens) {
  size_t cap = cap_for(tokens);
  if (cap > idx->tokens.cap) {
    TV_TRY(table_rehash(&idx->tokens, cap));
  }
  if (cap > idx->fps.cap) {
    TV_TRY(table_rehash(&idx->fps, cap));
  }
  return TV_OK;
}

void tv_index_get_stats(tv_index *idx, tv_index_stats *out) {
  pthread_rwlock_rdlock(&idx->lock);
  out->tokens = idx->tokens.count;
  out->fingerprints = idx->fps.count;
  out->bytes = table_bytes(&idx->tokens) + table_bytes(&idx->fps) + sizeof *idx;
  pthread_rwlock_unlock(&idx->lock);
}

uint64_t tv_index_seed(const tv_index *idx) { return idx->seed; }

static size_t table_export(const table *t, uint64_t *out, size_t out_max) {
  size_t n = 0;
  for (size_t i = 0; i < t->cap; i++) {
    if (t->slots[i].loc != 0) {
      if (n < out_max) {
        out[2 * n] = t->slots[i].hash;
        out[2 * n + 1] = t->slots[i].loc;
      }
      n++;
    }
  }
  return n;
}

size_t tv_index_token_export(const tv_index *idx, uint64_t *out, size_t out_max) {
  return table_export(&idx->tokens, out, out_max);
}

size_t tv_index_fp_export(const tv_index *idx, uint64_t *out, size_t out_max) {
  return table_export(&idx->fps, out, out_max);
}
