#include "vault/util/secure_mem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

void tv_wipe(void *p, size_t len) {
  if (len == 0) {
    return;
  }
  /* explicit_bzero is a function the optimiser must treat as observable. */
  explicit_bzero(p, len);
}

int tv_ct_equal(const void *a, const void *b, size_t len) {
  const volatile uint8_t *x = a;
  const volatile uint8_t *y = b;
  uint8_t diff = 0;
  for (size_t i = 0; i < len; i++) {
    diff |= (uint8_t)(x[i] ^ y[i]);
  }
  /* Map 0 -> 1 and 1..255 -> 0 without a branch on the secret. */
  return (int)(1u & (((unsigned)diff - 1u) >> 8));
}

static size_t page_round_up(size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return (len + page - 1) / page * page;
}

void *tv_secure_alloc(size_t len) {
  if (len == 0) {
    return NULL;
  }
  size_t mapped = page_round_up(len);
  void *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return NULL;
  }
  /* Both are best effort: a refused mlock still leaves the memory usable,
   * and the process also disables core dumps as a whole. */
  (void)madvise(p, mapped, MADV_DONTDUMP);
  (void)mlock(p, mapped);
  return p;
}

void tv_secure_free(void *p, size_t len) {
  if (p == NULL) {
    return;
  }
  size_t mapped = page_round_up(len);
  tv_wipe(p, mapped);
  (void)munlock(p, mapped);
  (void)munmap(p, mapped);
}

int tv_harden_process(void) {
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    return -errno;
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return -errno;
  }
  return 0;
}
