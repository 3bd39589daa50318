/* Handling of secrets in memory: wiping that the compiler cannot remove,
 * constant-time comparison, and allocations locked against swap and
 * excluded from core dumps. */
#ifndef TV_UTIL_SECURE_MEM_H
#define TV_UTIL_SECURE_MEM_H

#include <stddef.h>

/* tv_wipe overwrites |len| bytes at |p| with zeros; never optimised away.
 * |p| may be NULL when |len| is zero. */
void tv_wipe(void *p, size_t len);

/* tv_ct_equal returns 1 if the |len| bytes at |a| and |b| are equal, else 0,
 * in time that depends only on |len|. */
int tv_ct_equal(const void *a, const void *b, size_t len);

/* tv_secure_alloc returns |len| zeroed bytes on their own pages, locked
 * against swap (best effort: mlock may be refused by RLIMIT_MEMLOCK) and
 * excluded from core dumps (MADV_DONTDUMP), or NULL if out of memory. */
void *tv_secure_alloc(size_t len);

/* tv_secure_free wipes and releases memory from tv_secure_alloc; accepts
 * NULL. |len| must be the length passed to tv_secure_alloc. */
void tv_secure_free(void *p, size_t len);

/* tv_harden_process turns off core dumps for this process (RLIMIT_CORE = 0
 * and PR_SET_DUMPABLE = 0). Returns 0 on success, -errno on failure. */
int tv_harden_process(void);

#endif
