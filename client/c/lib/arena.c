/* A decoded response's memory: bump-allocated from chunks, wiped and freed
 * all at once. A 1,000-item tokenize answer is ~3,000 protobuf-c
 * allocations (item, status, strings); one malloc and free each, plus the
 * per-string wipe walk, was ~20 % of the CLI's CPU in bulk tokenize. */
#include <stdlib.h>

#include "client/c/lib/client_internal.h"
#include "vault/util/secure_mem.h"

/* A 1,000-item answer decodes to ~200 KiB: several chunks, each kept
 * under glibc's mmap threshold so they come from (and go back to) the
 * heap, not one mmap and munmap per answer (seen as system time). */
#define TVC_ARENA_CHUNK_BYTES_MIN (32u * 1024u)
#define TVC_ARENA_ALIGN 16u

struct tvc_arena_chunk {
  struct tvc_arena_chunk *next;
  size_t size, used;
  _Alignas(16) unsigned char bytes[];
};

static void *arena_alloc(void *data, size_t size) {
  tvc_arena *a = data;
  size = (size + TVC_ARENA_ALIGN - 1) & ~(size_t)(TVC_ARENA_ALIGN - 1);
  struct tvc_arena_chunk *c = a->chunks;
  if (c == NULL || c->size - c->used < size) {
    size_t want = size > a->chunk_bytes ? size : a->chunk_bytes;
    c = malloc(sizeof *c + want);
    if (c == NULL) {
      return NULL;
    }
    c->next = a->chunks;
    c->size = want;
    c->used = 0;
    a->chunks = c;
  }
  void *p = c->bytes + c->used;
  c->used += size;
  return p;
}

/* protobuf-c frees only what it gives up on; the arena keeps it. */
static void arena_free(void *data, void *p) {
  (void)data;
  (void)p;
}

void tvc_arena_init(tvc_arena *a, size_t expected_bytes) {
  a->chunks = NULL;
  a->chunk_bytes = expected_bytes > TVC_ARENA_CHUNK_BYTES_MIN ? expected_bytes : TVC_ARENA_CHUNK_BYTES_MIN;
  a->allocator.alloc = arena_alloc;
  a->allocator.free = arena_free;
  a->allocator.allocator_data = a;
}

void tvc_arena_free(tvc_arena *a) {
  if (a == NULL) {
    return;
  }
  while (a->chunks != NULL) {
    struct tvc_arena_chunk *c = a->chunks;
    a->chunks = c->next;
    tv_wipe(c->bytes, c->used);
    free(c);
  }
}
