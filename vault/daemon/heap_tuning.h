/* The C library heap as tokenvaultd uses it: every call allocates and frees
 * buffers of up to a few MiB (a 1,000-item tokenize's jobs are ~1.3 MiB).
 * With glibc's defaults those come from mmap or from the top of a thread's
 * heap that free() then gives back to the kernel, so the next call of the
 * same size page-faults and has the kernel zero every page again: ~20 % of
 * the server's CPU under batch tokenize (issue 15's profile). */
#ifndef TV_DAEMON_HEAP_TUNING_H
#define TV_DAEMON_HEAP_TUNING_H

/* Allocations below this come from the heap, never their own mapping
 * (the largest per-call buffer is a few MiB). */
#define TV_HEAP_MMAP_BYTES_MIN (8u << 20)
/* Free memory at the top of a heap is kept up to this much per heap
 * instead of returned to the kernel (a handful of calls in flight). */
#define TV_HEAP_TRIM_BYTES_MIN (64u << 20)

/* tv_heap_tune sets both thresholds (fixed: glibc's sliding ones stop
 * sliding once set). Returns 1 if the C library took them, 0 if not
 * (another libc: nothing changes, only speed). Call once, at start. */
int tv_heap_tune(void);

#endif
