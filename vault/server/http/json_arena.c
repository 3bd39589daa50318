/* The per-thread jansson arena (json_arena.h). */
#include "vault/server/http/json_arena.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "vault/util/secure_mem.h"

#define ARENA_ALIGN 16u

typedef struct arena {
  char *base; /* TV_JSON_ARENA_BYTES reserved, or NULL */
  size_t used;
  int active;
} arena;

static _Thread_local arena this_thread;
static pthread_key_t release_key;
static pthread_once_t release_once = PTHREAD_ONCE_INIT;

/* At thread exit (libmicrohttpd's connection threads come and go). */
static void release(void *base) {
  tv_wipe(base, this_thread.base == base ? this_thread.used : 0);
  munmap(base, TV_JSON_ARENA_BYTES);
}

static void make_key(void) { (void)pthread_key_create(&release_key, release); }

static void reserve(arena *a) {
  if (pthread_once(&release_once, make_key) != 0) {
    return;
  }
  void *p = mmap(NULL, TV_JSON_ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                 0);
  if (p == MAP_FAILED) {
    return;
  }
  if (pthread_setspecific(release_key, p) != 0) {
    munmap(p, TV_JSON_ARENA_BYTES);
    return;
  }
  a->base = p;
}

void tv_json_arena_begin(void) {
  arena *a = &this_thread;
  if (a->base == NULL) {
    reserve(a);
  }
  a->used = 0;
  a->active = a->base != NULL;
}

void tv_json_arena_end(void) {
  arena *a = &this_thread;
  if (a->base != NULL) {
    tv_wipe(a->base, a->used); /* once for the whole scope, instead of per block */
  }
  a->used = 0;
  a->active = 0;
}

size_t tv_json_arena_used(void) { return this_thread.active ? this_thread.used : 0; }

static int in_arena(const arena *a, const void *p) {
  return a->base != NULL && (uintptr_t)p >= (uintptr_t)a->base &&
         (uintptr_t)p < (uintptr_t)a->base + TV_JSON_ARENA_BYTES;
}

void *tv_json_arena_malloc(size_t size) {
  arena *a = &this_thread;
  size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (a->active && rounded >= size && rounded <= TV_JSON_ARENA_BYTES - a->used) {
    void *p = a->base + a->used;
    a->used += rounded;
    return p;
  }
  return malloc(size);
}

/* A block of the scope's region is wiped at the scope's end; any other
 * block may hold a value: wiped now. */
void tv_json_arena_free(void *p) {
  if (p == NULL || in_arena(&this_thread, p)) {
    return;
  }
  tv_wipe(p, malloc_usable_size(p));
  free(p);
}
