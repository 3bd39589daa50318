/* A per-thread arena for jansson's blocks while one request body is
 * parsed or one answer is built (json_decode.c, json_encode.c).
 *
 * Why: a 1,000-value request makes a jansson node per token in and per
 * result, status and string out — thousands of malloc/free pairs, each
 * free wiping its block — and profiles put a third of the server's time in
 * glibc's allocator. Inside a scope, blocks are cut from one per-thread
 * region and "freeing" one does nothing; the scope's end wipes what was
 * used once (values pass through these blocks) and starts over.
 *
 * jansson's allocator hooks are process-wide (json_set_alloc_funcs), so
 * the arena is per thread: a thread outside a scope, or a block the
 * region cannot hold, gets malloc, and such a block is wiped when freed
 * (tv_json_use_wiping_allocator, json_codec.h).
 *
 * Contract: no jansson block made inside a scope outlives it (the scope
 * owner decrefs its trees and copies text out before ending it), and
 * scopes do not nest. */
#ifndef TV_SERVER_HTTP_JSON_ARENA_H
#define TV_SERVER_HTTP_JSON_ARENA_H

#include <stddef.h>

/* The region each thread reserves at its first scope (address space;
 * pages are touched only as used) and releases when it exits. */
#define TV_JSON_ARENA_BYTES ((size_t)8 << 20)

/* tv_json_arena_begin starts the calling thread's scope (without a
 * region, if it cannot be reserved: then every block is malloc'ed). */
void tv_json_arena_begin(void);

/* tv_json_arena_end wipes what the scope used and ends it. */
void tv_json_arena_end(void);

/* jansson's hooks (installed by tv_json_use_wiping_allocator). */
void *tv_json_arena_malloc(size_t size);
void tv_json_arena_free(void *p);

/* tv_json_arena_used returns the bytes the calling thread's current scope
 * has cut from its region (tests). */
size_t tv_json_arena_used(void);

#endif
