#include "vault/store/crc32c.h"

#include <pthread.h>
#include <string.h>

/* Reflected Castagnoli polynomial. */
#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[256];
static int crc_use_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) {
      c = (c & 1u) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
    }
    crc_table[i] = c;
  }
#if defined(__x86_64__)
  __builtin_cpu_init();
  crc_use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

uint32_t tv_crc32c_portable(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_once, crc_init);
  const uint8_t *p = data;
  uint32_t c = ~crc;
  for (size_t i = 0; i < len; i++) {
    c = crc_table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
  }
  return ~c;
}

#if defined(__x86_64__)
/* Only this function may use SSE4.2: the rest of the file (and program)
 * must still run on a CPU without it. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("sse4.2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("sse4.2")
#endif
#include <nmmintrin.h>

static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len) {
  uint64_t c = ~crc;
  while (len >= 8) {
    uint64_t word;
    memcpy(&word, p, sizeof word); /* unaligned-safe load */
    c = _mm_crc32_u64(c, word);
    p += 8;
    len -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (len > 0) {
    c32 = _mm_crc32_u8(c32, *p);
    p++;
    len--;
  }
  return ~c32;
}
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

uint32_t tv_crc32c_extend(uint32_t crc, const void *data, size_t len) {
  pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
  if (crc_use_hw) {
    return crc_hw(crc, data, len);
  }
#endif
  return tv_crc32c_portable(crc, data, len);
}

int tv_crc32c_hw_available(void) {
  pthread_once(&crc_once, crc_init);
  return crc_use_hw;
}
