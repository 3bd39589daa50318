#include "vault/daemon/heap_tuning.h"

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int tv_heap_tune(void) {
#if defined(__GLIBC__)
  int ok = mallopt(M_MMAP_THRESHOLD, (int)TV_HEAP_MMAP_BYTES_MIN) == 1;
  return mallopt(M_TRIM_THRESHOLD, (int)TV_HEAP_TRIM_BYTES_MIN) == 1 && ok;
#else
  return 0;
#endif
}
